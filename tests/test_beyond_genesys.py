"""The concurrent usage report, explained charges and the catalog, on both databases."""

from __future__ import annotations

from collections import Counter
from typing import Any

from conftest import CATALOG, MakeClient, MakeOrg, bearer, event, new_client
from hypothesis import HealthCheck, given, settings
from reference import reference_concurrent_usage, reference_explanation, reference_report
from test_engine_properties import USERS, load_scenario, scenarios

from billable.rules.catalog import LicensingModel
from billable.rules.explanation import NO_LICENSE, NOT_LOGGED_IN, UNKNOWN_USER
from billable.rules.instants import Period, parse_instant
from billable.rules.report import hours_total
from billable.service.explanations import explain_user
from billable.service.reports import billable_usage_report, concurrent_usage_report
from billable.store.database import Database
from billable.store.organizations import get_organization


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios())
def test_concurrent_usage_equals_reference_and_the_report(database: Database, scenario: Any) -> None:
    org, arrival, model, period, now = load_scenario(database, scenario)
    with database.read() as conn:
        engine = concurrent_usage_report(conn, get_organization(conn, org.id), period, CATALOG, now)
    assert engine == reference_concurrent_usage(arrival, CATALOG, model, period, now)
    # The period's peak is the concurrent totalUsage of the billable report.
    as_concurrent = reference_report(arrival, CATALOG, LicensingModel.CONCURRENT, period, now)
    for product in engine.products:
        usage = as_concurrent.usage(product.name)
        assert product.peak == (int(usage.total_usage) if usage else 0)
        assert all(day.peak <= product.peak for day in product.days)  # a day is inside the period
    if model is LicensingModel.HOURLY:  # the days' hours add up to what the hourly model bills
        as_hourly = reference_report(arrival, CATALOG, model, period, now)
        for product in engine.products:
            usage = as_hourly.usage(product.name)
            assert hours_total(sum(day.logged_in_ms for day in product.days)) == (usage.total_usage if usage else "0.00")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios())
def test_explanations_agree_with_the_report(database: Database, scenario: Any) -> None:
    org, arrival, _, period, now = load_scenario(database, scenario)
    with database.read() as conn:
        organization = get_organization(conn, org.id)
        report = billable_usage_report(conn, organization, period, CATALOG, now)
        explained = {u: explain_user(conn, org.id, u, period, CATALOG, now) for u in [*USERS, "nobody"]}
    for user, explanation in explained.items():
        assert explanation == reference_explanation(arrival, CATALOG, period, now, user)
    # Every charge explained is a resource of the report, and every resource is explained.
    charged: Counter[str] = Counter()
    for explanation in explained.values():
        for family in explanation.families:
            if family.product is not None:
                usage = report.usage(family.product)
                assert usage is not None
                assert any(r.name == explanation.display_name and r.date == explanation.first_billable_login
                           for r in usage.resources)
                charged[family.product] += 1
    user_products = {p.name for p in CATALOG.user_products}
    assert charged == Counter({u.name: len(u.resources) for u in report.usages if u.name in user_products})
    assert explained["nobody"].reason == UNKNOWN_USER


