"""The SDK against a real server of this project, and against fake transports for failures."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import httpx
import PureCloudPlatformClientV2 as genesys
import pytest
from conftest import CATALOG, INGESTED_AT, MakeOrg, Org, close_official, event, new_client, running_server
from examples import WORKED_EXAMPLES

from billable.client import (
    ApiClient,
    ApiConnectionError,
    ApiStatusError,
    ApiTimeoutError,
    AsyncApiClient,
    AsyncBillingApi,
    AuthenticationError,
    BadRequestError,
    BillingApi,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ReportNotReadyError,
    ServerError,
    format_date,
)
from billable.client._regions import login_host
from billable.rules.instants import Period
from billable.wire.text import csv_text
from billable.wire.writers import api_body
from billable.service.reports import billable_usage_report
from billable.store.organizations import get_organization

ALL_EVENTS = [e for example in WORKED_EXAMPLES for e in example()[1]]
TOKEN = {"access_token": "t", "token_type": "bearer", "expires_in": 86400}
REPORT = {"startDate": "2026-10-01T00:00:00.000Z", "endDate": "2026-11-01T00:00:00.000Z", "status": "Complete",
          "usages": [{"name": "cx1", "totalUsage": "12.50", "resources": [{"name": "a", "date": "2026-10-02T08:00:00.000Z"}]}]}


def service_body(org: Org) -> dict:
    with org.database.read() as conn:
        report = billable_usage_report(conn, get_organization(conn, org.id), Period.parse("2026-10-01", "2026-11-01"),
                                       CATALOG, INGESTED_AT)
    return api_body(org.id, report), csv_text(report)  # type: ignore[return-value]


# --- against a real server ---------------------------------------------------------------

def test_login_report_waiting_and_ingestion(make_org: MakeOrg) -> None:
    org = make_org("hourly")
    client_id, secret = new_client(org.database, org.id)
    with running_server(org.database.url, report_budget_seconds="0") as base:
        with ApiClient(host=base).login_client_credentials(client_id, secret) as client:
            api = BillingApi(client)
            assert api.post_billing_events(ALL_EVENTS + ALL_EVENTS[:5], batch_size=7).model_dump() == {
                "accepted": len(ALL_EVENTS), "duplicates": 5}
            first = api.get_billing_reports_billableusage("2026-10-01", "2026-11-01", wait=False)
            assert first.status == "InProgress" and first.usages == []
            report = api.get_billing_reports_billableusage(date(2026, 10, 1), datetime(2026, 11, 1), wait_timeout=30)
        expected, expected_csv = service_body(org)
        assert report.status == "Complete"
        assert report.to_dict() == expected
        assert report.to_csv() == expected_csv
        hourly = next(u for u in report.usages if u.name == "cx2")
        assert hourly.total_usage == Decimal("10.50") and isinstance(hourly.total_usage, Decimal)  # gus 8.5 h, bob 2 h
        assert report.usages[0].resources[0].date.tzinfo is not None

        async def async_report() -> dict:
            async with AsyncApiClient(host=base) as client:
                await client.login_client_credentials(client_id, secret)
                fetched = await AsyncBillingApi(client).get_billing_reports_billableusage("2026-10-01", "2026-11-01")
                return fetched.to_dict()

        assert asyncio.run(async_report()) == expected

        # The same report through the official Genesys SDK agrees field for field.
        official_client = genesys.ApiClient(host=base).get_client_credentials_token(client_id, secret)
        theirs = genesys.BillingApi(official_client).get_billing_reports_billableusage(
            datetime(2026, 10, 1, tzinfo=timezone.utc), datetime(2026, 11, 1, tzinfo=timezone.utc))
        close_official(official_client)
        assert (theirs.id, theirs.name, theirs.status, theirs.self_uri) == (report.id, report.name, report.status,
                                                                          report.self_uri)
        assert theirs.start_date == report.start_date and theirs.end_date == report.end_date
        assert [(u.name, Decimal(u.total_usage), [(r.name, r.date) for r in u.resources]) for u in theirs.usages] == [
            (u.name, u.total_usage, [(r.name, r.date) for r in u.resources]) for u in report.usages]


def test_errors_from_a_real_server(make_org: MakeOrg) -> None:
    org = make_org()
    reader = new_client(org.database, org.id, "billing:subscription:view")
    with running_server(org.database.url) as base:
        with pytest.raises(AuthenticationError) as refused, ApiClient(host=base) as refusing:
            refusing.login_client_credentials(reader[0], "wrong")
        assert refused.value.status == 401 and refused.value.body["error"] == "invalid_client"
        client = ApiClient(host=base).login_client_credentials(*reader)
        with pytest.raises(PermissionDeniedError) as denied:
            BillingApi(client).post_billing_events([event("user.login", "a", "2026-10-01T00:00:00Z")])
        assert denied.value.body["code"] == "missing.any.permissions" and denied.value.correlation_id
        with pytest.raises(BadRequestError) as bad:
            BillingApi(client).get_billing_reports_billableusage("2026-11-01", "2026-10-01")
        assert bad.value.body["details"][0]["fieldName"] == "endDate"
        with pytest.raises(NotFoundError):
            client.request("GET", "/api/v2/nowhere")
        client.close()


# --- against fake transports -------------------------------------------------------------

class Script:
    """A transport answering from a list, recording what it was asked."""

    def __init__(self, *answers: httpx.Response | Exception):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.times: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.times.append(time.monotonic())
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json=TOKEN)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def api_calls(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path != "/oauth/token"]


def client_for(script: Script, **settings: object) -> ApiClient:
    return ApiClient(host="http://billing.test", transport=httpx.MockTransport(script), **settings).login_client_credentials(
        "id", "secret")


def test_retry_after_is_honoured() -> None:
    script = Script(httpx.Response(429, headers={"Retry-After": "1"}, json={"code": "too.many.requests.retry.after"}),
                    httpx.Response(200, json=REPORT))
    report = BillingApi(client_for(script)).get_billing_reports_billableusage("2026-10-01", "2026-11-01")
    assert report.usages[0].total_usage == Decimal("12.50")
    first, second = script.times[-2:]
    assert 1.0 <= second - first < 1.5


def test_a_retry_after_longer_than_allowed_is_not_waited_for() -> None:
    script = Script(httpx.Response(429, headers={"Retry-After": "120"}, json={"message": "slow down"}))
    started = time.monotonic()
    with pytest.raises(RateLimitError) as limited:
        BillingApi(client_for(script, max_retry_after=10)).get_billing_reports_billableusage("2026-10-01", "2026-11-01")
    assert time.monotonic() - started < 0.5 and limited.value.status == 429


def test_backoff_then_give_up() -> None:
    script = Script(*[httpx.Response(503, json={"message": "busy"}) for _ in range(4)])
    client = client_for(script, max_retries=3)
    client.retry.backoff_base = 0.05
    with pytest.raises(ServerError) as failed:
        BillingApi(client).get_billing_reports_billableusage("2026-10-01", "2026-11-01")
    assert failed.value.status == 503 and len(script.api_calls()) == 4
    gaps = [b - a for a, b in zip(script.times[1:], script.times[2:])]
    assert all(g >= 0.02 for g in gaps) and gaps[-1] > gaps[0]  # growing, with jitter in [50%, 100%]


def test_total_retry_time_bounds_the_retries() -> None:
    script = Script(*[httpx.Response(502) for _ in range(10)])
    client = client_for(script, max_retries=10, max_retry_time=2.0)
    # Waits of 0.1-0.2, 0.2-0.4, 0.4-0.8 s, ...: some fit in 2 s, ten never do (51 s at the least). With
    # a budget of 0.5 s, a first attempt slowed by a busy machine left no room for a retry (seen once in CI).
    client.retry.backoff_base = 0.2
    with pytest.raises(ServerError):
        BillingApi(client).get_billing_reports_billableusage("2026-10-01", "2026-11-01")
    assert 2 <= len(script.api_calls()) < 10


def test_connection_errors_are_retried_for_a_get_only() -> None:
    script = Script(httpx.ConnectError("refused"), httpx.Response(200, json=REPORT))
    client = client_for(script)
    client.retry.backoff_base = 0.01
    assert BillingApi(client).get_billing_reports_billableusage("2026-10-01", "2026-11-01").status == "Complete"
    assert len(script.api_calls()) == 2
    unsafe = Script(httpx.ConnectError("refused"))
    with pytest.raises(ApiConnectionError):
        client_for(unsafe).request("POST", "/api/v2/something", json={})
    assert len(unsafe.api_calls()) == 1


def test_one_login_again_on_401() -> None:
    script = Script(httpx.Response(401, json={"code": "bad.credentials"}), httpx.Response(200, json=REPORT),
                    httpx.Response(401, json={"code": "bad.credentials"}), httpx.Response(401, json={"code": "bad.credentials"}))
    api = BillingApi(client_for(script))
    assert api.get_billing_reports_billableusage("2026-10-01", "2026-11-01").status == "Complete"
    logins = [r for r in script.requests if r.url.path == "/oauth/token"]
    assert len(logins) == 2 and logins[0].headers["Authorization"].startswith("Basic ")
    with pytest.raises(AuthenticationError):  # a second 401 in a row is final
        api.get_billing_reports_billableusage("2026-10-01", "2026-11-01")
    assert len([r for r in script.requests if r.url.path == "/oauth/token"]) == 3


def test_a_login_refused_for_a_moment_is_retried_sync_and_async() -> None:
    """A 503 (the service's database restarting) or 429 at login is waited out like any
    request; a 401 is final at once; retries run out like any request's."""
    def transport(*answers: httpx.Response) -> tuple[httpx.MockTransport, list[float]]:
        pending, times = list(answers), []

        def answer(request: httpx.Request) -> httpx.Response:
            times.append(time.monotonic())
            return pending.pop(0)
        return httpx.MockTransport(answer), times

    def busy() -> httpx.Response:
        return httpx.Response(503, headers={"Retry-After": "0.2"}, json={"code": "service.unavailable", "message": "busy"})

    mock, times = transport(busy(), httpx.Response(429, headers={"Retry-After": "0"}), httpx.Response(200, json=TOKEN))
    client = ApiClient(host="http://billing.test", transport=mock).login_client_credentials("id", "secret")
    assert client.access_token == TOKEN["access_token"] and len(times) == 3 and times[1] - times[0] >= 0.2

    async def log_in_async() -> str | None:
        mock, _ = transport(busy(), httpx.Response(200, json=TOKEN))
        async with AsyncApiClient(host="http://billing.test", transport=mock) as client:
            await client.login_client_credentials("id", "secret")
            return client.access_token

    assert asyncio.run(log_in_async()) == TOKEN["access_token"]
    mock, times = transport(httpx.Response(401, json={"error": "invalid_client", "description": "wrong"}))
    with pytest.raises(AuthenticationError) as refused:
        ApiClient(host="http://billing.test", transport=mock).login_client_credentials("id", "wrong")
    assert refused.value.status == 401 and len(times) == 1
    mock, times = transport(busy(), busy(), busy())
    with pytest.raises(AuthenticationError) as gave_up:
        ApiClient(host="http://billing.test", transport=mock, max_retries=2).login_client_credentials("id", "secret")
    assert gave_up.value.status == 503 and len(times) == 3


def test_token_renewed_before_it_expires() -> None:
    script = Script(httpx.Response(200, json=REPORT), httpx.Response(200, json=REPORT))
    client = client_for(script, token_refresh_margin=86_400 + 1)  # always "about to expire"
    BillingApi(client).get_billing_reports_billableusage("2026-10-01", "2026-11-01")
    assert [r.url.path for r in script.requests] == ["/oauth/token", "/oauth/token",
                                                     "/api/v2/billing/reports/billableusage"]


def test_in_progress_until_the_wait_timeout() -> None:
    in_progress = {**REPORT, "status": "InProgress", "usages": []}
    script = Script(*[httpx.Response(200, json=in_progress) for _ in range(20)])
    started = time.monotonic()
    with pytest.raises(ReportNotReadyError):
        BillingApi(client_for(script)).get_billing_reports_billableusage("2026-10-01", "2026-11-01", wait_timeout=1.2)
    assert 1.1 <= time.monotonic() - started < 2.0 and 2 <= len(script.api_calls()) <= 4


@pytest.mark.parametrize(("status", "kind"), [(400, BadRequestError), (401, AuthenticationError), (403, PermissionDeniedError),
                                              (404, NotFoundError), (429, RateLimitError), (500, ServerError)])
def test_each_status_has_its_error(status: int, kind: type[ApiStatusError]) -> None:
    body = {"message": "m", "code": "c", "status": status, "contextId": "ctx", "details": [], "errors": []}
    script = Script(*[httpx.Response(status, json=body, headers={"ININ-Correlation-Id": "ctx"}) for _ in range(3)])
    with pytest.raises(kind) as raised:
        client_for(script, max_retries=0).request("GET", "/x")
    assert raised.value.status == status and raised.value.body == body and raised.value.correlation_id == "ctx"


def test_timeouts_really_apply() -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(silent.accept()[0]), daemon=True).start()
    host = f"http://127.0.0.1:{silent.getsockname()[1]}"
    started = time.monotonic()
    with pytest.raises(ApiTimeoutError):
        ApiClient(host=host, timeout=0.3, max_retries=0, access_token="t").request("GET", "/x")
    assert 0.25 <= time.monotonic() - started < 2.0
    silent.close()
    for connection in accepted:
        connection.close()


