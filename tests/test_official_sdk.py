"""The official Genesys Cloud Python SDK, unchanged, against a real server of this project."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import PureCloudPlatformClientV2 as genesys
from conftest import CATALOG, INGESTED_AT, MakeOrg, close_official, new_client, running_server
from examples import WORKED_EXAMPLES

from billable.rules.instants import Period
from billable.wire.writers import api_body
from billable.service.reports import billable_usage_report
from billable.store.organizations import get_organization

START, END = datetime(2026, 10, 1, tzinfo=timezone.utc), datetime(2026, 11, 1, tzinfo=timezone.utc)


def as_sent(report: genesys.BillingUsageReport) -> dict:
    """The SDK's model back in the wire's shape, to compare with the service's body."""
    return {
        "id": report.id,
        "name": report.name,
        "startDate": report.start_date.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "endDate": report.end_date.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "status": report.status,
        "usages": [
            {"name": u.name, "totalUsage": u.total_usage,
             "resources": [{"name": r.name, "date": r.date.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"} for r in u.resources]}
            for u in report.usages
        ],
        "selfUri": report.self_uri,
    }


def test_login_and_report(make_org: MakeOrg) -> None:
    org = make_org("hourly")
    org.ingest([e for example in WORKED_EXAMPLES for e in example()[1]])
    client_id, secret = new_client(org.database, org.id, "billing:subscription:view")
    with org.database.read() as conn:
        report = billable_usage_report(conn, get_organization(conn, org.id), Period.parse("2026-10-01", "2026-11-01"),
                                       CATALOG, INGESTED_AT)
    expected = api_body(org.id, report)
    # A zero budget: the first answer is InProgress, as Genesys Cloud may answer.
    with running_server(org.database.url, report_budget_seconds="0") as base:
        official_client = genesys.ApiClient(host=base).get_client_credentials_token(client_id, secret)
        api = genesys.BillingApi(official_client)
        first = api.get_billing_reports_billableusage(START, END)
        assert first.status == "InProgress" and first.usages == []
        for _ in range(100):
            answer = api.get_billing_reports_billableusage(START, END)
            if answer.status == "Complete":
                break
            time.sleep(0.1)
        close_official(official_client)
    # The official SDK reads what Genesys Cloud defines; a resource's hours (this service's own,
    # under the hourly model) it leaves aside, and reads the rest unchanged.
    assert any("hours" in r for u in expected["usages"] for r in u["resources"])
    genesys_shape = {**expected, "usages": [{**u, "resources": [{"name": r["name"], "date": r["date"]}
                                                                  for r in u["resources"]]} for u in expected["usages"]]}
    assert as_sent(answer) == genesys_shape
    assert {u.name for u in answer.usages} >= {"cx1", "cx2", "edge"}


def test_wrong_secret_is_refused(make_org: MakeOrg) -> None:
    org = make_org()
    client_id, _ = new_client(org.database, org.id)
    with running_server(org.database.url) as base:
        refusing = genesys.ApiClient(host=base)
        try:
            refusing.get_client_credentials_token(client_id, "wrong")
        except Exception as error:  # the SDK raises its own ApiException on the 401
            assert "401" in str(error) or "invalid_client" in str(error)
        else:
            raise AssertionError("a wrong secret was accepted")
        finally:
            close_official(refusing)


def test_organizations_me(make_org: MakeOrg) -> None:
    """Genesys Cloud's ``GET /api/v2/organizations/me``, read by the official SDK with a token of
    any permission (here: ingestion only)."""
    org = make_org("concurrent")
    client_id, secret = new_client(org.database, org.id, "billing:usage:ingest")
    with running_server(org.database.url) as base:
        api_client = genesys.ApiClient(host=base).get_client_credentials_token(client_id, secret)
        try:
            me = genesys.OrganizationApi(api_client).get_organizations_me()
        finally:
            close_official(api_client)
    assert (me.id, me.name, me.state, me.self_uri) == (org.id, org.organization.name, "active",
                                                       "/api/v2/organizations/me")