def test_worked_explanations(make_org: MakeOrg) -> None:
    org = make_org()
    org.ingest([
        event("license.assigned", "ann", "2026-09-01T00:00:00Z", product="cx1", email="ann@example.com"),
        event("license.unassigned", "ann", "2026-10-15T09:00:00Z", product="cx1"),
        event("license.assigned", "ann", "2026-10-15T09:00:00Z", product="cx3"),
        event("user.login", "ann", "2026-10-02T08:00:00Z"),
        event("user.logout", "ann", "2026-10-02T12:00:00Z"),
        event("license.assigned", "dee", "2026-09-01T00:00:00Z", product="cx3"),
        event("user.login", "cid", "2026-10-03T08:00:00Z"),
        event("user.logout", "cid", "2026-10-03T09:00:00Z"),
    ])
    period, now = Period.parse("2026-10-01", "2026-11-01"), parse_instant("2026-11-15T00:00:00Z")
    with org.database.read() as conn:
        ann = explain_user(conn, org.id, "ann", period, CATALOG, now)
        dee = explain_user(conn, org.id, "dee", period, CATALOG, now)
        cid = explain_user(conn, org.id, "cid", period, CATALOG, now)
        zed = explain_user(conn, org.id, "zed", period, CATALOG, now)
        # A report names ann by her email: explaining that name explains her.
        by_email = explain_user(conn, org.id, "ann@example.com", period, CATALOG, now)
    assert by_email == ann
    base = ann.families[0]
    assert (base.family, base.product, base.reason) == ("base", "cx3", None)
    assert base.holding == (parse_instant("2026-10-15T09:00:00Z"), 2**63 - 1)
    assert ann.first_billable_login == parse_instant("2026-10-02T08:00:00Z") and ann.logged_in_ms == 4 * 3_600_000
    assert ann.families[1].reason == NO_LICENSE and ann.billed and ann.display_name == "ann@example.com"
    assert (dee.billed, dee.reason) == (False, NOT_LOGGED_IN)
    assert (cid.billed, cid.reason) == (False, NO_LICENSE) and cid.logged_in_ms == 3_600_000
    assert (zed.billed, zed.reason) == (False, UNKNOWN_USER)


def test_the_three_routes(make_org: MakeOrg, make_client: MakeClient) -> None:
    org = make_org("concurrent")
    events = [event("license.assigned", u, "2026-09-01T00:00:00Z", product="cx1") for u in ("u1", "u2", "u3")]
    events += [event("user.login", u, "2026-10-01T09:00:00Z") for u in ("u1", "u2", "u3")]
    events += [event("user.logout", u, "2026-10-01T11:00:00Z") for u in ("u1", "u2")]
    events += [event("user.logout", "u3", "2026-10-01T09:20:00Z")]
    org.ingest(events)
    client = make_client()
    headers = bearer(client, *new_client(org.database, org.id, "billing:subscription:view"))
    period = {"startDate": "2026-10-01", "endDate": "2026-10-03"}
    concurrent = client.get("/api/v2/billing/reports/concurrentusage", params=period, headers=headers).json()
    assert concurrent["status"] == "Complete" and concurrent["model"] == "concurrent"
    cx1 = next(p for p in concurrent["products"] if p["name"] == "cx1")
    assert cx1["peak"] == 2
    # Two users logged in 09:00–11:00 and one 09:00–09:20: 4 h 20 min on the first day.
    assert cx1["days"] == [{"date": "2026-10-01T00:00:00.000Z", "peak": 2, "minutesAtPeak": 120, "loggedInHours": "4.33"},
                           {"date": "2026-10-02T00:00:00.000Z", "peak": 0, "minutesAtPeak": 1440, "loggedInHours": "0.00"}]
    billable = client.get("/api/v2/billing/reports/billableusage", params=period, headers=headers).json()
    assert {u["name"]: u["totalUsage"] for u in billable["usages"]} == {"cx1": "2"}
    explained = client.get("/api/v2/billing/reports/billableusage/explain", params={**period, "userId": "u3"},
                           headers=headers).json()
    assert explained["billed"] and explained["families"][0]["charge"] == "cx1"
    assert explained["session"] == {"start": "2026-10-01T09:00:00.000Z", "end": "2026-10-01T09:20:00.000Z"}
    assert explained["loggedInHours"] == "0.33"
    missing = client.get("/api/v2/billing/reports/billableusage/explain", params=period, headers=headers)
    assert missing.status_code == 400 and missing.json()["details"][0]["fieldName"] == "userId"
    catalog = client.get("/api/v2/billing/products", headers=headers).json()
    by_name = {p["name"]: p for p in catalog["entities"]}
    assert catalog["total"] == 10 and by_name["cx1"]["billedAs"] == "concurrent" and by_name["cx1"]["modelApplies"]
    assert by_name["wem1"]["billedAs"] == "named" and not by_name["wem1"]["modelApplies"]
    assert by_name["edge"]["kind"] == "device"
    assert client.get("/api/v2/billing/products").status_code == 401
