"""The queries a billable usage report is computed from.

They read only what touches the period: holdings that overlap it, for each holder one
index seek to the first session ending after its start, the sessions of charged users
that overlap it, and device activity inside it.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from itertools import chain
from typing import Any, Unpack

import numpy as np
from sqlalchemy import (
    CTE,
    Column,
    ColumnElement,
    CompoundSelect,
    Connection,
    FromClause,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    and_,
    case,
    func,
    or_,
    select,
    text,
    union_all,
)

from billable.rules.catalog import Catalog
from billable.rules.instants import DAY_MS
from billable.rules.intervals import OPEN
from billable.store.events import by_day, whole_history
from billable.store.session_weeks import as_array, packed_now, week_of
from billable.store.sql import (
    LoopJoin,
    binary_rows,
    greatest,
    least,
    plain_row_chunks,
    plain_rows,
    prefer_index_loops,
    rows_of,
)
from billable.store.tables import device_days, events, holdings, session_weeks, sessions, users

Parts = tuple[FromClause, ...]
"""A derived table as one or more parts of its columns, read as their union."""


def _whole(parts: Parts, name: str) -> FromClause:
    return parts[0] if len(parts) == 1 else union_all(*(select(*part.c) for part in parts)).subquery(name)


@dataclass(frozen=True)
class Sources:
    """Where a report reads the state derived from the log: the tables (``NOW``), or the
    state as of an earlier instant (store/history.py), each as parts with the table's
    columns: a look-up per user seeks each part (a union is not sought by key).
    ``visible``: which events of the log count (the device activity at a period's edges
    and whether a user is known are read from the log itself)."""

    session_parts: Parts
    holding_parts: Parts
    user_parts: Parts
    device_day_parts: Parts
    visible: tuple[ColumnElement[bool], ...]
    packed: bool = False  # the sessions are those of now, also packed per week (session_weeks)

    # Each the same object at every use: a statement that names it twice reads it once.
    @cached_property
    def sessions(self) -> FromClause:
        return _whole(self.session_parts, "sessions")

    @cached_property
    def holdings(self) -> FromClause:
        return _whole(self.holding_parts, "holdings")

    @cached_property
    def users(self) -> FromClause:
        return _whole(self.user_parts, "users")

    @cached_property
    def device_days(self) -> FromClause:
        return _whole(self.device_day_parts, "device_days")


NOW = Sources((sessions,), (holdings,), (users,), (device_days,), (events.c.void_seq.is_(None),), packed=True)

_DEVICE_ACTIVE = text("events.type = 'device.active'")  # literal, so the partial index applies


@dataclass(frozen=True, slots=True)
class ChargedUser:
    """A user billable in one family: the charge's rank, and their first session in the period."""

    user_id: str
    display_name: str
    family: str
    rank: int
    first_session: int


def _charged(org_id: str, catalog: Catalog, start: int, cut: int, src: Sources) -> CTE:
    """Per user and family: the highest rank held in ``[start, cut)`` (``Catalog.charged``),
    for users logged in then."""
    family = case({p.name: p.family for p in catalog.user_products}, value=src.holdings.c.product).label("family")
    rank = case({p.name: p.rank for p in catalog.user_products}, value=src.holdings.c.product)
    held = (
        select(src.holdings.c.user_id, family, func.max(rank).label("rank"))
        .where(src.holdings.c.org_id == org_id, src.holdings.c.started_at < cut, src.holdings.c.ended_at > start)
        .group_by(src.holdings.c.user_id, family)
        .cte("held")
    )
    holders = select(held.c.user_id).distinct().subquery("holders")
    # Per part, the session ending first after ``start``; the earliest of them (a user's
    # sessions never overlap, so the first to end is the first to start).
    firsts = [
        select(part.c.started_at)
        .where(part.c.org_id == org_id, part.c.user_id == holders.c.user_id, part.c.ended_at > start)
        .order_by(part.c.ended_at)
        .limit(1)
        .scalar_subquery()
        for part in src.session_parts
    ]
    first_session = firsts[0] if len(firsts) == 1 else least(*(func.coalesce(first, OPEN) for first in firsts))
    # Computed once: both would otherwise inline it and seek the first session twice, for
    # the column and for the condition (docs/performance.md).
    present = select(holders.c.user_id, first_session.label("first_session")).cte("present").prefix_with(
        "MATERIALIZED", dialect="postgresql")
    if sqlite3.sqlite_version_info >= (3, 35):  # MATERIALIZED is known to SQLite since 3.35
        present = present.prefix_with("MATERIALIZED", dialect="sqlite")
    return (
        select(held.c.user_id, held.c.family, held.c.rank, present.c.first_session)
        .join(present, present.c.user_id == held.c.user_id)
        .where(present.c.first_session < cut)
        .cte("charged")
    )


