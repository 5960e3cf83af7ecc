"""Serving reports: from the shared store when current, else computed once, within a budget.

A report is current while no event has been accepted for its organization since the
snapshot it was computed from (and, for a period reaching past the moment of computing,
for a short while). Otherwise one process takes a lease and computes it in the
background; every request for it, in any process, waits for that result up to the
budget and answers ``InProgress`` after it.
"""

from __future__ import annotations

import gzip
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from threading import Lock
from typing import Any

from sqlalchemy import Connection

from billable.rules.catalog import Catalog
from billable.rules.instants import Period
from billable.rules.report import BillableUsageReport, ConcurrentUsageReport
from billable.rules.wire import compact_json
from billable.service.presentation import api_body, concurrent_body
from billable.service.reports import billable_usage_report, concurrent_usage_report
from billable.store import computed
from billable.store.computed import ReportKey
from billable.store.database import Database
from billable.store.organizations import Organization, get_organization

_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class ReportKind:
    """A report the desk serves: how to compute its body, and its body while InProgress."""

    name: str
    compute: Callable[[Connection, Organization, Period, Catalog, int], dict[str, Any]]
    pending: Callable[[str, Period], dict[str, Any]]


BILLABLE_USAGE = ReportKind(
    "billableusage",
    lambda conn, org, period, catalog, now: api_body(org.id, billable_usage_report(conn, org, period, catalog, now)),
    lambda org_id, period: api_body(org_id, BillableUsageReport(period, ()), status="InProgress"),
)
CONCURRENT_USAGE = ReportKind(
    "concurrentusage",
    lambda conn, org, period, catalog, now: concurrent_body(org.id, concurrent_usage_report(conn, org, period, catalog, now)),
    lambda org_id, period: concurrent_body(org_id, ConcurrentUsageReport(period, "", ()), status="InProgress"),
)


class Body:
    """A report's JSON body, encoded once; compressed once, when a client first accepts gzip."""

    __slots__ = ("json", "_gzip")

    def __init__(self, json: bytes):
        self.json = json
        self._gzip: bytes | None = None

    @property
    def gzip(self) -> bytes:
        if self._gzip is None:  # two threads may both compress it: the same bytes
            self._gzip = gzip.compress(self.json, compresslevel=6, mtime=0)
        return self._gzip

    @property
    def text(self) -> str:
        return self.json.decode()

    def __len__(self) -> int:
        """Bytes held: the JSON, and its compressed form once made."""
        return len(self.json) + len(self._gzip or b"")


@dataclass(frozen=True)
class Answer:
    status: str  # "Complete" or "InProgress"
    body: Body


@dataclass(frozen=True)
class DeskSettings:
    budget_seconds: float = 2.0
    lease_seconds: float = 300.0
    live_max_age_seconds: float = 10.0
    workers: int = 2
    memory_bytes: int = 128 * 2**20  # bodies kept in memory (JSON and compressed)


class ReportDesk:
    def __init__(self, database: Database, catalog: Catalog, clock: Callable[[], int], settings: DeskSettings):
        self.database = database
        self.catalog = catalog
        self.clock = clock
        self.settings = settings
        self._executor = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="report")
        self._running: dict[tuple[ReportKey, int], Future[Body]] = {}
        self._lock = Lock()
        self.computations = 0  # reports this process computed: each one was needed
        # Bodies this process served, by report: the store is asked only whether they are
        # still current, and a body is read from it only when it changed.
        self._bodies: OrderedDict[ReportKey, tuple[computed.Stamp, Body]] = OrderedDict()

    @property
    def lease_ms(self) -> int:
        return int(self.settings.lease_seconds * 1000)

    def billable_usage(self, org_id: str, period: Period) -> Answer:
        return self.answer(BILLABLE_USAGE, org_id, period)

    def answer(self, kind: ReportKind, org_id: str, period: Period) -> Answer:
        """The report if it is current or computed within the budget, else ``InProgress``."""
        key = ReportKey(org_id, kind.name, period.start, period.end)
        deadline = time.monotonic() + self.settings.budget_seconds
        while True:
            held = self._held(key)
            with self.database.read_one() as conn:
                found = computed.look_up(conn, key, self.clock(), self.lease_ms, held[0] if held else None)
            if found.stamp is not None:
                if found.body is None:  # not read again: it is the one held here
                    return Answer("Complete", held[1])  # type: ignore[index]
                return Answer("Complete", self._hold(key, found.stamp, Body(found.body.encode())))
            running = self._start(kind, key, period, found)
            remaining = deadline - time.monotonic()
            if running is not None:
                try:
                    return Answer("Complete", running.result(timeout=max(0.0, remaining)))
                except FutureTimeout:
                    break
            if remaining <= 0:
                break
            time.sleep(min(_POLL_SECONDS, remaining))  # another process computes it
        return Answer("InProgress", Body(compact_json(kind.pending(org_id, period))))

    def _start(self, kind: ReportKind, key: ReportKey, period: Period, found: computed.Lookup) -> Future[Body] | None:
        """This process's computation of the current version, started if nobody computes it."""
        with self._lock:
            running = self._running.get((key, found.current_version))
            if running is not None or found.computing:
                return running
            with self.database.write() as conn:
                if not computed.claim(conn, key, found.current_version, self.clock(), self.lease_ms):
                    return None
            self.computations += 1
            running = self._executor.submit(self._compute, kind, key, period, found.current_version)
            self._running[(key, found.current_version)] = running
            running.add_done_callback(lambda _: self._forget(key, found.current_version))
            return running

    def _held(self, key: ReportKey) -> tuple[computed.Stamp, Body] | None:
        with self._lock:
            held = self._bodies.get(key)
            if held is not None:
                self._bodies.move_to_end(key)
            return held

    def _hold(self, key: ReportKey, stamp: computed.Stamp, body: Body) -> Body:
        """Keep a body in memory (least recently used first out, within the budget)."""
        with self._lock:
            self._bodies.pop(key, None)
            if len(body) <= self.settings.memory_bytes:
                self._bodies[key] = (stamp, body)
            held = self.held_bytes()
            while held > self.settings.memory_bytes:
                held -= len(self._bodies.popitem(last=False)[1][1])
        return body

    def held_bytes(self) -> int:
        """What the bodies held take (a body's compressed form counts once it is made)."""
        return sum(len(body) for _, body in self._bodies.values())

    def _forget(self, key: ReportKey, version: int) -> None:
        with self._lock:
            self._running.pop((key, version), None)

    def _compute(self, kind: ReportKind, key: ReportKey, period: Period, claimed: int) -> Body:
        try:
            now = self.clock()
            with self.database.read() as conn:
                org = get_organization(conn, key.org_id)  # the version this snapshot sees
                body = Body(compact_json(kind.compute(conn, org, period, self.catalog, now)))
            fresh_until = None if period.end <= now else now + int(self.settings.live_max_age_seconds * 1000)
            with self.database.write() as conn:
                computed.store_body(conn, key, org.last_seq, body.text, fresh_until)
            return self._hold(key, (org.last_seq, fresh_until), body)
        except BaseException:
            with self.database.write() as conn:
                computed.release(conn, key, claimed)
            raise

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
