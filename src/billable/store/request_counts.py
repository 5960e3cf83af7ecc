"""Requests per client and failed logins per client id and per address, counted per second
over a rolling window, for every server process.

The counts are throwaway state and live apart from the billing data: an UNLOGGED table
on PostgreSQL (no WAL, emptied after a crash; on Citus a logged one, store/distribution.py),
and on SQLite a file of its own next to the database, so counting a request never waits for
the billing database's write lock. The
table is created on first use and is not part of the migrations.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url

from billable.store.database import Database
from billable.store.direct import DirectStatement
from billable.store.sql import create_if_missing, insert_for
from billable.store.tables import OrgId

_hits = Table(
    "request_counts",
    MetaData(),
    # The client's organization ('' for failed logins, stored as tables.NOWHERE): on Citus,
    # counted on its worker.
    Column("org_id", OrgId(), primary_key=True),
    Column("counter", String(64), primary_key=True),  # what is counted: a client id, or a hash (service)
    Column("second", BigInteger, primary_key=True, autoincrement=False),
    Column("count", Integer, nullable=False),
)


# Requests are counted in blocks only while more than this many are left in the window.
BLOCKS_FROM = 1_000


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after_seconds: int = 0


def counter_database(database: Database) -> Database:
    """Where the counts live for ``database``: itself on PostgreSQL, a side file on SQLite."""
    if database.is_postgresql:
        return database
    url = make_url(database.url)
    path = url.database or ""
    side = f"sqlite:///{path}-ratelimit" if path and path != ":memory:" else "sqlite://"
    # Small pages: a request rewrites one counter, and a commit writes every page it changed.
    return Database(side, durable=False, page_size_bytes=4096)


def prepare(database: Database) -> None:
    with database.write() as conn:
        create_counts(conn)


def create_counts(conn: Connection) -> None:
    """The table of the counts, unless it exists."""
    create_if_missing(conn, _hits, unlogged=True)
    for before in ("rate_limit_hits", "rate_limit_counts"):  # the counts of before, by token
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {before}")


# Built once: they run for every request.
_RECENT = DirectStatement(
    select(_hits.c.second, _hits.c.count)
    .where(_hits.c.org_id == bindparam("org_id"), _hits.c.counter == bindparam("counter"),
           _hits.c.second >= bindparam("oldest"))
    .order_by(_hits.c.second)
)
_FORGET = delete(_hits).where(_hits.c.org_id == bindparam("org_id"), _hits.c.counter == bindparam("counter"),
                              _hits.c.second < bindparam("oldest"))
_LOCK = DirectStatement(select(func.pg_advisory_xact_lock(bindparam("key", type_=BigInteger))))
_NO_WAIT_FOR_DISK = DirectStatement(text("SET LOCAL synchronous_commit = off"))


@cache
def _count(dialect: str) -> DirectStatement:
    return DirectStatement(insert_for(dialect, _hits).values(
        org_id=bindparam("org_id"), counter=bindparam("counter"), second=bindparam("second"), count=bindparam("n")
    ).on_conflict_do_update(index_elements=[_hits.c.org_id, _hits.c.counter, _hits.c.second],
                            set_={"count": _hits.c.count + bindparam("n")}))


_GIVE_BACK = DirectStatement(
    update(_hits)
    .where(_hits.c.org_id == bindparam("org_id"), _hits.c.counter == bindparam("counter"),
           _hits.c.second == bindparam("second"))
    .values(count=_hits.c.count - bindparam("n"))
)


@dataclass(frozen=True)
class Unused:
    """Requests counted in advance at ``second`` and never made: taken off again."""

    second: int
    count: int


def verdict(counts: Sequence[tuple[int, int]], second: int, limit: int, window_seconds: int) -> Verdict:
    """Whether one more request is allowed at ``second``, given the ``(second, count)`` of the
    window in order; when not, how long until enough of the oldest seconds have left it."""
    total = sum(count for _, count in counts)
    if total >= limit:
        for bucket, count in counts:
            total -= count
            if total < limit:
                return Verdict(False, max(1, bucket + window_seconds - second))
    return Verdict(True)


def grantable(counts: Sequence[tuple[int, int]], limit: int, wanted: int) -> int:
    """How many requests may be counted at once, in advance, when one is allowed: up to
    ``wanted`` while the window is far from its limit (an eighth of what is left, and only
    while more than ``BLOCKS_FROM`` are left), else one at a time, so that near the limit
    every request is counted as it comes."""
    left = limit - sum(count for _, count in counts)
    return max(1, min(wanted, left // 8)) if left > BLOCKS_FROM else 1


def recent_verdict(conn: Connection, org_id: str, counter: str, now: int, limit: int, window_seconds: int) -> Verdict:
    """Whether ``counter`` (of ``org_id``) is under ``limit`` in the rolling window, counting nothing."""
    second = now // 1000
    rows = _RECENT.rows(conn, {"org_id": org_id, "counter": counter, "oldest": second - window_seconds + 1})
    return verdict(rows, second, limit, window_seconds)


def count_request(conn: Connection, org_id: str, counter: str, now: int, limit: int, window_seconds: int,
                  wanted: int = 1, unused: Unused | None = None) -> tuple[Verdict, int]:
    """Count one request of ``counter`` (a client of ``org_id``) unless it is over ``limit``
    in the rolling window; with ``wanted`` over one, count up to that many at once (the
    first is this request, the rest are the caller's to allow without asking). ``unused``:
    an earlier block's requests never made, taken off first. The verdict, and how many were
    counted (0 when refused)."""
    if conn.dialect.name == "postgresql":
        # One counter's requests are counted one at a time, across processes.
        lock = int.from_bytes(hashlib.sha256(counter.encode()).digest()[:8], "big", signed=True)
        _NO_WAIT_FOR_DISK.rows(conn, {})
        _LOCK.rows(conn, {"key": lock})
    second = now // 1000
    oldest = second - window_seconds + 1
    key = {"org_id": org_id, "counter": counter}
    if unused is not None and unused.second >= oldest:
        _GIVE_BACK.rows(conn, {**key, "second": unused.second, "n": unused.count})
    rows = _RECENT.rows(conn, {**key, "oldest": oldest})
    found = verdict(rows, second, limit, window_seconds)
    if not found.allowed:
        return found, 0
    granted = grantable(rows, limit, wanted)
    _count(conn.dialect.name).rows(conn, {**key, "second": second, "n": granted})
    if not rows:  # the counter's first request in a window: forget its older seconds
        conn.execute(_FORGET, {**key, "oldest": oldest})
    return Verdict(True), granted
