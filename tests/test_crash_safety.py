"""Killed with SIGKILL at random moments while ingesting, the server keeps every
acknowledged batch exactly once, and a client that re-sends everything adds nothing."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from conftest import CATALOG, MakeOrg, free_port, new_client
from reference import reference_report
from sqlalchemy import func, select

from billable.generator import Workload, generate
from billable.rules.catalog import LicensingModel
from billable.rules.events import validate_events
from billable.rules.instants import Period, parse_instant
from billable.service.reports import billable_usage_report
from billable.store.organizations import get_organization
from billable.store.tables import events as events_table

KILLS = int(os.environ.get("BILLABLE_CRASH_KILLS", "4"))
BATCH = 50


class Server:
    """A `billable serve` process that can be killed and started again on the same port."""

    def __init__(self, url: str):
        self.url, self.port = url, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        program = str(Path(sys.executable).with_name("billable"))
        self.process = subprocess.Popen([program, "serve", "--port", str(self.port)],
                                        env={**os.environ, "BILLABLE_DATABASE_URL": self.url,
                                             "BILLABLE_RATE_LIMIT_PER_MINUTE": "100000"},
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


def test_kills_lose_and_double_nothing(make_org: MakeOrg) -> None:
    org = make_org()
    client_id, secret = new_client(org.database, org.id)
    workload = list(generate(Workload(users=60, days=5, start=parse_instant("2026-10-01", allow_date=True), seed=9)))
    batches = [workload[i:i + BATCH] for i in range(0, len(workload), BATCH)]
    server = Server(org.database.url)
    server.start()
    done = threading.Event()
    kills = 0

    def killer() -> None:
        nonlocal kills
        chance = random.Random(4)
        while not done.is_set() and kills < KILLS:
            time.sleep(chance.uniform(0.3, 1.0))
            if done.is_set():
                break
            server.kill()
            kills += 1
            server.start()

    thread = threading.Thread(target=killer)
    thread.start()
    acknowledged, attempts = [], 0
    with httpx.Client(timeout=10) as http:
        for batch in batches:
            while True:  # like a client that does not know whether a batch landed: send until answered
                attempts += 1
                try:
                    token = http.post(f"{server.base}/oauth/token", data={"grant_type": "client_credentials"},
                                      auth=(client_id, secret)).json()["access_token"]
                    answer = http.post(f"{server.base}/api/v2/billing/events", json=batch,
                                       headers={"Authorization": f"Bearer {token}"})
                except (httpx.TransportError, ValueError, KeyError):
                    time.sleep(0.1)
                    continue
                if answer.status_code == 200:
                    acknowledged.append(answer.json())
                    break
                time.sleep(0.1)
    done.set()
    thread.join()
    assert kills >= 1 and attempts > len(batches)  # the kills did interrupt the client

    unique = len({(e["source"], e["id"]) for e in workload})
    with org.database.read() as conn:
        stored = conn.execute(select(func.count()).select_from(events_table).where(events_table.c.org_id == org.id)).scalar()
    assert stored == unique
    assert sum(a["accepted"] for a in acknowledged) <= unique  # answers lost to a kill are the difference
    # Everything once more, as a client that lost track would: nothing new.
    for _ in range(50):
        try:
            token = httpx.post(f"{server.base}/oauth/token", data={"grant_type": "client_credentials"},
                               auth=(client_id, secret)).json()["access_token"]
            break
        except (httpx.TransportError, ValueError, KeyError):
            time.sleep(0.1)
    for batch in batches:
        again = httpx.post(f"{server.base}/api/v2/billing/events", json=batch, headers={"Authorization": f"Bearer {token}"})
        assert again.json()["accepted"] == 0
    server.kill()

    period, now = Period.parse("2026-10-01", "2026-10-06"), parse_instant("2026-11-01T00:00:00Z")
    with org.database.read() as conn:
        engine = billable_usage_report(conn, get_organization(conn, org.id), period, CATALOG, now)
    expected = reference_report(validate_events(workload, CATALOG, now), CATALOG, LicensingModel.NAMED, period, now)
    assert engine == expected and engine.usages
