"""The queries a billable usage report is computed from.

They read only what touches the period: holdings that overlap it, for each holder one
index seek to the first session ending after its start, the sessions of charged users
that overlap it, and device activity inside it.
"""

from __future__ import annotations

import struct
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from itertools import chain
from typing import Any, Unpack

import numpy as np
from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    CompoundSelect,
    Connection,
    FromClause,
    LargeBinary,
    MetaData,
    Select,
    String,
    Table,
    and_,
    case,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)

from billable.rules.events import DEVICE_ACTIVE
from billable.rules.instants import DAY_MS, WEEK_MS
from billable.rules.intervals import OPEN
from billable.store.events import on_days, whole_history
from billable.store.organizations import get_organization
from billable.store.session_weeks import as_array, packed_now, packed_until, packed_weeks, unpack, week_of
from billable.store.sql import (
    among,
    binary_rows,
    greatest,
    least,
    plain_row_chunks,
    plain_rows,
    rows_of,
)
from billable.store.tables import (
    device_days,
    ending_after,
    events,
    first_ending,
    holdings,
    session_weeks,
    sessions,
    start_day,
    users,
)

_BIG_ENDIAN_PAIR = struct.Struct(">qq")  # a session as PostgreSQL packs it (``_packed_pairs``)

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
    # As of an earlier sequence: the sessions started before this instant are those of now
    # (session_weeks.unchanged_before; None: not known, each is read from the parts).
    unchanged_before: int | None = None

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


# Between the products a user held, in ``HeldInPeriod``: no catalog name holds it (rules/catalog.py).
PRODUCT_SEPARATOR = "\x1f"

HeldInPeriod = tuple[str, str, str, int | None]
"""``(user_id, display name, products, first session)``: a user who held products during a
period, their name (the email, else the id), the products (joined by ``PRODUCT_SEPARATOR``,
each as often as a holding of it meets the period), and the start of their first session
ending after the period's start (None: none)."""


_users_key = Table(  # users, for ``rows_of`` and ``among``
    "user_keys",
    MetaData(),
    Column("user_id", String(256), nullable=False),
    prefixes=["TEMPORARY"],
)


def held_in_period(conn: Connection, org_id: str, start: int, cut: int, src: Sources = NOW) -> list[HeldInPeriod]:
    """Every user who held a product during ``[start, cut)``. Which of a family's products is
    charged, and whether the first session starts before ``cut``, the caller decides
    (``Catalog.charged``).

    A row per holder, with one seek to their email and, on SQLite, one to their first session:
    M's month in 32 ms on SQLite, where grouping per user and family in the statement (and the
    first sessions sought in a materialized CTE) took 62. On PostgreSQL a seek reads a page of
    ``sessions`` per holder, through buffers that do not hold L's: most first sessions come from
    the packed weeks instead (``_firsts_in_packed_weeks``), and only the others are sought (L's
    month 850 → 360 ms, M's 65 → 26; on SQLite the packed weeks took longer than the seeks, L's
    278 → 350 ms: docs/performance.md)."""
    h = src.holdings.c
    held = (select(h.user_id, func.aggregate_strings(h.product, PRODUCT_SEPARATOR).label("products"))
            .where(h.org_id == org_id, h.started_at < cut, h.ended_at > start)
            .group_by(h.user_id).subquery("held"))
    by_weeks = conn.dialect.name == "postgresql" and (src.packed or src.unchanged_before is not None)
    query = (select(held.c.user_id, func.coalesce(src.users.c.email, held.c.user_id), held.c.products,
                    *(() if by_weeks else (_first_session(held.c.user_id, org_id, start, src),)))
             .outerjoin(src.users, and_(src.users.c.org_id == org_id, src.users.c.user_id == held.c.user_id)))
    if not by_weeks:
        return plain_rows(conn, query)  # the driver's tuples, as selected
    holders = plain_rows(conn, query)
    org = get_organization(conn, org_id)
    found = _firsts_in_packed_weeks(conn, org_id, start, _packed_for(src, packed_until(org.latest_event_time)),
                                    org.earliest_event_time)
    sought = rows_of(conn, _users_key, [(user_id,) for user_id, _, _ in holders if user_id not in found])
    found.update(plain_rows(conn, select(sought.c.user_id, _first_session(sought.c.user_id, org_id, start, src))))
    return [(user_id, name, products, found.get(user_id)) for user_id, name, products in holders]