def charged_users(conn: Connection, org_id: str, catalog: Catalog, start: int, cut: int, src: Sources = NOW
                  ) -> list[ChargedUser]:
    charged = _charged(org_id, catalog, start, cut, src)
    query = select(
        charged.c.user_id,
        func.coalesce(src.users.c.email, charged.c.user_id),
        charged.c.family,
        charged.c.rank,
        charged.c.first_session,
    ).outerjoin(src.users, and_(src.users.c.org_id == org_id, src.users.c.user_id == charged.c.user_id))
    return [ChargedUser(*row) for row in plain_rows(conn, query)]


_charged_products = Table(
    "charged_products",
    MetaData(),
    Column("user_id", String(256), nullable=False),
    Column("product_index", Integer, nullable=False),
    prefixes=["TEMPORARY"],
)


def _sessions_of(conn: Connection, org_id: str, charged: list[tuple[str, int]], start: int, cut: int, src: Sources,
                 started: tuple[int | None, int | None] = (None, None), with_user: bool = False
                 ) -> Iterator[tuple[int, Select[Unpack[tuple[Any, ...]]] | CompoundSelect[Unpack[tuple[Any, ...]]]]]:
    """For each product index in ``charged``, a query of the clipped ``(started, ended)`` of
    the sessions in ``[start, cut)`` of the users charged that product (and their
    ``user_id``, ``with_user``); ``started``: only those started from its first instant and
    before its second (None: any).

    ``charged`` pairs a user with the index of the product they are charged; it is
    sent with each query (``rows_of``). Each query seeks the sessions of its users with an
    ``IN`` list: SQLite walks such a list in key order, 7 times faster than a join over
    the same users (which also builds a Bloom filter).
    """
    key = rows_of(conn, _charged_products, charged)
    prefer_index_loops(conn)
    started_from, started_before = started
    for index in sorted({index for _, index in charged}):
        users_of = select(key.c.user_id).where(key.c.product_index == index)
        parts = []
        for part in src.session_parts:  # each sought on its own: a union is not sought by key
            c = part.c
            # Sessions are sought by their end: one started at ``started_from`` ends no earlier.
            ends = c.ended_at > start if started_from is None or started_from <= start else c.ended_at >= started_from
            parts.append(select(greatest(c.started_at, start).label("started"), least(c.ended_at, cut).label("ended"),
                                *((c.user_id,) if with_user else ()))
                         .where(c.org_id == org_id, c.user_id.in_(users_of), ends,
                                c.started_at < (cut if started_before is None else min(cut, started_before)),
                                *(() if started_from is None else (c.started_at >= started_from,))))
        yield index, parts[0] if len(parts) == 1 else union_all(*parts)


