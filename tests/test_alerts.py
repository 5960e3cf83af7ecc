"""Usage alerts delivered as signed webhooks (issue 38), through real server processes, to a
real HTTP receiver on the loopback, verified by a Standard Webhooks verifier."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from conftest import CATALOG, event, new_client, running_server
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks import Webhook

from billable.client import ApiClient, BillingApi
from billable.rules.alerts import HYSTERESIS, RESOLVED, TRIGGERED, crossing, parse_alert
from billable.rules.errors import InvalidInput
from billable.rules.instants import MINUTE_MS, system_now
from billable.rules.subscriptions import billing_period
from billable.rules.webhooks import check_endpoint_url, headers, new_secret
from billable.store.database import Database

FAST = {"alerts_poll_seconds": "0.1", "alerts_quiet_seconds": "0.3", "webhook_retry_seconds": "[0.3, 0.3, 0.3]"}


class Receiver:
    """An HTTP server on the loopback that keeps every request it is sent and answers each
    with the next status of ``answers`` (200 once they are used), after ``delays`` seconds."""

    def __init__(self, answers: list[int] | None = None, delays: list[float] | None = None):
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.answers, self.delays = list(answers or []), list(delays or [])
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802  # the standard library's name
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver.lock:
                    receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    status = receiver.answers.pop(0) if receiver.answers else 200
                    delay = receiver.delays.pop(0) if receiver.delays else 0.0
                time.sleep(delay)
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/billing-alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, seconds: float = 30.0) -> list[tuple[dict[str, str], bytes]]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.05)
        raise AssertionError(f"{len(self.requests)} request(s) in {seconds} s, {count} awaited")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def receiving(**kwargs: Any) -> Iterator[Receiver]:
    receiver = Receiver(**kwargs)
    try:
        yield receiver
    finally:
        receiver.close()


def api(base: str, credentials: tuple[str, str]) -> httpx.Client:
    token = httpx.post(f"{base}/oauth/token", data={"grant_type": "client_credentials"}, auth=credentials,
                       timeout=30).json()
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=30)


def crossing_batch(users: int) -> list[dict[str, Any]]:
    """``users`` users of cx1 logged in during the running billing period."""
    now = system_now()
    at = max(billing_period(0, now).start, now - MINUTE_MS)
    return ([event("license.assigned", f"u{i}", at - 60 * MINUTE_MS, id=uuid.uuid4().hex, product="cx1")
             for i in range(users)] + [event("user.login", f"u{i}", at, id=f"login-{i}") for i in range(users)])


def set_up(client: httpx.Client, receiver: Receiver, thresholds: list[dict[str, str]]) -> str:
    """A webhook to ``receiver`` and an alert on cx1 with ``thresholds``; the webhook's secret."""
    made = client.post("/api/v2/billing/webhooks", json={"url": receiver.url, "description": "test"})
    assert made.status_code == 200, made.text
    alert = client.post("/api/v2/billing/alerts", json={"name": "cx1", "product": "cx1", "thresholds": thresholds})
    assert alert.status_code == 200, alert.text
    return str(made.json()["secret"])


def verified(secret: str, request: tuple[dict[str, str], bytes]) -> dict[str, Any]:
    """The message a Standard Webhooks verifier accepts (it raises on a bad signature)."""
    found_headers, body = request
    return dict(Webhook(secret).verify(body, found_headers))


def test_a_crossing_is_signed_retried_with_its_id_and_a_void_resolves_it(database: Database) -> None:
    org_id = _new_org(database)
    credentials = new_client(database, org_id)
    with receiving(answers=[500, 500]) as receiver, running_server(database.url, **FAST) as base, \
            api(base, credentials) as client:
        secret = set_up(client, receiver, [{"quantity": "2"}])
        assert client.post("/api/v2/billing/events", json=crossing_batch(3)).status_code == 200
        tries = receiver.wait_for(3)
        assert len({h["webhook-id"] for h, _ in tries}) == 1  # the same message, three times
        message = verified(secret, tries[-1])
        assert message["type"] == TRIGGERED
        assert message["data"]["product"] == "cx1" and message["data"]["value"] == "3"
        assert message["data"]["threshold"] == {"index": 0, "quantity": "2", "line": "2"}
        assert message["data"]["organization"]["id"] == org_id
        webhook = client.get("/api/v2/billing/webhooks").json()["entities"][0]
        assert "secret" not in webhook
        listed = client.get(f"/api/v2/billing/webhooks/{webhook['id']}/deliveries")
        assert listed.status_code == 200, listed.text
        (delivery,) = listed.json()["entities"]
        assert delivery["id"] == tries[0][0]["webhook-id"] and delivery["state"] == "delivered"
        assert [a["status"] for a in delivery["attempts"]] == [500, 500, 200]
        (alert,) = client.get("/api/v2/billing/alerts").json()["entities"]
        assert [(line["product"], line["state"], line["value"]) for line in alert["lines"]] == [("cx1", "triggered", "3")]

        # Two logins voided: 1 user, under the line less its hysteresis: resolved, once.
        voids = [{"source": "urn:test", "id": f"login-{i}", "reason": "test"} for i in (0, 1)]
        assert client.post("/api/v2/billing/events/voids", json=voids).status_code == 200
        resolved = receiver.wait_for(4)[3]
        assert verified(secret, resolved)["type"] == RESOLVED
        assert resolved[0]["webhook-id"] != tries[0][0]["webhook-id"]
        time.sleep(1.0)
        assert len(receiver.requests) == 4  # told once each
        # Sent again on request, with the same id.
        again = client.post(f"/api/v2/billing/webhooks/{webhook['id']}/deliveries/{delivery['id']}/redeliver")
        assert again.status_code == 202
        assert receiver.wait_for(5)[4][0]["webhook-id"] == delivery["id"]