def _packed_for(src: Sources, packed: int | None) -> int | None:
    """The week before which the packed weeks hold ``src``'s sessions, those of now being
    packed before ``packed`` (None: none are, nor are ``src``'s): all of now's for the
    sessions of now; as of an earlier sequence, those before the week of the first session
    changed since (``Sources.unchanged_before``: L's concurrent month as of the instant
    before the last tenth of its log took 10-13 s sought per user, docs/performance.md)."""
    if packed is None or src.packed:
        return packed
    return None if src.unchanged_before is None else min(packed, week_of(src.unchanged_before))


def _first_session(user_id: ColumnElement[str], org_id: str, start: int, src: Sources) -> ColumnElement[Any]:
    """The start of the first session of ``user_id`` ending after ``start``: per part of
    ``src``'s sessions, the session ending first after ``start``, and the earliest of them (a
    user's sessions never overlap, so the first to end is the first to start)."""
    firsts = [
        select(part.c.started_at)
        .where(part.c.org_id == org_id, part.c.user_id == user_id, *ending_after(part.c.ended_at, start))
        .order_by(*first_ending(part.c.ended_at))
        .limit(1)
        .scalar_subquery()
        for part in src.session_parts
    ]
    return firsts[0] if len(firsts) == 1 else least(*(func.coalesce(first, OPEN) for first in firsts))


def _firsts_in_packed_weeks(conn: Connection, org_id: str, start: int, until: int | None, earliest_event: int | None
                            ) -> dict[str, int]:
    """The start of the first session ending after ``start`` of each user that the packed
    weeks of ``start`` and the week before answer, when both are packed (before ``until``).

    A user's sessions never overlap: each ends before the next starts. So when a user has a
    session of those two weeks that started by ``start`` (or the log, whose earliest event
    is ``earliest_event``, begins within them), none before it ends after ``start``, and the
    first of the two weeks' sessions to end after ``start`` is the first of all; of the week
    before, only its last session can. When none of them ends after ``start``, the first
    session of the week after is (``_firsts_after_week``). A user with no session by
    ``start`` in them (one may have lasted from before) is not answered here."""
    first_week = week_of(start)
    if until is None or first_week >= until or earliest_event is None:
        return {}
    w = session_weeks.c
    rows = binary_rows(conn, select(w.week, w.user_id, w.bounds).where(
        w.org_id == org_id, w.week >= first_week - WEEK_MS, w.week <= first_week))
    before = {user_id: packed for week, user_id, packed in rows if week < first_week and packed}
    during = {user_id: packed for week, user_id, packed in rows if week == first_week and packed}
    found: dict[str, int] = {}
    if before:
        pairs, earliest, count = _packed_rows(before.values())
        last = pairs[earliest + count - 1]
        found.update((user_id, started) for user_id, started, ended in zip(before, last[:, 0].tolist(), last[:, 1].tolist())
                     if ended > start)
    settled = [user_id for user_id in before if user_id not in found]
    if during:
        pairs, earliest, count = _packed_rows(during.values())
        ends_after = np.flatnonzero(pairs[:, 1] > start)
        at = np.searchsorted(ends_after, earliest)
        first = ends_after[np.minimum(at, len(ends_after) - 1)] if len(ends_after) else earliest
        has_first = (at < len(ends_after)) & (first < earliest + count)
        none_before = earliest_event >= first_week - WEEK_MS
        for user_id, has, started, first_started in zip(during, has_first.tolist(), pairs[earliest, 0].tolist(),
                                                         pairs[first, 0].tolist()):
            if user_id in found or not (none_before or started <= start or user_id in before):
                continue
            if has:
                found[user_id] = first_started
            elif user_id not in before:
                settled.append(user_id)
    found.update(_firsts_after_week(conn, org_id, [user_id for user_id in settled if user_id not in found],
                                    first_week + WEEK_MS, until))
    return found