def charged_session_hours(conn: Connection, org_id: str, charged: list[tuple[str, int, int]], start: int, cut: int,
                          src: Sources = NOW) -> dict[int, dict[str, int]]:
    """Clipped session milliseconds per product index and user (``charged`` as for
    ``charged_sessions``; a user logged in for none of the period is absent), summed in the
    database: on PostgreSQL, faster than reading the packed weeks (docs/performance.md)."""
    totals: dict[int, dict[str, int]] = {}
    pairs = [(user, index) for user, index, _ in charged]
    for index, clipped in _sessions_of(conn, org_id, pairs, start, cut, src, with_user=True):
        part = clipped.subquery()
        totals[index] = {user_id: int(milliseconds) for user_id, milliseconds in conn.execute(
            select(part.c.user_id, func.sum(part.c.ended - part.c.started)).group_by(part.c.user_id))}
    return totals


def charged_sessions(conn: Connection, org_id: str, charged: list[tuple[str, int, int]], start: int, cut: int,
                     src: Sources = NOW) -> dict[int, np.ndarray]:
    """Per product index, every session in ``[start, cut)`` of the users charged that
    product, clipped to it: an ``(n, 2)`` array of ``(started, ended)``. ``charged`` holds
    ``(user_id, product index, first session)``: the start of the user's first session
    ending after ``start`` (``ChargedUser.first_session``).

    The sessions of now that started in the packed weeks are read packed (session_weeks);
    only a user's first session can have started before the period's first week.
    """
    pairs = [(user_id, index) for user_id, index, _ in charged]
    found: dict[int, list[np.ndarray]] = defaultdict(list)
    first_week, until = week_of(start), packed_now(conn, org_id) if src.packed else None
    if until is None or until <= first_week:
        rows = _clipped_rows(conn, org_id, pairs, start, cut, src)
    else:
        for index, bounds in _packed_sessions(conn, org_id, pairs, first_week, min(until, cut)).items():
            found[index].append(as_array(bounds))
        crossing = [(user_id, index) for user_id, index, first in charged if first < first_week]
        rows = chain(_clipped_rows(conn, org_id, crossing, start, cut, src, (None, first_week)) if crossing else (),
                     _clipped_rows(conn, org_id, pairs, start, cut, src, (until, None)) if until < cut else ())
    for index, chunk in rows:
        # fromiter over the flattened pairs: about three times faster than np.array of tuples
        found[index].append(np.fromiter(chain.from_iterable(chunk), dtype=np.int64, count=2 * len(chunk)).reshape(-1, 2))
    clipped = {}
    for index, parts in found.items():
        both = np.concatenate(parts)
        inside = both[(both[:, 1] > start) & (both[:, 0] < cut)]
        clipped[index] = np.column_stack([np.maximum(inside[:, 0], start), np.minimum(inside[:, 1], cut)])
    return clipped


def _packed_sessions(conn: Connection, org_id: str, charged: list[tuple[str, int]], first_week: int, end: int
                     ) -> dict[int, list[bytes]]:
    """The packed bounds of the weeks from ``first_week`` to ``end`` of the ``charged`` users, per product index."""
    key = rows_of(conn, _charged_products, charged)
    prefer_index_loops(conn)
    w = session_weeks.c
    query = select(key.c.product_index, w.bounds).select_from(LoopJoin(key, session_weeks, and_(
        w.org_id == org_id, w.user_id == key.c.user_id, w.week >= first_week, w.week < end)))
    by_index: dict[int, list[bytes]] = defaultdict(list)
    for index, bounds in binary_rows(conn, query):
        by_index[index].append(bounds)
    return by_index


def _clipped_rows(conn: Connection, org_id: str, charged: list[tuple[str, int]], start: int, cut: int, src: Sources,
                  started: tuple[int | None, int | None] = (None, None)) -> Iterator[tuple[int, list[tuple[int, int]]]]:
    """``(product index, chunk of (started, ended))``: the sessions of ``_sessions_of``, in
    chunks (a month of data set L has six million)."""
    for index, clipped in _sessions_of(conn, org_id, charged, start, cut, src, started):
        for chunk in plain_row_chunks(conn, clipped):
            yield index, chunk