def test_a_server_killed_after_the_commit_delivers_after_restart(database: Database) -> None:
    """Killed once after the commit, before any evaluation; once while the receiver is being
    sent the message: the next server delivers it, with the same id."""
    org_id = _new_org(database)
    credentials = new_client(database, org_id)
    with receiving(delays=[6.0]) as receiver:
        with running_server(database.url, alerts_poll_seconds="0") as base, api(base, credentials) as client:
            secret = set_up(client, receiver, [{"quantity": "1"}])
            assert client.post("/api/v2/billing/events", json=crossing_batch(1)).status_code == 200
            os.kill(base.pid, signal.SIGKILL)
        assert receiver.requests == []
        with running_server(database.url, webhook_lease_seconds="2", **FAST) as base:
            first = receiver.wait_for(1)[0]  # the receiver holds it for 6 s
            os.kill(base.pid, signal.SIGKILL)
        with running_server(database.url, webhook_lease_seconds="2", **FAST) as base:
            second = receiver.wait_for(2)[1]
            assert verified(secret, second)["type"] == TRIGGERED
            assert second[0]["webhook-id"] == first[0]["webhook-id"]
            with api(base, credentials) as client:
                webhook_id = client.get("/api/v2/billing/webhooks").json()["entities"][0]["id"]
                deliveries = _wait(lambda: client.get(f"/api/v2/billing/webhooks/{webhook_id}/deliveries").json()[
                    "entities"], lambda found: found and found[0]["state"] == "delivered")
            assert [a["status"] for a in deliveries[0]["attempts"]] == [200]  # the killed one was never answered


def test_two_processes_deliver_each_message_once(database: Database) -> None:
    org_id = _new_org(database)
    credentials = new_client(database, org_id)
    with receiving() as receiver, running_server(database.url, workers="2", alerts_poll_seconds="0.05") as base, \
            ApiClient(host=base).login_client_credentials(*credentials) as client:
        sdk = BillingApi(client)  # this project's SDK, this time
        webhook = sdk.post_billing_webhooks(receiver.url, "two processes")
        alert = sdk.post_billing_alerts({"product": "cx1", "thresholds": [{"quantity": str(n)} for n in range(1, 7)]})
        sdk.post_billing_events(crossing_batch(6))
        requests = receiver.wait_for(6)
        time.sleep(2.0)
        assert len(receiver.requests) == 6
        assert len({h["webhook-id"] for h, _ in requests}) == 6
        lines = sorted(json.loads(body)["data"]["threshold"]["line"] for _, body in requests)
        assert lines == [str(n) for n in range(1, 7)]
        delivered = _wait(lambda: sdk.get_billing_webhook_deliveries(webhook.id),
                          lambda found: all(d.state == "delivered" for d in found))
        assert sorted(d.id for d in delivered) == sorted(h["webhook-id"] for h, _ in requests)
        assert all(len(d.attempts) == 1 for d in delivered)
        (listed,) = sdk.get_billing_alerts()
        assert listed.id == alert.id and [line.state for line in listed.lines] == ["triggered"] * 6
        sdk.delete_billing_alert(alert.id)
        sdk.delete_billing_webhook(webhook.id)
        assert sdk.get_billing_alerts() == [] and sdk.get_billing_webhooks() == []


def _new_org(database: Database) -> str:
    from billable.service.organizations import create_organization

    with database.write() as conn:
        return create_organization(conn, f"alerts {uuid.uuid4().hex[:6]}", "named", system_now()).id


