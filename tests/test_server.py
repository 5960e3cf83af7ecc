"""The HTTP API through the real ASGI app, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import CATALOG, INGESTED_AT, Clock, MakeClient, MakeOrg, Org, bearer, event, new_client
from examples import WORKED_EXAMPLES

from billable.rules.instants import DAY_MS, Period, format_instant
from billable.wire.bodies import BillingUsageReport
from billable.service.organizations import PERMISSIONS
from billable.wire.writers import api_body
from billable.service.reports import billable_usage_report
from billable.store.organizations import get_organization

REPORT = "/api/v2/billing/reports/billableusage"
OCTOBER = {"startDate": "2026-10-01T00:00:00.000Z", "endDate": "2026-11-01T00:00:00.000Z"}
ALL_EVENTS = [e for example in WORKED_EXAMPLES for e in example()[1]]


def expected_body(org: Org) -> BillingUsageReport:
    with org.database.read() as conn:
        report = billable_usage_report(conn, get_organization(conn, org.id), Period.parse("2026-10-01", "2026-11-01"),
                                       CATALOG, INGESTED_AT)
    return api_body(org.id, report)


def assert_error(answer: httpx.Response, status: int, code: str) -> dict:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["code"] == code and body["status"] == status
    assert set(body) == {"message", "code", "status", "contextId", "details", "errors"}
    assert body["contextId"] == answer.headers["ININ-Correlation-Id"]
    assert "Traceback" not in answer.text
    return body


@pytest.fixture
def org_with_events(make_org):
    org = make_org("concurrent")
    org.ingest(ALL_EVENTS)
    return org


def test_token_and_report(org_with_events: Any, make_client: MakeClient) -> None:
    org, client = org_with_events, make_client()
    headers = bearer(client, *new_client(org.database, org.id))
    answer = client.get(REPORT, params=OCTOBER, headers=headers)
    assert answer.status_code == 200
    assert answer.json() == expected_body(org)
    assert answer.json()["selfUri"] == f"{REPORT}?startDate=2026-10-01T00:00:00.000Z&endDate=2026-11-01T00:00:00.000Z"


def test_a_report_is_sent_compressed_to_a_client_that_accepts_gzip(org_with_events: Any, make_client: MakeClient) -> None:
    org, client = org_with_events, make_client()
    headers = bearer(client, *new_client(org.database, org.id))
    for _ in range(2):  # computed, then served from memory
        sizes = {}
        for accepted, encoded in (("gzip, deflate", True), ("br;q=1.0, gzip;q=0.5", True), ("*", True),
                                  ("identity", False), ("gzip;q=0", False), ("", False)):
            answer = client.get(REPORT, params=OCTOBER, headers={**headers, "Accept-Encoding": accepted})
            assert answer.status_code == 200 and answer.headers["Vary"] == "Accept-Encoding"
            assert answer.headers.get("Content-Encoding") == ("gzip" if encoded else None), accepted
            # The client decodes it (a body that is not gzip would fail to): the same report either way.
            assert answer.json() == expected_body(org)
            sizes[encoded] = answer.num_bytes_downloaded
        assert sizes[True] < sizes[False] / 3


@pytest.mark.parametrize("start", ["2026-10-01T00:00:00Z", "2026-10-01T00:00:00.000Z", "2026-10-01T02:00:00+02:00",
                                   "2026-10-01T00:00:00", "2026-10-01", "2026-10-01T00:00:00+00:00"])
def test_every_date_form(start: str, org_with_events: Any, make_client: MakeClient) -> None:
    org, client = org_with_events, make_client()
    headers = bearer(client, *new_client(org.database, org.id))
    answer = client.get(REPORT, params={"startDate": start, "endDate": "2026-11-01"}, headers=headers)
    assert answer.json() == expected_body(org)


def test_token_errors(org_with_events: Any, make_client: MakeClient) -> None:
    org, client = org_with_events, make_client()
    client_id, secret = new_client(org.database, org.id)
    form = {"grant_type": "client_credentials"}
    for credentials in [(client_id, "wrong"), ("nobody", secret), ("", "")]:
        answer = client.post("/oauth/token", data=form, auth=credentials)
        assert answer.status_code == 401
        assert answer.json()["error"] == "invalid_client" and answer.json()["error_description"]
    answer = client.post("/oauth/token", data={"grant_type": "password"}, auth=(client_id, secret))
    assert answer.status_code == 400 and answer.json()["error"] == "unsupported_grant_type"
    assert_error(client.post("/oauth/token", json=form, auth=(client_id, secret)), 415, "unsupported.media.type")
    # The secret may also come in the form, as RFC 6749 allows.
    answer = client.post("/oauth/token", data={**form, "client_id": client_id, "client_secret": secret})
    assert answer.status_code == 200 and answer.json()["token_type"] == "bearer"
    assert answer.json()["expires_in"] == 86400
    assert answer.json()["scope"] == " ".join(PERMISSIONS)  # what the client holds: all of them


def test_authentication_and_permission_errors(org_with_events: Any, make_client: MakeClient) -> None:
    org, clock = org_with_events, Clock(INGESTED_AT)
    client = make_client(clock)
    assert_error(client.get(REPORT, params=OCTOBER), 401, "authentication.required")
    assert_error(client.get(REPORT, params=OCTOBER, headers={"Authorization": "Bearer nope"}), 401, "bad.credentials")
    assert_error(client.get(REPORT, params=OCTOBER, headers={"Authorization": "Basic eDp5"}), 401, "authentication.required")
    ingest_only = bearer(client, *new_client(org.database, org.id, "billing:usage:ingest"))
    body = assert_error(client.get(REPORT, params=OCTOBER, headers=ingest_only), 403, "missing.any.permissions")
    assert "billing:subscription:view" in body["message"] and "billing:subscription:read" in body["message"]
    read_only = bearer(client, *new_client(org.database, org.id, "billing:subscription:read"))
    body = assert_error(client.post("/api/v2/billing/events", json=[], headers=read_only), 403, "missing.any.permissions")
    assert "billing:usage:ingest" in body["message"]
    assert client.get(REPORT, params=OCTOBER, headers=read_only).status_code == 200
    clock.now += DAY_MS + 1  # tokens live 24 hours
    assert_error(client.get(REPORT, params=OCTOBER, headers=read_only), 401, "bad.credentials")


def test_bad_parameters(org_with_events: Any, make_client: MakeClient) -> None:
    org, client = org_with_events, make_client()
    headers = bearer(client, *new_client(org.database, org.id))
    cases = [
        ({"startDate": "2026-10-01"}, "endDate"),
        ({"endDate": "2026-10-01"}, "startDate"),
        ({"startDate": "yesterday", "endDate": "2026-10-01"}, "startDate"),
        ({"startDate": "2026-11-01", "endDate": "2026-10-01"}, "endDate"),
        ({"startDate": "2026-01-01", "endDate": "2027-01-03"}, "endDate"),
    ]
    for params, field in cases:
        body = assert_error(client.get(REPORT, params=params, headers=headers), 400, "bad.request")
        assert [d["fieldName"] for d in body["details"]] == [field]


def test_not_found_and_correlation(make_client: MakeClient) -> None:
    client = make_client()
    answer = client.get("/api/v2/nothing", headers={"ININ-Correlation-Id": "trace-me"})
    body = assert_error(answer, 404, "not.found")
    assert body["contextId"] == "trace-me"
    assert client.get("/openapi.json").headers["ININ-Correlation-Id"]


def test_ingestion(make_org: MakeOrg, make_client: MakeClient) -> None:
    org = make_org()
    client = make_client(max_body_bytes=4096, max_events=3)
    headers = bearer(client, *new_client(org.database, org.id))
    url = "/api/v2/billing/events"
    batch = ALL_EVENTS[:3]
    answer = client.post(url, json=batch, headers=headers)
    assert answer.status_code == 200 and answer.json() == {"accepted": 3, "duplicates": 0}
    answer = client.post(url, content=json.dumps(batch[:2]),
                         headers={**headers, "Content-Type": "application/cloudevents-batch+json; charset=utf-8"})
    assert answer.json() == {"accepted": 0, "duplicates": 2}
    assert_error(client.post(url, content=json.dumps(batch), headers={**headers, "Content-Type": "text/plain"}),
                 415, "unsupported.media.type")
    assert_error(client.post(url, json=ALL_EVENTS[:4], headers=headers), 413, "request.entity.too.large")
    assert_error(client.post(url, content=b"[" + b" " * 5000 + b"]", headers={**headers, "Content-Type": "application/json"}),
                 413, "request.entity.too.large")
    assert_error(client.post(url, content=b"[{", headers={**headers, "Content-Type": "application/json"}), 400, "bad.request")
    assert_error(client.post(url, json={"not": "a list"}, headers=headers), 400, "bad.request")
    bad = [event("user.login", "zed", "2026-10-03T08:00:00Z"), event("user.login", "zed", "whenever")]
    body = assert_error(client.post(url, json=bad, headers=headers), 400, "bad.request")
    assert body["details"] == [{"fieldName": "events[1].time", "errorCode": "invalid.date",
                                "message": "time must be an ISO-8601 date-time", "index": 1}]
    # Nothing of the refused batch was stored: its first event is new when sent alone.
    assert client.post(url, json=bad[:1], headers=headers).json() == {"accepted": 1, "duplicates": 0}


def test_in_progress_then_complete(org_with_events: Any, make_client: MakeClient) -> None:
    org, client = org_with_events, make_client(report_budget_seconds=0)
    headers = bearer(client, *new_client(org.database, org.id))
    first = client.get(REPORT, params=OCTOBER, headers=headers).json()
    assert first["status"] == "InProgress" and first["usages"] == []
    assert first["id"] == expected_body(org)["id"]
    for _ in range(200):
        answer = client.get(REPORT, params=OCTOBER, headers=headers).json()
        if answer["status"] == "Complete":
            break
        time.sleep(0.05)
    assert answer == expected_body(org)


def test_cache_follows_ingestion_by_http_and_by_cli(make_org: MakeOrg, make_client: MakeClient, tmp_path: Path) -> None:
    org = make_org()
    org.ingest([event("license.assigned", "ann", "2026-09-01T00:00:00Z", product="cx1"),
                event("user.login", "ann", "2026-10-02T08:00:00Z")])
    client = make_client()
    headers = bearer(client, *new_client(org.database, org.id))

    def cx_users() -> dict[str, str]:
        usages = client.get(REPORT, params=OCTOBER, headers=headers).json()["usages"]
        return {u["name"]: u["totalUsage"] for u in usages}

    assert cx_users() == {"cx1": "1"}
    assert cx_users() == {"cx1": "1"}  # served from the store
    client.post("/api/v2/billing/events", headers=headers, json=[
        event("license.assigned", "bob", "2026-09-01T00:00:00Z", product="cx1"),
        event("user.login", "bob", "2026-10-03T08:00:00Z")])
    assert cx_users() == {"cx1": "2"}
    events_file = tmp_path / "more.ndjson"
    events_file.write_text("\n".join(json.dumps(e) for e in [
        event("license.assigned", "cid", "2026-09-01T00:00:00Z", product="cx2"),
        event("user.login", "cid", "2026-10-04T08:00:00Z")]))
    program = str(Path(sys.executable).with_name("billable"))
    done = subprocess.run([program, "ingest", str(events_file), "--org", org.id], capture_output=True, text=True,
                          env={**os.environ, "BILLABLE_DATABASE_URL": org.database.url}, timeout=60)
    assert done.returncode == 0, done.stderr
    assert cx_users() == {"cx1": "2", "cx2": "1"}


def test_organizations_are_isolated(make_org: MakeOrg, make_client: MakeClient) -> None:
    first, second = make_org(), make_org()
    client = make_client()
    first_headers = bearer(client, *new_client(first.database, first.id))
    second_headers = bearer(client, *new_client(second.database, second.id))
    events = [event("license.assigned", "ann", "2026-09-01T00:00:00Z", product="cx3", id="same-1"),
              event("user.login", "ann", "2026-10-02T08:00:00Z", id="same-2")]
    assert client.post("/api/v2/billing/events", json=events, headers=first_headers).json()["accepted"] == 2
    assert client.get(REPORT, params=OCTOBER, headers=second_headers).json()["usages"] == []
    # The same keys are new in the second organization, and change nothing in the first.
    assert client.post("/api/v2/billing/events", json=events[:1], headers=second_headers).json()["accepted"] == 1
    assert [u["name"] for u in client.get(REPORT, params=OCTOBER, headers=first_headers).json()["usages"]] == ["cx3"]
    assert client.get(REPORT, params=OCTOBER, headers=second_headers).json()["usages"] == []


def test_rate_limit(make_org: MakeOrg, make_client: MakeClient) -> None:
    org = make_org()
    clock = Clock(INGESTED_AT)
    client = make_client(clock, rate_limit_per_minute=5)
    headers = bearer(client, *new_client(org.database, org.id))
    for second in range(5):
        clock.now = INGESTED_AT + second * 1000
        assert client.get(REPORT, params=OCTOBER, headers=headers).status_code == 200
    clock.now = INGESTED_AT + 10_000
    answer = client.get(REPORT, params=OCTOBER, headers=headers)
    body = assert_error(answer, 429, "too.many.requests.retry.after")
    assert answer.headers["Retry-After"] == "50"  # the first request leaves the window at 60 s
    assert "50" in body["message"]
    clock.now = INGESTED_AT + 60_000
    assert client.get(REPORT, params=OCTOBER, headers=headers).status_code == 200
    other = bearer(client, *new_client(org.database, org.id))  # limits are per token
    assert client.get(REPORT, params=OCTOBER, headers=other).status_code == 200


CONCURRENT = "/api/v2/billing/reports/concurrentusage"


def comparable(answer: httpx.Response) -> tuple:
    """An answer without what differs between two requests: the correlation id."""
    headers = {k: v for k, v in answer.headers.items() if k.lower() != "inin-correlation-id"}
    body = answer.json()
    if isinstance(body, dict):
        body.pop("contextId", None)
    return answer.status_code, headers, body


def test_the_route_below_the_framework_answers_as_the_framework_does(org_with_events: Any,
                                                                     make_client: MakeClient) -> None:
    """A plain report request is answered by report_route.py; the same request with a
    parameter the route does not know goes through the framework's route. Both answer alike,
    for a report, compressed or not, and for every refusal."""
    org = org_with_events
    clock = Clock(INGESTED_AT)
    client = make_client(clock, rate_limit_per_minute=40)
    allowed = bearer(client, *new_client(org.database, org.id))
    no_permission = bearer(client, *new_client(org.database, org.id, "billing:usage:ingest"))
    cases = [(path, headers) for path in (REPORT, CONCURRENT) for headers in (
        allowed, {**allowed, "Accept-Encoding": "gzip"}, {**allowed, "Accept-Encoding": "gzip;q=0"},
        no_permission, {"Authorization": "Bearer not-a-token"}, {"Authorization": "bearer  " + allowed["Authorization"][7:]})]
    for path, headers in cases:
        plain = client.get(path, params=OCTOBER, headers=headers)
        framework = client.get(path, params={**OCTOBER, "pageSize": "1"}, headers=headers)
        assert comparable(plain) == comparable(framework), (path, headers)
        assert plain.status_code in (200, 401, 403), plain.text
    clock.now += 1000
    statuses = [client.get(REPORT, params=OCTOBER, headers=allowed).status_code for _ in range(40)]
    assert statuses[-1] == 429 and statuses.count(200) < 40  # the token's limit is reached ...
    refused = client.get(REPORT, params={**OCTOBER, "pageSize": "1"}, headers=allowed)
    assert comparable(refused) == comparable(client.get(REPORT, params=OCTOBER, headers=allowed))  # ... both ways


def test_the_route_below_the_framework_passes_on_what_it_does_not_answer(org_with_events: Any,
                                                                         make_client: MakeClient) -> None:
    """report_route.py in front of an app that answers 599: what it answers never reaches
    that app; everything else does, untouched."""
    from fastapi.testclient import TestClient
    from starlette.responses import PlainTextResponse

    from billable.server.report_route import ReportRoute

    org = org_with_events
    client = make_client()
    headers = bearer(client, *new_client(org.database, org.id))
    state = client.app.state.server  # type: ignore[attr-defined]  # the app create_app made
    route = TestClient(ReportRoute(PlainTextResponse("the framework", status_code=599), state))
    answer = route.get(REPORT, params=OCTOBER, headers=headers)
    assert answer.status_code == 200 and answer.json() == expected_body(org)
    assert route.get(CONCURRENT, params=OCTOBER, headers={**headers, "Accept-Encoding": "gzip"}).json()["status"] == "Complete"
    assert route.get(REPORT, params=OCTOBER, headers={"Authorization": "Bearer unknown"}).status_code == 401
    for as_of in ("2026-10-20", format_instant(INGESTED_AT)):  # before the organization, and at its now
        asked = {**OCTOBER, "asOf": as_of}
        below = route.get(REPORT, params=asked, headers=headers)
        framework = client.get(REPORT, params={**asked, "x": "1"}, headers=headers)
        assert below.status_code != 599 and comparable(below)[::2] == comparable(framework)[::2], below.text
    passed_on = [
        route.get(REPORT, params={**OCTOBER, "asOf": "2026-10-20T"}, headers=headers),
        route.get(REPORT, params={**OCTOBER, "x": "1"}, headers=headers),
        route.get(REPORT, params={"startDate": OCTOBER["startDate"]}, headers=headers),
        route.get(REPORT, params=[*OCTOBER.items(), ("startDate", OCTOBER["startDate"])], headers=headers),
        route.get(REPORT, params={**OCTOBER, "endDate": "2026-11-01\n"}, headers=headers),
        route.get(REPORT, params={**OCTOBER, "endDate": "2026-13-01"}, headers=headers),
        route.get(REPORT, params={**OCTOBER, "endDate": "2026-09-01"}, headers=headers),
        route.get(REPORT, params=OCTOBER),
        route.get(REPORT, params=OCTOBER, headers={"Authorization": "Basic abc"}),
        route.post(REPORT, params=OCTOBER, headers=headers),
        route.get(REPORT + "/explain", params=OCTOBER, headers=headers),
    ]
    assert [answer.status_code for answer in passed_on] == [599] * len(passed_on)


def test_unexpected_errors_hide_their_trace(empty_url: str, caplog: pytest.LogCaptureFixture) -> None:
    from fastapi.testclient import TestClient

    from billable.server import Settings, create_app

    # A database nobody migrated: every query fails inside the server.
    with TestClient(create_app(Settings(database_url=empty_url)), raise_server_exceptions=False) as client:
        answer = client.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=("a", "b"))
        body = assert_error(answer, 500, "internal.server.error")
    assert "sqlalchemy" not in answer.text.lower() and "select" not in answer.text.lower()
    assert body["contextId"] in caplog.text  # the log has the trace, under the same id


def test_openapi_describes_every_route(make_client: MakeClient) -> None:
    document = make_client().get("/openapi.json").json()
    paths = document["paths"]
    assert set(paths) >= {"/oauth/token", REPORT, "/api/v2/billing/events", "/api/v2/billing/events/voids",
                          "/api/v2/billing/periods", REPORT + "/amendments"}
    report = paths[REPORT]["get"]
    assert {p["name"]: p["required"] for p in report["parameters"]} == {"startDate": True, "endDate": True,
                                                                        "asOf": False}
    assert {"200", "400", "401", "403", "429"} <= set(report["responses"])
    assert report["responses"]["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert "HTTPBearer" in document["components"]["securitySchemes"]


def test_tokens_are_stored_hashed_and_forgotten_after_expiry(make_org: MakeOrg, make_client: MakeClient) -> None:
    from sqlalchemy import select

    from billable.store.tables import access_tokens, oauth_clients

    org, clock = make_org(), Clock(INGESTED_AT)
    client = make_client(clock)
    client_id, secret = new_client(org.database, org.id)
    token = bearer(client, client_id, secret)["Authorization"].split()[1]
    with org.database.read() as conn:
        stored = conn.execute(select(access_tokens.c.token_hash).where(access_tokens.c.client_id == client_id)).scalars().all()
        secret_hash = conn.execute(select(oauth_clients.c.secret_hash).where(oauth_clients.c.client_id == client_id)).scalar_one()
    assert stored and token not in stored and all(len(h) == 64 for h in stored)
    assert secret not in secret_hash and secret_hash.startswith("scrypt$")
    clock.now += DAY_MS + 1
    bearer(client, client_id, secret)  # a later login clears the tokens that expired
    with org.database.read() as conn:
        left = conn.execute(select(access_tokens.c.expires_at).where(access_tokens.c.client_id == client_id)).scalars().all()
    assert len(left) == 1 and left[0] > clock.now


def test_a_report_token_remembered_by_the_process_still_ends(make_org: MakeOrg, make_client: MakeClient) -> None:
    """The report route answers a token it checked before without looking it up on its own
    (service/access.py): the token still expires, and its client's revocation or the
    token's removal, made past this process, refuses the next request."""
    from sqlalchemy import delete

    from billable.service.access import token_hash
    from billable.service.organizations import revoke_client
    from billable.store.tables import access_tokens

    org, clock = make_org(), Clock(INGESTED_AT)
    client = make_client(clock)
    params = {"startDate": "2026-10-01", "endDate": "2026-11-01"}
    ids = [new_client(org.database, org.id) for _ in range(3)]
    expiring, revoked, removed = (bearer(client, client_id, secret) for client_id, secret in ids)
    for headers in (expiring, revoked, removed):
        assert client.get(REPORT, params=params, headers=headers).status_code == 200
        assert client.get(REPORT, params=params, headers=headers).status_code == 200  # from the held grant
    with org.database.write() as conn:
        revoke_client(conn, ids[1][0], clock.now)
        conn.execute(delete(access_tokens).where(
            access_tokens.c.token_hash == token_hash(removed["Authorization"].split()[1])))
    for headers in (revoked, removed):
        assert_error(client.get(REPORT, params=params, headers=headers), 401, "bad.credentials")
    # A grant held without the route's permission is not answered 403 before the token is confirmed.
    ingest_only = new_client(org.database, org.id, "billing:usage:ingest")
    headers = bearer(client, *ingest_only)
    assert client.get(REPORT, params=params, headers=headers).status_code == 403
    with org.database.write() as conn:
        revoke_client(conn, ingest_only[0], clock.now)
    assert_error(client.get(REPORT, params=params, headers=headers), 401, "bad.credentials")
    assert client.get(REPORT, params=params, headers=expiring).status_code == 200
    clock.now += DAY_MS  # the token's lifetime: expired at this instant
    assert_error(client.get(REPORT, params=params, headers=expiring), 401, "bad.credentials")