def test_region_hosts() -> None:
    assert ApiClient(region="eu_west_1").host == "https://api.mypurecloud.ie"
    assert ApiClient(region="eu_west_1").login_host == "https://login.mypurecloud.ie"
    assert ApiClient(region="ap_southeast_2").login_host == "https://login.mypurecloud.com.au"
    assert login_host("https://api.usw2.pure.cloud") == "https://login.usw2.pure.cloud"
    assert login_host("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    assert login_host("https://api.example.com") == "https://api.example.com"
    with pytest.raises(ValueError):
        ApiClient(region="mars")
    with pytest.raises(ValueError):
        ApiClient()


@pytest.mark.parametrize("value", [
    datetime(2026, 10, 1, tzinfo=timezone.utc),
    datetime(2026, 10, 1),
    datetime(2026, 10, 1, 2, tzinfo=timezone(timedelta(hours=2))),
    date(2026, 10, 1),
    "2026-10-01",
    "2026-10-01T00:00:00Z",
    "2026-10-01T00:00:00.000+00:00",
    "2026-09-30T19:00:00-05:00",
])
def test_every_date_input_is_sent_alike(value: object) -> None:
    assert format_date(value) == "2026-10-01T00:00:00.000Z"  # type: ignore[arg-type]
    script = Script(httpx.Response(200, json=REPORT))
    BillingApi(client_for(script)).get_billing_reports_billableusage(value, "2026-11-01")  # type: ignore[arg-type]
    assert script.api_calls()[0].url.params["startDate"] == "2026-10-01T00:00:00.000Z"


def test_unknown_fields_do_not_break_the_models() -> None:
    script = Script(httpx.Response(200, json={**REPORT, "currency": "EUR"}))
    report = BillingApi(client_for(script)).get_billing_reports_billableusage("2026-10-01", "2026-11-01")
    assert report.to_dict()["currency"] == "EUR"


def test_the_sdk_needs_no_server_package() -> None:
    import subprocess
    import sys

    code = ("import sys; sys.modules['sqlalchemy'] = None; sys.modules['fastapi'] = None; sys.modules['numpy'] = None; "
            "import billable.client as c; print(len(c.__all__))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) > 10


def test_methods_beyond_genesys(make_org: MakeOrg) -> None:
    org = make_org("concurrent")
    org.ingest(ALL_EVENTS)
    client_id, secret = new_client(org.database, org.id, "billing:subscription:view")
    with running_server(org.database.url) as base:
        with ApiClient(host=base).login_client_credentials(client_id, secret) as client:
            api = BillingApi(client)
            concurrent = api.get_billing_reports_concurrentusage("2026-10-01", "2026-11-01")
            explained = api.get_billing_reports_billableusage_explain("2026-10-01", "2026-11-01", "ann")
            catalog = api.get_billing_products()
            billable = api.get_billing_reports_billableusage("2026-10-01", "2026-11-01")

        async def async_calls() -> tuple:
            async with AsyncApiClient(host=base) as aclient:
                await aclient.login_client_credentials(client_id, secret)
                aapi = AsyncBillingApi(aclient)
                return (await aapi.get_billing_reports_concurrentusage("2026-10-01", "2026-11-01"),
                        await aapi.get_billing_reports_billableusage_explain("2026-10-01", "2026-11-01", "ann"),
                        await aapi.get_billing_products())

        assert asyncio.run(async_calls()) == (concurrent, explained, catalog)
    totals = {u.name: u.total_usage for u in billable.usages}
    assert {p.name: p.peak for p in concurrent.products if p.peak} == {k: int(v) for k, v in totals.items()
                                                                        if k in ("cx1", "cx2", "cx3")}
    assert len(concurrent.products[0].days) == 31
    assert explained.billed and explained.families[0].charge == "cx3" and explained.display_name == "ann@example.com"
    assert {p.name: p.billed_as for p in catalog.entities}["cx2"] == "concurrent"
