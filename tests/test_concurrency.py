"""Several clients ingest and read at once through two server processes on one database.

Every batch holds ten new users: first their cx1 licenses, then their logins, then their
logouts, so a report that saw part of a batch would count a number of users that is not a
multiple of ten. Each batch is sent by two clients at once, through different processes.
Checked: each event is accepted exactly once over all answers and stored once; no report
ever counts part of a batch; no report is older than an acknowledged batch (a reader
notes what was acknowledged before it asks, and must see at least that); nothing hangs.
"""

from __future__ import annotations

import threading
import time

import httpx
from conftest import MakeOrg, event, new_client, running_server
from sqlalchemy import func, select

from billable.store.database import Database
from billable.store.tables import events as events_table

REPORT = "/api/v2/billing/reports/billableusage"
OCTOBER = {"startDate": "2026-10-01T00:00:00.000Z", "endDate": "2026-11-01T00:00:00.000Z"}
BATCHES, USERS_PER_BATCH, INGESTERS, READERS = 24, 10, 4, 2


def batch(number: int) -> list[dict]:
    users = [f"b{number:02d}-u{u}" for u in range(USERS_PER_BATCH)]
    return ([event("license.assigned", u, "2026-09-01T00:00:00Z", id=f"{u}-a", product="cx1") for u in users]
            + [event("user.login", u, "2026-10-02T08:00:00Z", id=f"{u}-in") for u in users]
            + [event("user.logout", u, "2026-10-02T10:00:00Z", id=f"{u}-out") for u in users])


def test_clients_and_processes_at_once(make_org: MakeOrg, database: Database) -> None:
    org = make_org()
    client_id, secret = new_client(database, org.id)
    batches = [batch(n) for n in range(BATCHES)]
    # Ingester i sends batches i, i+4, … and i+1, i+5, …: every batch by two clients.
    plans = [[n for n in range(BATCHES) if n % INGESTERS in (i, (i + 1) % INGESTERS)] for i in range(INGESTERS)]
    acknowledged: set[int] = set()
    accepted, duplicates, failures, seen = [0], [0], [], []
    lock = threading.Lock()
    done = threading.Event()

    with running_server(database.url, rate_limit_per_minute="1000000", report_budget_seconds="60") as first, \
            running_server(database.url, rate_limit_per_minute="1000000", report_budget_seconds="60") as second:
        bases = [first, second]
        token = httpx.post(f"{first}/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}

        def ingester(number: int) -> None:
            with httpx.Client(timeout=60) as http:
                for step, n in enumerate(plans[number]):
                    answer = http.post(f"{bases[(number + step) % 2]}/api/v2/billing/events", json=batches[n], headers=headers)
                    if answer.status_code != 200:
                        failures.append(answer.text)
                        continue
                    with lock:
                        accepted[0] += answer.json()["accepted"]
                        duplicates[0] += answer.json()["duplicates"]
                        acknowledged.add(n)

        def reader(number: int) -> None:
            with httpx.Client(timeout=60) as http:
                step = 0
                while not done.is_set() or step < 5:  # at least five reads each, however fast the ingestion
                    with lock:
                        floor = len(acknowledged) * USERS_PER_BATCH
                    answer = http.get(f"{bases[(number + step) % 2]}{REPORT}", params=OCTOBER, headers=headers)
                    step += 1
                    body = answer.json()
                    if answer.status_code != 200 or body["status"] != "Complete":
                        failures.append(answer.text)
                        continue
                    counted = int(next((u["totalUsage"] for u in body["usages"] if u["name"] == "cx1"), "0"))
                    seen.append((floor, counted))

        readers = [threading.Thread(target=reader, args=(n,)) for n in range(READERS)]
        ingesters = [threading.Thread(target=ingester, args=(n,)) for n in range(INGESTERS)]
        began = time.monotonic()
        for thread in readers + ingesters:
            thread.start()
        for thread in ingesters:
            thread.join(timeout=120)
        done.set()
        for thread in readers:
            thread.join(timeout=120)
        assert not any(t.is_alive() for t in readers + ingesters), "a client hung: deadlock or a lost answer"
        assert time.monotonic() - began < 120
        final = httpx.get(f"{second}{REPORT}", params=OCTOBER, headers=headers).json()

    assert failures == []
    total = BATCHES * USERS_PER_BATCH * 3
    assert accepted[0] == total and duplicates[0] == total  # each event accepted by exactly one of its two senders
    with database.read() as conn:
        stored = conn.execute(select(func.count()).select_from(events_table).where(events_table.c.org_id == org.id)).scalar()
    assert stored == total
    assert len(seen) >= 10
    for floor, counted in seen:
        assert counted % USERS_PER_BATCH == 0, f"a report counted part of a batch: {counted}"
        assert counted >= floor, f"a stale report: {counted} users after {floor} were acknowledged"
    assert [(u["name"], u["totalUsage"]) for u in final["usages"]] == [("cx1", str(BATCHES * USERS_PER_BATCH))]