def _firsts_after_week(conn: Connection, org_id: str, settled: list[str], week: int, until: int) -> dict[str, int]:
    """The start of the first session of ``week``, when it is packed (before ``until``), of
    each of the ``settled`` users: those of ``_firsts_in_packed_weeks`` whose sessions up to
    ``week`` all end by the period's start, none from before lasting past it. The first
    session ending after the start is then the first of a later week: this one, if they have
    a session in it (L's period from a Wednesday 05:30: 10,765 users absent that morning,
    whose seeks into ``sessions`` read every session of that week, 200-300 ms)."""
    if not settled or week >= until:
        return {}
    stored = packed_weeks(conn, org_id, [(user_id, week) for user_id in settled])
    return {user_id: unpack(bounds[:16])[0][0] for (user_id, _), bounds in stored.items() if bounds}


def _packed_rows(packed: Iterable[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Packed rows' sessions as one ``(n, 2)`` array, with each row's first index and count."""
    rows = list(packed)
    count = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows)) // 16
    return as_array(rows), np.cumsum(count) - count, count


UsersOf = dict[int, set[str]]
"""The users charged each product, by its index."""


def _users_of(charged: list[tuple[str, int, int]]) -> UsersOf:
    """The users of each product index in ``charged`` (``(user_id, product index, first session)``)."""
    users_of: UsersOf = defaultdict(set)
    for user_id, index, _ in charged:
        users_of[index].add(user_id)
    return users_of


def _charged_users(users_of: UsersOf) -> list[str]:
    """Every user of ``users_of``, once, in order."""
    return sorted(set().union(*users_of.values()))


def _sessions_of(conn: Connection, org_id: str, users_of: UsersOf, start: int, cut: int, src: Sources,
                 started: tuple[int | None, int | None] = (None, None)
                 ) -> Select[Unpack[tuple[Any, ...]]] | CompoundSelect[Unpack[tuple[Any, ...]]]:
    """A query of the ``(user_id, started, ended)`` of the sessions in ``[start, cut)``,
    clipped to it, of every user in ``users_of``, whatever they are charged: one query for
    all products, whose users the caller tells apart (with a query per product, PostgreSQL
    scanned the sessions once for each). ``started``: only those started from its first
    instant and before its second (None: any).

    Each user's sessions are one range of the key. SQLite walks the users (``among``). On
    PostgreSQL each user is sought (a lateral subquery that the planner cannot turn into a
    join: its ``OFFSET``): with the users as a condition of the statement it scanned the
    whole table, which for the days after the packed weeks was most of M's concurrent read
    (105 ms against 57 sought; docs/performance.md).
    """
    charged = _charged_users(users_of)
    sought = rows_of(conn, _users_key, [(user_id,) for user_id in charged]) if conn.dialect.name == "postgresql" else None
    charged_among = among(conn, _users_key, charged) if sought is None else None

    def clipped(user_id: ColumnElement[str], started_at: ColumnElement[int], ended_at: ColumnElement[int]
                ) -> Select[Unpack[tuple[Any, ...]]]:
        return select(user_id, greatest(started_at, start).label("started"), least(ended_at, cut).label("ended"))

    parts = []
    for part in src.session_parts:  # each sought on its own: a union is not sought by key
        c = part.c
        conditions = _in_period(part, org_id, start, cut, started)
        if charged_among is not None:
            parts.append(clipped(c.user_id, c.started_at, c.ended_at).where(charged_among(c.user_id), *conditions))
        else:
            assert sought is not None
            each = select(c.started_at, c.ended_at).where(c.user_id == sought.c.user_id, *conditions).offset(0).lateral()
            parts.append(clipped(sought.c.user_id, each.c.started_at, each.c.ended_at).select_from(sought.join(each, true())))
    return parts[0] if len(parts) == 1 else union_all(*parts)


def _in_period(part: FromClause, org_id: str, start: int, cut: int, started: tuple[int | None, int | None]
               ) -> tuple[ColumnElement[bool], ...]:
    """The conditions on a part of the sessions of ``_sessions_of`` (but its users)."""
    c = part.c
    started_from, started_before = started
    # Sessions are sought by their end: one started at ``started_from`` ends no earlier.
    ends = (ending_after(c.ended_at, start) if started_from is None or started_from <= start
            else ending_after(c.ended_at, started_from, inclusive=True))
    return (c.org_id == org_id, *ends, c.started_at < (cut if started_before is None else min(cut, started_before)),
            *(() if started_from is None else (c.started_at >= started_from,)))


def charged_session_hours(conn: Connection, org_id: str, charged: list[tuple[str, int, int]], start: int, cut: int,
                          src: Sources = NOW) -> dict[int, dict[str, int]]:
    """Clipped session milliseconds per product index and user (``charged`` as for
    ``charged_sessions``; a user logged in for none of the period may be absent).

    On PostgreSQL the sessions of now are read as ``charged_sessions`` reads them, the packed
    weeks and the days after them, and summed per user with numpy: L's month in 1.7-2.4 s,
    where summing its 6 million sessions in the database took 2.6-3.0 (M's, 0.2 s, alike;
    docs/performance.md). Elsewhere they are summed in the database."""
    if not charged:
        return {}
    users_of = _users_of(charged)
    first_week = week_of(start)
    until = _packed_for(src, packed_now(conn, org_id)) if conn.dialect.name == "postgresql" else None
    if until is not None and first_week < until:
        per_user = _packed_milliseconds(conn, org_id, charged, users_of, start, cut, src, (first_week, until))
    else:
        part = _sessions_of(conn, org_id, users_of, start, cut, src).subquery()
        per_user = {user_id: int(milliseconds) for user_id, milliseconds in conn.execute(
            select(part.c.user_id, func.sum(part.c.ended - part.c.started)).group_by(part.c.user_id))}
    return {index: {user_id: per_user[user_id] for user_id in holders if user_id in per_user}
            for index, holders in users_of.items()}


def _packed_milliseconds(conn: Connection, org_id: str, charged: list[tuple[str, int, int]], users_of: UsersOf,
                         start: int, cut: int, src: Sources, weeks_packed: tuple[int, int]) -> dict[str, int]:
    """On PostgreSQL, each charged user's sessions of now in ``[start, cut)``, in milliseconds:
    those of the packed weeks from ``first_week`` to ``until`` (``weeks_packed``), clipped here;
    a first session started before them and those started from ``until`` on, clipped by
    ``_packed_pairs``."""
    first_week, until = weeks_packed
    users = set(_charged_users(users_of))
    weeks = [(user_id, bounds) for user_id, bounds in _packed_weeks(conn, org_id, first_week, min(until, cut))
             if bounds and user_id in users]
    total: dict[str, int] = defaultdict(int)
    if weeks:
        pairs, earliest, _ = _packed_rows(bounds for _, bounds in weeks)
        clipped = np.maximum(np.minimum(pairs[:, 1], cut) - np.maximum(pairs[:, 0], start), 0)
        for (user_id, _), milliseconds in zip(weeks, np.add.reduceat(clipped, earliest).tolist()):
            total[user_id] += milliseconds
    crossing = [charge for charge in charged if charge[2] < first_week]
    parts = chain(_packed_crossing(conn, org_id, crossing, start, cut) if crossing else (),
                  _packed(conn, org_id, users_of, start, cut, src, (until, None)) if until < cut else ())
    for user_id, bounds in parts:
        if user_id in users:
            found = np.frombuffer(bounds, dtype=">i8").reshape(-1, 2)
            total[user_id] += int((found[:, 1] - found[:, 0]).sum())
    return total


def charged_sessions(conn: Connection, org_id: str, charged: list[tuple[str, int, int]], start: int, cut: int,
                     src: Sources = NOW) -> dict[int, np.ndarray]:
    """Per product index, the sessions of the users charged that product read for
    ``[start, cut)``: an ``(n, 2)`` array of ``(started, ended)`` holding every session that
    meets the period, and perhaps some that do not, none clipped to it. The caller drops
    and clips them (``LevelCurve.of``: doing it here as well took L's month 105 ms more,
    docs/performance.md). ``charged`` holds
    ``(user_id, product index, first session)``: the start of the user's first session
    ending after ``start`` (``held_in_period``).

    The sessions of now that started in the packed weeks are read packed (session_weeks);
    only a user's first session can have started before the period's first week.
    """
    if not charged:
        return {}
    users_of = _users_of(charged)
    found: dict[int, list[np.ndarray]] = defaultdict(list)
    first_week, until = week_of(start), _packed_for(src, packed_now(conn, org_id))
    if until is None or until <= first_week:
        read = _clipped(conn, org_id, users_of, start, cut, src)
    else:
        for index, bounds in _packed_sessions(conn, org_id, users_of, first_week, min(until, cut)).items():
            found[index].append(as_array(bounds))
        crossing = [charge for charge in charged if charge[2] < first_week]
        read = chain(_crossing_sessions(conn, org_id, crossing, start, cut, src, first_week) if crossing else (),
                     _clipped(conn, org_id, users_of, start, cut, src, (until, None)) if until < cut else ())
    for index, part in read:
        found[index].append(part)
    return {index: np.concatenate(parts) for index, parts in found.items()}


def _packed_sessions(conn: Connection, org_id: str, users_of: UsersOf, first_week: int, end: int
                     ) -> dict[int, list[bytes]]:
    """The packed bounds of the weeks from ``first_week`` to ``end`` of the users charged each product, per its index.

    The weeks of every user, one range of the key (migration 0021), each kept for the
    products its user is charged: M's concurrent month read its 39,000 weeks in 25 ms on
    SQLite and 28 on PostgreSQL so, where a seek per charged user (SQLite) took 40, and a
    scan per product filtered by its users (``= ANY``, PostgreSQL) 38 for each product."""
    return _per_product(_packed_weeks(conn, org_id, first_week, end), users_of)


def _packed_weeks(conn: Connection, org_id: str, first_week: int, end: int) -> list[tuple[str, bytes]]:
    """``(user_id, bounds)`` of every packed week from ``first_week`` to ``end``."""
    w = session_weeks.c
    return binary_rows(conn, select(w.user_id, w.bounds).where(w.org_id == org_id, w.week >= first_week, w.week < end))


def _per_product(packed: list[tuple[str, bytes]], users_of: UsersOf) -> dict[int, list[bytes]]:
    """Each user's packed sessions, kept for each product they are charged, per its index."""
    return {index: [bounds for user_id, bounds in packed if user_id in holders] for index, holders in users_of.items()}


def _clipped(conn: Connection, org_id: str, users_of: UsersOf, start: int, cut: int, src: Sources,
             started: tuple[int | None, int | None] = (None, None)) -> Iterator[tuple[int, np.ndarray]]:
    """``(product index, (n, 2) array of (started, ended))``: the sessions of ``_sessions_of``,
    in parts, each told apart by product.

    SQLite's rows come in chunks (a month of data set L has six million sessions).
    PostgreSQL packs each user's sessions in one value (``int8send``: the pairs as big-endian
    64-bit integers), where the driver made a tuple of each row: with L's days after the
    packed weeks (536,691 sessions of 100,000 users), ``charged_sessions`` took 2,766-2,867 ms
    instead of 3,148-3,210 (docs/performance.md)."""
    if conn.dialect.name == "postgresql":
        yield from _per_product_pairs(_packed(conn, org_id, users_of, start, cut, src, started), users_of)
        return
    for chunk in plain_row_chunks(conn, _sessions_of(conn, org_id, users_of, start, cut, src, started)):
        for index, holders in users_of.items():
            pairs = [(started_at, ended_at) for user_id, started_at, ended_at in chunk if user_id in holders]
            # fromiter over the flattened pairs: about three times faster than np.array of tuples
            yield index, np.fromiter(chain.from_iterable(pairs), dtype=np.int64, count=2 * len(pairs)).reshape(-1, 2)


def _packed_pairs(c: Any, start: int, cut: int) -> ColumnElement[bytes]:
    """A group's sessions clipped to ``[start, cut)``, in one value of 16 bytes each
    (``int8send``: big-endian)."""
    pair = func.int8send(greatest(c.started_at, start)).op("||")(func.int8send(least(c.ended_at, cut)))
    return func.string_agg(pair, literal(b"", LargeBinary), type_=LargeBinary)


def _packed_since(conn: Connection, org_id: str, start: int, cut: int, started_from: int) -> list[tuple[str, bytes]]:
    """On PostgreSQL, ``(user_id, sessions)`` for every user with sessions of now started from
    ``started_from`` on that meet ``[start, cut)``, clipped, packed as ``_packed_per_user``
    packs them: read in one range of the sessions by the day of their start
    (``tables.SESSIONS_BY_START_DAY``), where a seek per user into the key took twice as long
    for L's days after the packed weeks. Grouped by the ids' bytes (their collation, ``tables._name``),
    which sorts L's 535,000 sessions in a fifth less time than a libc collation did."""
    c = sessions.c
    return binary_rows(conn, select(c.user_id, _packed_pairs(c, start, cut))
                       .where(start_day(c.started_at) >= start_day(literal(started_from, BigInteger())),
                              *_in_period(sessions, org_id, start, cut, (started_from, None)))
                       .group_by(c.user_id))


def _packed(conn: Connection, org_id: str, users_of: UsersOf, start: int, cut: int, src: Sources,
            started: tuple[int | None, int | None]) -> list[tuple[str, bytes]]:
    """On PostgreSQL, ``(user_id, sessions)``: the sessions of ``_sessions_of``, clipped,
    packed (``_packed_pairs``); those of now started from an instant on in one range of them
    by start (``_packed_since``), any other sought per user."""
    if src.packed and started[0] is not None:
        return _packed_since(conn, org_id, start, cut, started[0])
    return _packed_per_user(conn, org_id, users_of, start, cut, src, started)


def _crossing_sessions(conn: Connection, org_id: str, crossing: list[tuple[str, int, int]], start: int, cut: int,
                       src: Sources, first_week: int) -> Iterator[tuple[int, np.ndarray]]:
    """``_clipped``'s parts of the users of ``crossing``: charges whose first session ending
    after ``start`` started before the period's first week, which only that session can have
    (a user's sessions never overlap). On PostgreSQL each is read from its packed week
    (``_packed_crossing``); elsewhere the sessions are sought."""
    users_of = _users_of(crossing)
    if conn.dialect.name == "postgresql":
        yield from _per_product_pairs(_packed_crossing(conn, org_id, crossing, start, cut), users_of)
    else:
        yield from _clipped(conn, org_id, users_of, start, cut, src, (None, first_week))


def _packed_crossing(conn: Connection, org_id: str, crossing: list[tuple[str, int, int]], start: int, cut: int
                     ) -> list[tuple[str, bytes]]:
    """``(user_id, session)`` of each user of ``crossing`` (as ``_crossing_sessions`` has
    them): their first session, clipped, packed as ``_packed_per_user`` packs them. It started
    before the packed weeks of the period, so its week is packed: it is found there by its start,
    one row a user, where a seek into ``sessions`` read every session of the user's week
    (L's day: 1,378 users; docs/performance.md)."""
    firsts = {user_id: first for user_id, _, first in crossing}
    found = []
    for (user_id, _), bounds in packed_weeks(conn, org_id, [(user_id, week_of(first)) for user_id, first in firsts.items()]
                                             ).items():
        started, ended = next(pair for pair in unpack(bounds) if pair[0] == firsts[user_id])
        found.append((user_id, _BIG_ENDIAN_PAIR.pack(max(started, start), min(ended, cut))))
    return found


def _per_product_pairs(packed: list[tuple[str, bytes]], users_of: UsersOf) -> Iterator[tuple[int, np.ndarray]]:
    """``(product index, (n, 2) array)`` of the users' sessions as PostgreSQL packs them (``_packed_pairs``)."""
    for index, bounds in _per_product(packed, users_of).items():
        yield index, np.frombuffer(b"".join(bounds), dtype=">i8").astype(np.int64).reshape(-1, 2)


def _packed_per_user(conn: Connection, org_id: str, users_of: UsersOf, start: int, cut: int, src: Sources,
                     started: tuple[int | None, int | None]) -> list[tuple[str, bytes]]:
    """On PostgreSQL, ``(user_id, sessions)`` for each user of ``users_of``: their sessions of
    ``_sessions_of``, clipped, packed by ``_clipped``; a user sought once for each part of
    ``src``'s sessions."""
    sought = rows_of(conn, _users_key, [(user_id,) for user_id in _charged_users(users_of)])
    parts = []
    for part in src.session_parts:
        c = part.c
        parts.append(select(_packed_pairs(c, start, cut))
                     .where(c.user_id == sought.c.user_id, *_in_period(part, org_id, start, cut, started))
                     .scalar_subquery())
    rows = binary_rows(conn, select(sought.c.user_id, *parts))
    return [(user_id, b"".join(bounds for bounds in packed if bounds)) for user_id, *packed in rows]


def first_device_activity(conn: Connection, org_id: str, start: int, cut: int, src: Sources = NOW
                          ) -> list[tuple[str, str, int]]:
    """``(device_type, device_id, first active instant)`` for devices active in ``[start, cut)``.

    Every day of the period is read from ``device_days``, one row per device and day: a whole
    day's first activity is the device's; so is a part day's, where it lies inside the part.
    Only a device whose day began before the part (a period's start) is sought in the log, by
    its id in the log's subject index (``_edge_activity``).
    """
    first_day, end_day = -(-start // DAY_MS) * DAY_MS, cut // DAY_MS * DAY_MS
    parts = []
    if first_day < end_day:
        d = src.device_days.c
        parts.append(select(d.device_type, d.device_id, func.min(d.first_active))
                     .where(d.org_id == org_id, d.day >= first_day, d.day < end_day)
                     .group_by(d.device_type, d.device_id))
        edges = [(start, first_day), (end_day, cut)]
    else:  # no whole day: the period lies within a day, or across one midnight
        edges = [(start, min(first_day, cut)), (first_day, cut)]
    parts += [_edge_activity(org_id, a, b, src) for a, b in edges if a < b]
    found: dict[tuple[str, str], int] = {}
    for part in parts:
        for device_type, device_id, first in plain_rows(conn, part):
            key = (device_type, device_id)
            if first is not None:
                found[key] = min(first, found.get(key, first))
    return [(device_type, device_id, first) for (device_type, device_id), first in found.items()]


def _edge_activity(org_id: str, start: int, cut: int, src: Sources) -> Select[Any]:
    """The first activity in ``[start, cut)``, a part of one UTC day, of each device active
    that day: the day's first from ``device_days`` when it lies in the part; when it came
    before, the device's first event of the part, sought by its id and day in the log's
    subject index (migration 0032: the log's index of device activity, 7.5 bytes an event on
    PostgreSQL, is gone)."""
    d, e = src.device_days.c, events.c
    day = start // DAY_MS * DAY_MS
    logged = (select(func.min(e.time))
              .where(e.org_id == org_id, e.event_day == day // DAY_MS, e.subject == d.device_id, e.type == DEVICE_ACTIVE,
                     e.device_type == d.device_type, e.time >= start, e.time < cut, *src.visible)
              .scalar_subquery())
    return (select(d.device_type, d.device_id, case((d.first_active >= start, d.first_active), else_=logged))
            .where(d.org_id == org_id, d.day == day, d.first_active < cut))


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
        .where(on_days(days), events.c.org_id == org_id, events.c.subject == user_id, events.c.type != DEVICE_ACTIVE,
               *src.visible)
        .limit(1)
    ).first() is not None
    if not known:
        return UserIntervals(None, None, {})
    email = conn.execute(select(src.users.c.email).where(src.users.c.org_id == org_id, src.users.c.user_id == user_id)).scalar()
    meets = [src.sessions.c.org_id == org_id, src.sessions.c.user_id == user_id, *ending_after(src.sessions.c.ended_at, start),
             src.sessions.c.started_at < cut]
    found = [(s, e) for s, e in conn.execute(select(src.sessions.c.started_at, src.sessions.c.ended_at).where(*meets))]
    held: dict[str, list[tuple[int, int]]] = {}
    query = select(src.holdings.c.product, src.holdings.c.started_at, src.holdings.c.ended_at).where(
        src.holdings.c.org_id == org_id, src.holdings.c.user_id == user_id, src.holdings.c.ended_at > start,
        src.holdings.c.started_at < cut)
    for product, started, ended in conn.execute(query):
        held.setdefault(product, []).append((started, ended))
    return UserIntervals(email, found, held)