def _wait(read: Callable[[], Any], done: Callable[[Any], bool], seconds: float = 20.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = read()
        if done(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


# --- the rules, alone -------------------------------------------------------------------

def test_a_signature_is_what_a_standard_webhooks_verifier_accepts_and_nothing_else() -> None:
    secret, body = new_secret(), b'{"type":"alert.triggered"}'
    sent = headers(secret, "msg_1", int(time.time()), body)
    assert Webhook(secret).verify(body, sent) == {"type": "alert.triggered"}
    with pytest.raises(Exception):
        Webhook(new_secret()).verify(body, sent)
    with pytest.raises(Exception):
        Webhook(secret).verify(body + b" ", sent)


def test_only_https_or_the_loopback_and_every_problem_of_an_alert_is_named() -> None:
    for url in ("https://hooks.example.com/x", "http://127.0.0.1:9/x", "http://localhost/x"):
        assert check_endpoint_url(url) == url
    for bad in ("http://hooks.example.com/x", "ftp://127.0.0.1/", "https://user:pw@example.com/", "", 7, "https://a b"):
        with pytest.raises(InvalidInput):
            check_endpoint_url(bad)
    with pytest.raises(InvalidInput) as refused:
        parse_alert({"product": "cx9", "measure": "money", "thresholds": [{"quantity": "0"}, {"percent": "x"},
                                                                          {"quantity": "1", "percent": "2"}]}, CATALOG)
    assert {p.field_name for p in refused.value.problems} == {
        "product", "measure", "thresholds[0]", "thresholds[1]", "thresholds[2]"}


@given(values=st.lists(st.decimals(min_value=0, max_value=20, places=2), min_size=1, max_size=60),
       line=st.decimals(min_value=1, max_value=15, places=1))
def test_crossings_alternate_and_a_value_on_the_line_is_told_once(values: list[Decimal], line: Decimal) -> None:
    triggered, told = False, []
    for value in values:
        change = crossing(triggered, value, line)
        if change is not None:
            told.append(change)
            triggered = change == TRIGGERED
        assert triggered == (value >= line) or line * (1 - HYSTERESIS) <= value < line
    assert all(a != b for a, b in zip(told, told[1:]))  # never twice the same in a row
    triggered, told = False, []
    for value in [line, line - line * HYSTERESIS / 2] * 10:  # on the line, then just under it, ten times
        change = crossing(triggered, value, line)
        if change is not None:
            told.append(change)
            triggered = change == TRIGGERED
    assert told == [TRIGGERED]


def test_every_product_on_its_own_a_share_of_the_prepaid_and_a_new_month(database: Database) -> None:
    """Evaluated in this process: an alert on every product tells each product's crossing; a
    percentage has no line until a subscription prepays the product, and one when it does; the
    turn of the month resolves what was crossed; an evaluation with nothing new tells nothing."""
    from conftest import Clock

    from billable.rules.instants import parse_instant
    from billable.service.billing import Billing

    clock = Clock(parse_instant("2026-11-20T12:00:00Z"))
    billing = Billing(database, CATALOG, clock)
    org = billing.create_organization(f"months {uuid.uuid4().hex[:6]}", "named")
    hook = billing.create_webhook(org.id, b'{"url": "http://127.0.0.1:9/hook"}')
    every = billing.create_alert(org.id, b'{"thresholds": [{"quantity": "2"}]}', "test")
    share = billing.create_alert(org.id, b'{"product": "cx1", "thresholds": [{"percent": "50"}]}', "test")
    users = {"ann": "cx1", "bob": "cx1", "cid": "cx2"}
    billing.ingest(org.id, json.dumps(
        [event("license.assigned", u, "2026-11-01T00:00:00Z", id=uuid.uuid4().hex, product=p) for u, p in users.items()] +
        [event("user.login", u, "2026-11-10T08:00:00Z", id=uuid.uuid4().hex) for u in users] +
        [event("user.logout", u, "2026-11-10T17:00:00Z", id=uuid.uuid4().hex) for u in users]).encode(), 100)

    def told() -> list[tuple[str, str, str | None]]:
        found = [json.loads(d.message.body) for d in billing.deliveries(org.id, hook.id)]
        return sorted((m["type"], m["data"]["alertId"], m["data"]["threshold"]["line"]) for m in found)

    def lines(alert_id: str) -> list[tuple[str, bool, str]]:
        (alert,) = [a for a in billing.alerts(org.id) if a.id == alert_id]
        return [(s.product, s.triggered, s.line) for s in alert.states]

    assert billing.evaluate_alerts(clock.now, 300_000, org.id) == 1  # cx1 reached 2; cx2 is at 1
    assert told() == [(TRIGGERED, every.id, "2")]
    assert lines(every.id) == [("cx1", True, "2"), ("cx2", False, "2")]
    assert lines(share.id) == [("cx1", False, "")]  # no subscription: no line
    clock.now += 60_000
    assert billing.evaluate_alerts(clock.now, 300_000, org.id) == 0  # nothing moved
    billing.set_subscription(org.id, json.dumps({
        "currency": "EUR", "subscriptionType": "PREPAY", "contractEffectiveDate": "2026-01-01",
        "usages": [{"name": "cx1", "partNumber": "CX1", "prepayQuantity": "4", "overagePrice": "1"}]}).encode(), "test")
    clock.now += 60_000
    assert billing.evaluate_alerts(clock.now, 300_000, org.id) == 1  # 50% of 4 prepaid: 2, reached
    assert lines(share.id) == [("cx1", True, "2")]
    clock.now = parse_instant("2026-12-01T00:00:10Z")
    assert billing.evaluate_alerts(clock.now, 300_000, org.id) == 2  # a new month: below every line
    assert told() == sorted([(RESOLVED, every.id, "2"), (RESOLVED, share.id, "2"), (TRIGGERED, every.id, "2"),
                             (TRIGGERED, share.id, "2")])  # December: nobody logged in yet
    assert not any(triggered for alert in (every, share) for _, triggered, _ in lines(alert.id))


def test_a_burst_is_evaluated_once_it_holds_still_or_when_it_has_moved_too_long() -> None:
    from billable.service.alerts import Pacing
    from billable.store.alerts import DueCheck

    pacing = Pacing(quiet_ms=2_000, max_lag_ms=10_000)
    moving = [(now, DueCheck("org", 0, seq)) for now, seq in ((0, 1), (1_000, 2), (2_500, 3), (4_000, 4))]
    assert [pacing.ready(check, now) for now, check in moving] == [False, False, False, False]
    assert not pacing.ready(DueCheck("org", 0, 4), 5_999) and pacing.ready(DueCheck("org", 0, 4), 6_000)  # still 2 s
    pacing.evaluated("org")
    steady = [pacing.ready(DueCheck("org", 0, seq), now) for seq, now in enumerate(range(7_000, 19_000, 1_000))]
    assert steady.index(True) == 10  # moving every second: evaluated 10 s after it was first seen moving


def test_the_limits_of_alerts_and_webhooks_at_them_and_one_past(database: Database) -> None:
    from billable.service.billing import Billing

    billing = Billing(database, CATALOG, system_now)
    org = billing.create_organization(f"limits {uuid.uuid4().hex[:6]}", "named")
    ten = [{"quantity": str(n)} for n in range(1, 11)]
    for _ in range(100):
        billing.create_alert(org.id, json.dumps({"thresholds": ten}).encode(), "test")
    with pytest.raises(InvalidInput, match="at most 100 alerts"):
        billing.create_alert(org.id, b'{"thresholds": [{"quantity": "1"}]}', "test")
    with pytest.raises(InvalidInput) as refused:
        parse_alert({"thresholds": [*ten, {"quantity": "11"}]}, CATALOG)
    assert refused.value.problems[0].field_name == "thresholds"
    longest = "https://hooks.example.com/" + "x" * (2000 - len("https://hooks.example.com/"))
    for number in range(10):
        billing.create_webhook(org.id, json.dumps({"url": longest if number == 0 else f"{longest[:100]}{number}",
                                                   "description": "d" * 200}).encode())
    with pytest.raises(InvalidInput, match="at most 10 webhooks"):
        billing.create_webhook(org.id, b'{"url": "https://hooks.example.com/"}')
    for bad in ({"url": longest + "x"}, {"url": "https://hooks.example.com/", "description": "d" * 201}):
        with pytest.raises(InvalidInput):
            billing.create_webhook(org.id, json.dumps(bad).encode())


def test_a_slow_receiver_never_slows_ingestion(database: Database) -> None:
    """The receiver takes 5 s to answer each message: batches go on being acknowledged at
    their own pace meanwhile, and the message is delivered all the same."""
    org_id = _new_org(database)
    credentials = new_client(database, org_id)
    with receiving(delays=[5.0]) as receiver, running_server(database.url, **FAST) as base, \
            api(base, credentials) as client:
        set_up(client, receiver, [{"quantity": "1"}])
        assert client.post("/api/v2/billing/events", json=crossing_batch(1)).status_code == 200
        receiver.wait_for(1)  # being sent: the receiver holds it for 5 s
        took = []
        for number in range(10):
            batch = [event("user.login", f"v{number}-{i}", system_now() - MINUTE_MS, id=uuid.uuid4().hex)
                     for i in range(200)]
            began = time.monotonic()
            assert client.post("/api/v2/billing/events", json=batch).status_code == 200
            took.append(time.monotonic() - began)
        assert max(took) < 1.0, took
        webhook_id = client.get("/api/v2/billing/webhooks").json()["entities"][0]["id"]
        delivered = _wait(lambda: client.get(f"/api/v2/billing/webhooks/{webhook_id}/deliveries").json()["entities"],
                          lambda found: found and found[0]["state"] == "delivered")
        assert delivered[0]["attempts"][0]["tookMs"] >= 5000
