"""Serving reports: from the shared store when current, else computed once, within a budget.

A report is current while no event has been accepted for its organization since the
snapshot it was computed from (and, for a period reaching past the moment of computing,
for a short while). Otherwise one process takes a lease and computes it in the
background; every request for it, in any process, waits for that result up to the
budget and answers ``InProgress`` after it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from enum import Enum
from threading import Lock
from typing import Any

from zlib_ng import zlib_ng

from billable.rules.catalog import Catalog, LicensingModel
from billable.rules.errors import InvalidCredentials, StoreUnavailable
from billable.rules.instants import Period
from billable.rules.report import RULES_VERSION
from billable.service.report_requests import BILLABLE_USAGE, ReportKind, RequestedReport, answer_report
from billable.store import stored_reports
from billable.store.stored_reports import ReportKey, Stamp
from billable.store.database import Database
from billable.store.organizations import get_organization

_POLL_SECONDS = 0.05
_GZIP_WBITS = 16 + zlib_ng.MAX_WBITS  # a gzip member, with its header and trailer
_KEPT = Stamp(-1, None, "closed")  # what a closed period's kept body is held under
log = logging.getLogger("billable.reports")


def computed_under(catalog: Catalog, model: LicensingModel, body_version: int, rules_version: int = RULES_VERSION
                   ) -> str:
    """A fingerprint of what a report's body depends on besides the events: the rules and
    the body's shape of this release, the catalog, the organization's licensing model. A
    stored body computed under another is never served."""
    basis = f"rules {rules_version}/body {body_version}/catalog {catalog.digest}/model {model.value}"
    return hashlib.sha256(basis.encode()).hexdigest()[:32]


def rules_under(catalog: Catalog, model: LicensingModel) -> str:
    """What a closed period's figures were computed under (the rules, the catalog, the
    model): it keeps figures, not a body, but the fingerprint names the body's version 1, as
    those kept when it kept a body did, so that theirs still compare equal."""
    return computed_under(catalog, model, body_version=1)


class ReportStatus(str, Enum):
    COMPLETE = "Complete"
    IN_PROGRESS = "InProgress"


class Body:
    """A report's JSON body, encoded once; compressed once, when a client first accepts gzip.

    By zlib-ng at its level 3, which the client that asked first waits for: L's 8.8 MB in
    21 ms and 629 KB, where zlib at level 6 took 67 ms for 643 KB (M's: 2.1 ms against 7.2,
    the same size; docs/performance.md)."""

    __slots__ = ("json", "_gzip")

    def __init__(self, json: bytes):
        self.json = json
        self._gzip: bytes | None = None

    @property
    def gzip(self) -> bytes:
        if self._gzip is None:  # two threads may both compress it: the same bytes
            self._gzip = zlib_ng.compress(self.json, 3, wbits=_GZIP_WBITS)
        return self._gzip

    @property
    def text(self) -> str:
        return self.json.decode()

    def __len__(self) -> int:
        """Bytes held: the JSON, and its compressed form once made."""
        return len(self.json) + len(self._gzip or b"")


class Origin(str, Enum):
    """Where a served body came from."""

    STORE = "store"  # computed before, by any process, read from the store
    MEMORY = "memory"  # this process holds it and the store says it is current
    COMPUTED = "computed"  # computed for this request (or while it waited)
    PENDING = "pending"  # not ready within the budget: InProgress


@dataclass(frozen=True)
class BodyWriter:
    """How the edge the desk serves writes a kind of report (billable.wire): the body of a
    report of an organization with a status, and the version of that body's shape (a
    release that changes the shape increments it, so no body of the old shape is served
    from the store again)."""

    version: int
    write: Callable[[str, RequestedReport[Any], ReportStatus], bytes]


@dataclass(frozen=True)
class Answer:
    status: ReportStatus
    body: Body
    origin: Origin


@dataclass(frozen=True)
class DeskSettings:
    budget_seconds: float = 2.0
    lease_seconds: float = 300.0
    live_max_age_seconds: float = 10.0
    workers: int = 2
    memory_bytes: int = 128 * 2**20  # bodies kept in memory (JSON and compressed)


class ReportDesk:
    def __init__(self, database: Database, catalog: Catalog, clock: Callable[[], int], settings: DeskSettings,
                 writers: Mapping[str, BodyWriter]):
        self.database = database
        self.catalog = catalog
        self.clock = clock
        self.settings = settings
        self.writers = writers  # by the name of the kind of report
        # Per kind of report and licensing model: what a stored body must be computed under.
        self._under = {name: {model.value: computed_under(catalog, model, body_version=writer.version)
                              for model in LicensingModel} for name, writer in writers.items()}
        self._executor: Executor = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="report")
        # Starting a computation claims it in the store (a write transaction): under a lock
        # of its own, so that a read of a held body never waits behind a write.
        self._starting = Lock()
        self._running: dict[tuple[ReportKey, int, str], Future[tuple[Stamp, Body]]] = {}
        self.computations = 0  # reports this process computed: each one was needed
        # Bodies this process served, by report: the store is asked only whether they are
        # still current, and a body is read from it only when it changed.
        self._lock = Lock()
        self._bodies: OrderedDict[ReportKey, tuple[Stamp, Body]] = OrderedDict()

    @property
    def lease_ms(self) -> int:
        return int(self.settings.lease_seconds * 1000)

    def billable_usage(self, org_id: str, period: Period) -> Answer:
        return self.answer(BILLABLE_USAGE, org_id, period)

    def answer(self, kind: ReportKind[Any], org_id: str, period: Period, token_hash: str = "") -> Answer:
        """The report if it is current or computed within the budget, else ``InProgress``.

        With ``token_hash``, its first look-up also confirms that the token is still valid
        (``InvalidCredentials`` if it is not), for a caller that took the token's grant from
        memory (service/access.py: ``Logins.held_grant``)."""
        key = ReportKey(org_id, kind.name, period.start, period.end)
        deadline = time.monotonic() + self.settings.budget_seconds
        while True:
            held = self._held(key)
            now = self.clock()
            with self.database.read_one() as conn:
                found = stored_reports.look_up(conn, key, self._under[kind.name], now, self.lease_ms,
                                         held[0] if held else None, token_hash)
            if token_hash:
                if not found.token_valid:
                    raise InvalidCredentials("the token is unknown, expired or revoked")
                token_hash = ""  # confirmed
            if kind.closes and found.closed:
                return self._kept(kind, key, period, held)
            if found.body is not None and found.stamp is not None:
                return Answer(ReportStatus.COMPLETE, self._hold(key, found.stamp, Body(found.body.encode())),
                              Origin.STORE)
            # The body held here: the stored one (not read again), or one that could not be
            # stored (a full disk) and is still current.
            if held is not None and found.admits(held[0], now):
                return Answer(ReportStatus.COMPLETE, held[1], Origin.MEMORY)
            running = self._start(kind, key, period, found)
            remaining = deadline - time.monotonic()
            if running is not None:
                try:
                    return Answer(ReportStatus.COMPLETE, running.result(timeout=max(0.0, remaining))[1], Origin.COMPUTED)
                except FutureTimeout:
                    break
            if remaining <= 0:
                break
            time.sleep(min(_POLL_SECONDS, remaining))  # another process computes it
        pending = self.writers[kind.name].write(org_id, RequestedReport(kind.empty(period)), ReportStatus.IN_PROGRESS)
        return Answer(ReportStatus.IN_PROGRESS, Body(pending), Origin.PENDING)

    def _start(self, kind: ReportKind[Any], key: ReportKey, period: Period, found: stored_reports.Lookup
               ) -> Future[tuple[Stamp, Body]] | None:
        """This process's computation of the current version, started if nobody computes it."""
        version, under = found.current_version, found.current_under
        with self._starting:
            running = self._running.get((key, version, under))
            if running is not None or found.computing:
                return running
            try:
                with self.database.write() as conn:
                    if not stored_reports.claim(conn, key, version, under, self.clock(), self.lease_ms):
                        return None
            except StoreUnavailable as error:
                # The store can be read but takes no lease (a full disk): compute here, so
                # that a report that can be computed is still served.
                log.warning("report %s computed without a lease: the store is %s", key, error.condition)
            self.computations += 1
            running = self._executor.submit(self._compute, kind, key, period, version, under)
            self._running[(key, version, under)] = running
        # Outside the lock: a computation already done calls its callback here and now, and
        # the callback takes the lock (under it, this thread waited for itself for good).
        running.add_done_callback(lambda done: self._keep(key, version, under, done))
        return running

    def _kept(self, kind: ReportKind[Any], key: ReportKey, period: Period, held: tuple[Stamp, Body] | None) -> Answer:
        """A closed period's kept report: final, so a body held once is served for good."""
        if held is not None and held[0] == _KEPT:
            return Answer(ReportStatus.COMPLETE, held[1], Origin.MEMORY)
        with self.database.read() as conn:
            kept = answer_report(conn, kind, get_organization(conn, key.org_id), period, self.catalog, self.clock())
        assert kept.closed is not None, "a closed period is never reopened"
        return Answer(ReportStatus.COMPLETE, self._hold(key, _KEPT, self._body(kind, key.org_id, kept)), Origin.STORE)

    def _body(self, kind: ReportKind[Any], org_id: str, report: RequestedReport[Any]) -> Body:
        return Body(self.writers[kind.name].write(org_id, report, ReportStatus.COMPLETE))

    def _held(self, key: ReportKey) -> tuple[Stamp, Body] | None:
        with self._lock:
            held = self._bodies.get(key)
            if held is not None:
                self._bodies.move_to_end(key)
            return held

    def _hold(self, key: ReportKey, stamp: Stamp, body: Body) -> Body:
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

    def _keep(self, key: ReportKey, version: int, under: str, done: Future[tuple[Stamp, Body]]) -> None:
        """A computation's body stored for every process and its lease released, once those
        waiting have it: a future's callbacks run after it wakes its waiters, so the first
        request does not wait for the store (L's body: 107-158 ms), and another process
        waits for it as for the computation. The computation is forgotten here first: this
        process serves the body it holds meanwhile, and a body stale by age is computed anew."""
        with self._starting:
            self._running.pop((key, version, under), None)
        if done.cancelled() or done.exception() is not None:
            return
        stamp, body = done.result()
        try:
            with self.database.write() as conn:
                stored_reports.store_body(conn, key, stamp, body.text, under)
        except StoreUnavailable as error:
            # Served all the same, from this process's memory; the lease runs out by itself.
            log.warning("report %s computed but not stored: the store is %s", key, error.condition)

    def _compute(self, kind: ReportKind[Any], key: ReportKey, period: Period, claimed: int, under: str
                 ) -> tuple[Stamp, Body]:
        try:
            now = self.clock()
            with self.database.read() as conn:
                org = get_organization(conn, key.org_id)  # the version and model this snapshot sees
                body = self._body(kind, key.org_id, answer_report(conn, kind, org, period, self.catalog, now))
        except BaseException:
            self._release(key, claimed, under)
            raise
        fresh_until = None if period.end <= now else now + int(self.settings.live_max_age_seconds * 1000)
        stamp = Stamp(org.last_seq, fresh_until, self._under[kind.name][org.model.value])
        return stamp, self._hold(key, stamp, body)  # stored by ``_keep``

    def _release(self, key: ReportKey, claimed: int, under: str) -> None:
        """Give the lease back after a failed computation; if the store cannot take that
        now, the lease runs out by itself."""
        try:
            with self.database.write() as conn:
                stored_reports.release(conn, key, claimed, under)
        except StoreUnavailable:
            pass

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
