"""A bounded soak: mixed ingestion and reports against one server process, with its memory
and latency compared between the start (after a warm-up) and the end: no growth.

``BILLABLE_SOAK_SECONDS`` sets the length (default 20; docs/reliability.md has a 300 s run).
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from pathlib import Path

import httpx
from conftest import MakeOrg, event, new_client, running_server

from billable.rules.instants import format_instant
from billable.store.database import WAL_LIMIT_BYTES, Database

SECONDS = float(os.environ.get("BILLABLE_SOAK_SECONDS", "20"))
USERS = 40
BEGIN = 1_577_923_200_000  # 2020-01-02T00:00Z: a 300 s run stays years short of now
# An hour a round: the log's latest event passes a week every 168 rounds (a few seconds), so
# that sealing weeks, and reports reading sealed weeks, run all along from the warm-up on. With
# rounds of minutes, the first week was sealed once, 20-30 s in: a step of memory the
# allocator kept (the seal's peak, since bounded) that fell inside or outside the run by
# the machine's speed.
ROUND_MS = 3_600_000
WINDOW_ROUNDS = 20  # reports cover the last 20 rounds: the work per request stays the same
ROUTES = ("/api/v2/billing/reports/billableusage", "/api/v2/billing/reports/concurrentusage",
          "/api/v2/billing/reports/billableusage/explain")


def sessions(round_number: int) -> list[dict]:
    """One five-minute session of every user, each round an hour after the last."""
    at = BEGIN + round_number * ROUND_MS
    return [e for u in range(USERS) for e in (event("user.login", f"u{u}", at + u * 1000),
                                              event("user.logout", f"u{u}", at + u * 1000 + 300_000))]


def private_memory(pid: int) -> int:
    """Resident memory of the process's own (anonymous) pages: the database file that SQLite
    maps into memory is left out; those pages are the operating system's cache of the file."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no RssAnon")


def wal_size(database: Database) -> int:
    """The size of SQLite's write-ahead log file (0 on PostgreSQL)."""
    path = Path(f"{database.engine.url.database}-wal")
    return path.stat().st_size if not database.is_postgresql and path.exists() else 0


def recent(rounds: int) -> dict[str, str]:
    """The period of the last rounds ingested."""
    end = BEGIN + max(rounds, WINDOW_ROUNDS) * ROUND_MS
    return {"startDate": format_instant(end - WINDOW_ROUNDS * ROUND_MS), "endDate": format_instant(end)}


def test_no_growth_under_mixed_load(make_org: MakeOrg, database: Database) -> None:
    org = make_org("concurrent")
    org.ingest([event("license.assigned", f"u{u}", "2019-12-01T00:00:00Z", product="cx1") for u in range(USERS)])
    client_id, secret = new_client(database, org.id)
    latencies: list[tuple[float, float]] = []  # (when, seconds)
    memory: list[tuple[float, int]] = []
    wal: list[int] = []
    failures: list[str] = []
    stop = threading.Event()
    ingested = [0]
    # The report desk keeps the bodies it served, up to its budget (128 MiB by default,
    # tests/test_report_desk.py): each request here is of a new period, so at the default
    # the held bodies would grow all along, by design. With 1 MiB they reach the budget in
    # the warm-up, and what grows after it is not theirs.
    with running_server(database.url, rate_limit_per_minute="1000000", report_budget_seconds="30",
                        report_memory_mib="1") as base:
        token = httpx.post(f"{base}/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        began = time.monotonic()

        def ingester() -> None:
            with httpx.Client(timeout=60) as http:
                round_number = 0
                while not stop.is_set():
                    answer = http.post(f"{base}/api/v2/billing/events", json=sessions(round_number), headers=headers)
                    if answer.status_code != 200 or answer.json()["accepted"] != 2 * USERS:
                        failures.append(answer.text)
                    round_number += 1
                    ingested[0] = round_number

        def reader() -> None:
            with httpx.Client(timeout=60) as http:
                step = 0
                while not stop.is_set():
                    route = ROUTES[step % len(ROUTES)]
                    params = recent(ingested[0]) | ({"userId": f"u{step % USERS}"} if route.endswith("explain") else {})
                    sent = time.monotonic()
                    answer = http.get(f"{base}{route}", params=params, headers=headers)
                    latencies.append((sent - began, time.monotonic() - sent))
                    if answer.status_code != 200:
                        failures.append(answer.text)
                    step += 1

        threads = [threading.Thread(target=ingester), threading.Thread(target=reader), threading.Thread(target=reader)]
        for thread in threads:
            thread.start()
        while (elapsed := time.monotonic() - began) < SECONDS:
            memory.append((elapsed, private_memory(base.pid)))
            wal.append(wal_size(database))
            time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(t.is_alive() for t in threads)

    assert failures == []
    assert max(wal) <= WAL_LIMIT_BYTES + 2**20, max(wal)
    quarter = SECONDS / 4
    start_memory = max(rss for when, rss in memory if quarter <= when < 2 * quarter)  # after the warm-up
    end_memory = max(rss for when, rss in memory if when >= 3 * quarter)
    assert end_memory - start_memory < 10 * 2**20, (start_memory, end_memory)
    early = [s for when, s in latencies if quarter <= when < 2 * quarter]
    late = [s for when, s in latencies if when >= 3 * quarter]
    assert len(early) >= 10 and len(late) >= 10
    p95 = lambda values: statistics.quantiles(values, n=20)[-1]  # noqa: E731
    assert p95(late) <= 2 * p95(early) + 0.05, (p95(early), p95(late))
    print(f"soak {SECONDS:.0f} s: {len(latencies)} requests, memory {start_memory / 2**20:.0f} → "
          f"{end_memory / 2**20:.0f} MiB, p95 {p95(early) * 1000:.0f} → {p95(late) * 1000:.0f} ms, "
          f"write-ahead log at most {max(wal) / 2**20:.1f} MiB")