def first_device_activity(conn: Connection, org_id: str, start: int, cut: int, src: Sources = NOW
                          ) -> list[tuple[str, str, int]]:
    """``(device_type, device_id, first active instant)`` for devices active in ``[start, cut)``.

    Whole UTC days of the period come from ``device_days``, one row per device and day;
    only the partial days at its edges are read from the event log.
    """
    first_day, end_day = -(-start // DAY_MS) * DAY_MS, cut // DAY_MS * DAY_MS
    if first_day >= end_day:
        return plain_rows(conn, _logged_activity(org_id, start, cut, src))
    parts = [
        select(src.device_days.c.device_type, src.device_days.c.device_id, func.min(src.device_days.c.first_active))
        .where(src.device_days.c.org_id == org_id, src.device_days.c.day >= first_day, src.device_days.c.day < end_day)
        .group_by(src.device_days.c.device_type, src.device_days.c.device_id)
    ]
    parts += [_logged_activity(org_id, a, b, src) for a, b in ((start, first_day), (end_day, cut)) if a < b]
    found: dict[tuple[str, str], int] = {}
    for part in parts:
        for device_type, device_id, first in plain_rows(conn, part):
            key = (device_type, device_id)
            found[key] = min(first, found.get(key, first))
    return [(device_type, device_id, first) for (device_type, device_id), first in found.items()]


def _logged_activity(org_id: str, start: int, cut: int, src: Sources) -> Select[Any]:
    return (
        select(events.c.device_type, events.c.subject, func.min(events.c.time))
        .where(events.c.org_id == org_id, _DEVICE_ACTIVE, events.c.time >= start, events.c.time < cut, *src.visible)
        .group_by(events.c.device_type, events.c.subject)
    )


@dataclass(frozen=True)
class UserIntervals:
    """One user's sessions and holdings that meet a period; None sessions: an unknown user."""

    display_name: str | None
    sessions: list[tuple[int, int]] | None
    holdings: dict[str, list[tuple[int, int]]]


def user_named(conn: Connection, org_id: str, name: str, src: Sources = NOW) -> str | None:
    """The user whose id is ``name``, else one whose email is ``name`` (a report names a user
    by email when it knows one: the email of ``src``'s time); None when neither is known."""
    u = src.users.c
    return conn.execute(select(u.user_id).where(u.org_id == org_id, or_(u.user_id == name, u.email == name))
                        .order_by((u.user_id == name).desc(), u.user_id).limit(1)).scalar()


def user_intervals(conn: Connection, org_id: str, user_id: str, start: int, cut: int, src: Sources = NOW
                   ) -> UserIntervals:
    days = whole_history(conn, org_id)
    known = days is not None and conn.execute(
        select(events.c.seq)
        .select_from(LoopJoin(days, events, by_day(days)))
        .where(events.c.org_id == org_id, events.c.subject == user_id, events.c.type != "device.active", *src.visible)
        .limit(1)
    ).first() is not None
    if not known:
        return UserIntervals(None, None, {})
    email = conn.execute(select(src.users.c.email).where(src.users.c.org_id == org_id, src.users.c.user_id == user_id)).scalar()
    meets = [src.sessions.c.org_id == org_id, src.sessions.c.user_id == user_id, src.sessions.c.ended_at > start,
             src.sessions.c.started_at < cut]
    found = [(s, e) for s, e in conn.execute(select(src.sessions.c.started_at, src.sessions.c.ended_at).where(*meets))]
    held: dict[str, list[tuple[int, int]]] = {}
    query = select(src.holdings.c.product, src.holdings.c.started_at, src.holdings.c.ended_at).where(
        src.holdings.c.org_id == org_id, src.holdings.c.user_id == user_id, src.holdings.c.ended_at > start,
        src.holdings.c.started_at < cut)
    for product, started, ended in conn.execute(query):
        held.setdefault(product, []).append((started, ended))
    return UserIntervals(email, found, held)