def test_openapi_event_schema_follows_the_catalog(make_client: MakeClient) -> None:
    document = make_client(max_events=500).get("/openapi.json").json()
    schema = document["paths"]["/api/v2/billing/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert schema["maxItems"] == 500
    variants = {v["properties"]["type"]["enum"][0]: v for v in schema["items"]["oneOf"]}
    assert set(variants) == {"user.login", "user.logout", "license.assigned", "license.unassigned", "device.active",
                             "user.updated"}
    product = variants["license.assigned"]["properties"]["data"]["properties"]["product"]
    assert product["enum"] == [p.name for p in CATALOG.user_products]
    assert variants["device.active"]["properties"]["data"]["required"] == ["deviceType"]


def test_the_nul_character_is_refused_everywhere(org_with_events: Any, make_client: MakeClient) -> None:
    """Found by schemathesis: PostgreSQL text cannot hold NUL, and it reached a query as a 500."""
    client = make_client()
    answer = client.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=("a\x00b", "secret"))
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"
    headers = bearer(client, *new_client(org_with_events.database, org_with_events.id))
    batch = [event("user.login", "ann", "2026-10-02T08:00:00Z", source="\x00"),
             event("user.login", "a\x00n", "2026-10-02T08:00:00Z")]
    body = assert_error(client.post("/api/v2/billing/events", json=batch, headers=headers), 400, "bad.request")
    assert {d["fieldName"] for d in body["details"]} >= {"events[0].source", "events[1].subject"}
    explained = client.get(f"{REPORT}/explain", params={**OCTOBER, "userId": "a\x00n"}, headers=headers)
    assert_error(explained, 400, "bad.request")
