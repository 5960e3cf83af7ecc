"""A flood of anonymous logins with wrong secrets leaves ingestion and reports as fast as
without it, and failed logins are limited per client id and per address. On SQLite and
PostgreSQL, each with a database of its own (the flood's failed logins are counted there)."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
from conftest import Clock, MakeClient, MakeOrg, event, migrated_with_client, new_client, running_server
from fastapi.testclient import TestClient


REPORT = "/api/v2/billing/reports/billableusage"
OCTOBER = {"startDate": "2026-10-01T00:00:00.000Z", "endDate": "2026-11-01T00:00:00.000Z"}
LOGIN = {"grant_type": "client_credentials"}
FLOOD_CLIENTS = 32
FLOOD_SECONDS = 8.0
MEASURED_SECONDS = 6.0  # from the flood's start: its hashing, then its refusals


def timed_ms(calls: tuple[Callable[[], httpx.Response], ...], seconds: float) -> tuple[list[Timing], int]:
    """The times of each call, made in turn for ``seconds``; and how often each was made."""
    took: list[list[float]] = [[] for _ in calls]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for call, times in zip(calls, took):
            began = time.perf_counter()
            answer = call()
            times.append(time.perf_counter() - began)
            assert answer.status_code == 200, answer.text
    return [Timing(times) for times in took], len(took[0])


class Timing:
    """The median, the mean and the 90th percentile of some durations, in milliseconds: a
    request held up now and then (behind a login's hashing, say) shows in the last two."""

    def __init__(self, seconds: list[float]):
        self.median = statistics.median(seconds) * 1000
        self.mean = statistics.fmean(seconds) * 1000
        self.p90 = statistics.quantiles(seconds, n=10)[-1] * 1000

    def within_twice(self, quiet: Timing) -> bool:
        return self.median <= 2 * quiet.median and self.mean <= 2 * quiet.mean and self.p90 <= 2 * quiet.p90

    def __repr__(self) -> str:
        return f"{self.median:.1f} ms (mean {self.mean:.1f}, p90 {self.p90:.1f})"


def test_a_flood_of_wrong_secrets_slows_neither_ingestion_nor_reports(empty_url: str) -> None:
    client = migrated_with_client(empty_url)
    limit = 10  # the default
    with running_server(empty_url, login_failures_per_minute=str(limit), rate_limit_per_minute="100000") as base, \
            httpx.Client(base_url=base, timeout=60) as http:
        token = http.post("/oauth/token", data=LOGIN, auth=(client.client_id, client.client_secret)).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        users = iter(range(10**6))

        def batch() -> httpx.Response:
            return http.post("/api/v2/billing/events", headers=headers,
                             json=[event("user.login", f"user-{next(users)}", "2026-10-02T08:00:00Z")])

        def report() -> httpx.Response:
            return http.get(REPORT, params=OCTOBER, headers=headers)

        quiet, _ = timed_ms((batch, report), 3.0)
        flood = subprocess.Popen([sys.executable, str(Path(__file__).with_name("login_flood.py")), base,
                                  str(FLOOD_CLIENTS), str(FLOOD_SECONDS), client.client_id],
                                 stdout=subprocess.PIPE, text=True)
        assert flood.stdout is not None and flood.stdout.readline().strip() == "flooding"
        flooded, samples = timed_ms((batch, report), MEASURED_SECONDS)
        statuses = json.loads(flood.communicate(timeout=120)[0])
        print(f"\n{empty_url.split(':')[0]}: one-event batch {quiet[0]} -> {flooded[0]}, month report {quiet[1]} -> "
              f"{flooded[1]} ({samples} of each in the flood's first {MEASURED_SECONDS:.0f} s); "
              f"the flood's answers: {statuses}")
        assert flooded[0].within_twice(quiet[0]) and flooded[1].within_twice(quiet[1]), (quiet, flooded)
        # One address: after its tenth wrong secret, no secret was hashed; nothing else was answered.
        assert set(statuses) == {"401", "429"} and statuses["401"] == limit, statuses
        refused = http.post("/oauth/token", data=LOGIN, auth=(client.client_id, client.client_secret))
        assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 60
        assert refused.json()["code"] == "too.many.requests.retry.after"
        assert report().status_code == 200  # a token held before is still good


def from_address(client: TestClient, address: str) -> TestClient:
    """A client of the same app whose requests come from ``address``."""
    return TestClient(client.app, client=(address, 50_000), raise_server_exceptions=False)


def test_failed_logins_are_limited_per_client_id_and_per_address(make_org: MakeOrg, make_client: MakeClient) -> None:
    org = make_org()
    clock = Clock(1_800_000_000_000)
    app = make_client(clock, login_failures_per_minute=3, login_refusal_pause_seconds=0)
    ann, bob = new_client(org.database, org.id), new_client(org.database, org.id)
    here, there, elsewhere = (f"10.{n}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}" for n in (1, 2, 3))

    def log_in(address: str, client_id: str, secret: str) -> httpx.Response:
        return from_address(app, address).post("/oauth/token", data=LOGIN, auth=(client_id, secret))

    for attempt in range(3):  # at the limit
        assert log_in(here, ann[0], "wrong").status_code == 401
        clock.now += 1000
    for client_id, secret in (bob, ann):  # one past it: the address, whatever it names, right or wrong
        refused = log_in(here, client_id, secret)
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "57", refused.text
        assert "3 failed logins a minute" in refused.json()["message"]
    assert log_in(there, ann[0], ann[1]).status_code == 429  # the client id, from another address
    assert log_in(there, bob[0], bob[1]).status_code == 200  # neither
    for attempt in range(3):  # unknown client ids are counted as well
        assert log_in(elsewhere, f"nobody-{attempt}", "wrong").status_code == 401
    assert log_in(elsewhere, bob[0], bob[1]).status_code == 429
    clock.now += 57_000  # the first failure has left the window; two remain
    assert log_in(here, ann[0], ann[1]).status_code == 200
    assert log_in(there, ann[0], "wrong").status_code == 401  # the client id's third failure in the window
    assert log_in(there, ann[0], ann[1]).status_code == 429


def test_a_refused_login_is_answered_after_a_pause(make_org: MakeOrg, make_client: MakeClient) -> None:
    org = make_org()
    app = make_client(login_failures_per_minute=1, login_refusal_pause_seconds=0.5)
    address = f"10.9.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    client = from_address(app, address)
    client_id, secret = new_client(org.database, org.id)
    assert client.post("/oauth/token", data=LOGIN, auth=(client_id, "wrong")).status_code == 401
    began = time.perf_counter()
    assert client.post("/oauth/token", data=LOGIN, auth=(client_id, secret)).status_code == 429
    assert time.perf_counter() - began >= 0.5
