"""State derived from the event log on ingestion: display names, sessions, holdings.

Sessions and holdings are rebuilt per key (a user, or a user and a product) from the
earliest instant a batch touched: the interval open at that instant is reopened and every
event of the key from its start is walked again, so an event arriving late takes its
place by time, and a batch in time order only extends the open interval.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    FromClause,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    delete,
    func,
    literal_column,
    or_,
    select,
    update,
)

from billable.rules.events import (
    ASSIGNED,
    DEVICE_ACTIVE,
    LOGIN,
    LOGOUT,
    UNASSIGNED,
)
from billable.rules.instants import DAY_MS
from billable.rules.intervals import OPEN, intervals
from billable.rules.touched import Transition
from billable.store import session_weeks
from billable.store.events import by_day, event_days, history_newest_first, on_days, with_email
from billable.store.sql import (
    LoopJoin,
    bulk_delete,
    bulk_insert,
    chunks,
    least,
    plain_rows,
    prefer_index_loops,
    rows_of,
)
from billable.store.tables import (
    RETIRED,
    device_days,
    ending_after,
    event_emails,
    events,
    first_ending,
    holdings,
    sessions,
    users,
)

# Keys to rebuild: ``at`` is first the earliest new event of the key, then the instant the
# walk restarts from. ``product`` is '' for sessions.
_replay = Table(
    "replay_keys",
    MetaData(),
    Column("user_id", String(256), nullable=False),
    Column("product", String(64), nullable=False),
    Column("at", BigInteger, nullable=False),
    prefixes=["TEMPORARY"],
)


# The same keys once for each day from ``at``'s on: a walk seeks the log's subject index day by day.
_replay_days = Table("replay_days", MetaData(), *(Column(c.name, c.type, nullable=False) for c in _replay.columns),
                     Column("day", BigInteger, nullable=False), prefixes=["TEMPORARY"])


def from_anchor(anchors: Iterable[tuple[str, str, int]], until: int) -> list[tuple[str, str, int, int]]:
    """Each ``(user_id, product, at)`` once for each day from ``at``'s to ``until``'s, for a
    look-up of the key's events from ``at`` on (``subject_from``)."""
    return [(user_id, product, at, day) for user_id, product, at in anchors for day in event_days(at, until)]


def subject_from(key: FromClause) -> list[ColumnElement[bool]]:
    """The events of ``key``'s subject (``user_id``) at or after its ``at``, on its ``day``."""
    return [by_day(key), events.c.subject == key.c.user_id, events.c.time >= key.c.at]


@dataclass(frozen=True)
class IntervalKind:
    """Sessions or holdings: the table and the events that open and close them."""

    table: Table
    opening: str
    closing: str
    by_product: bool
    packed_weekly: bool  # also kept packed per user and week (session_weeks.py), and filed by week (tables.py)

    def ending_after(self, at: ColumnElement[int]) -> tuple[ColumnElement[bool], ...]:
        """The intervals ending after ``at``, as the table's index finds them."""
        ended = self.table.c.ended_at
        return ending_after(ended, at) if self.packed_weekly else (ended > at,)

    def first_ending(self) -> tuple[ColumnElement[int], ...]:
        ended = self.table.c.ended_at
        return first_ending(ended) if self.packed_weekly else (ended,)


NOT_VOIDED: tuple[ColumnElement[bool], ...] = (events.c.void_seq.is_(None),)  # the events that count now

SESSIONS = IntervalKind(sessions, LOGIN, LOGOUT, by_product=False, packed_weekly=True)
HOLDINGS = IntervalKind(holdings, ASSIGNED, UNASSIGNED, by_product=True, packed_weekly=False)


def update_intervals(conn: Connection, org_id: str, kind: IntervalKind, arrived: dict[tuple[str, str], list[Transition]],
                     latest_before: int | None, until: int, version: int) -> None:
    """Take newly appended events into the intervals of their ``(user_id, product)`` keys.

    ``latest_before`` is the latest event time the log held before them (None: it held
    none), ``until`` the latest it holds with them. A key whose new events all come at or
    after ``latest_before`` continues from its stored state (no event of the key lies later,
    and a walk may start from the opening of the interval open then, intervals.py), so the
    log is not read again; any other key is rebuilt from its earliest new event on
    (``rebuild_intervals``)."""
    extended: dict[tuple[str, str], list[Transition]] = {}
    rebuilt: dict[tuple[str, str], int] = {}
    for key, transitions in arrived.items():
        transitions.sort()
        if latest_before is None or transitions[0][0] >= latest_before:
            extended[key] = transitions
        else:
            rebuilt[key] = transitions[0][0]
    rebuild_intervals(conn, org_id, kind, rebuilt, until, version, latest_before)
    _extend_intervals(conn, org_id, kind, extended, version, latest_before)


def _extend_intervals(conn: Connection, org_id: str, kind: IntervalKind,
                      walks: dict[tuple[str, str], list[Transition]], version: int, latest_before: int | None) -> None:
    """Walk each key's ``walks`` (in walking order, none before a stored event of the key)
    from the key's stored state: its interval still open, if one is."""
    if not walks:
        return
    # What a key has stored ending after its first new event can only be its open interval:
    # a closed one ends at an event of the log, which has none later than these.
    stored = _stored_from(conn, org_id, kind, [(user, product, walk[0][0]) for (user, product), walk in walks.items()],
                          open_only=True)
    open_since = {(user, product): started for user, product, started, _ in stored}
    rebuilt = set()
    for (user, product), walk in walks.items():
        opened = open_since.get((user, product))
        steps = [(time, opens) for time, _, opens in walk]
        for started, ended in intervals(steps if opened is None else [(opened, True), *steps]):
            rebuilt.add((user, product, started, ended))
    _replace_intervals(conn, org_id, kind, stored, rebuilt, version, latest_before)


def rebuild_intervals(conn: Connection, org_id: str, kind: IntervalKind, since: dict[tuple[str, str], int],
                      until: int, version: int, latest_before: int | None) -> None:
    """Rebuild the intervals of each ``(user_id, product)`` key from ``since[key]`` on, over
    the log's events up to ``until`` (its latest event time); what changes is written at
    ``version`` (the organization's sequence at this commit), what it replaces retired there
    (``latest_before``: the log's latest event time before this commit's events)."""
    if not since:
        return
    anchors = replay_anchors(conn, org_id, kind, since)
    stored = _stored_from(conn, org_id, kind, anchors)
    rebuilt = replayed_intervals(conn, org_id, kind, anchors, NOT_VOIDED, until)
    _replace_intervals(conn, org_id, kind, stored, set(rebuilt), version, latest_before)


Interval = tuple[str, str, int, int]
"""``(user_id, product, started_at, ended_at)``; product is '' for sessions."""

Versions = tuple[int, int | None]
"""A stored interval's ``(created_seq, open_seq)``."""


def _stored_from(conn: Connection, org_id: str, kind: IntervalKind, keys: list[tuple[str, str, int]],
                 open_only: bool = False) -> dict[Interval, Versions]:
    """The stored intervals of each ``(user_id, product, at)`` that end after ``at``, with
    their versions; ``open_only``: the caller knows that only an open one can, and sessions
    are sought among the open ones (``tables.sessions_open``, whose condition the statement
    names as it is written there, so that both planners can use it)."""
    table = kind.table
    key = rows_of(conn, _replay, keys)
    ends = [*kind.ending_after(key.c.at)]
    if open_only:
        ends.append(table.c.ended_at == literal_column(str(OPEN)))
    return {(user, product, started, ended): (created, opened) for user, product, started, ended, created, opened in plain_rows(
        conn, select(table.c.user_id, key.c.product, table.c.started_at, table.c.ended_at, table.c.created_seq,
                     table.c.open_seq)
        .select_from(LoopJoin(key, table, and_(*_same_key(kind, org_id, key), *ends)))
    )}


def _replace_intervals(conn: Connection, org_id: str, kind: IntervalKind, stored: dict[Interval, Versions],
                       rebuilt: set[Interval], version: int, latest_before: int | None) -> None:
    """Make ``rebuilt`` what replaces ``stored``: delete and retire what is no longer, insert what is new.

    An open interval that ``rebuilt`` closes at an end later than ``latest_before`` is closed
    in place: the closed row keeps the sequence the open one was written at (``open_seq``,
    tables.py) instead of a retired row for it."""
    table = kind.table
    doomed = {interval: versions for interval, versions in stored.items() if interval not in rebuilt}
    added = rebuilt - stored.keys()
    if kind.packed_weekly:
        session_weeks.repack(conn, org_id, [(u, s, e) for u, _, s, e in doomed], [(u, s, e) for u, _, s, e in added])
    if doomed:
        key = ("user_id", "product", "ended_at") if kind.by_product else ("user_id", "ended_at")
        bulk_delete(conn, table, org_id, key, [(u, p, e) if kind.by_product else (u, e) for u, p, _, e in doomed],
                    weekly="ended_at" if kind.packed_weekly else None)

    def row(user: str, product: str, *rest: int | None) -> tuple[Any, ...]:
        return (org_id, user, *((product,) if kind.by_product else ()), *rest)

    seen = _seen_versions(doomed, version)
    rows = []
    for user, product, started, ended in added:
        in_place = latest_before is not None and ended > latest_before
        opened = seen.pop((user, product, started, OPEN), (None, None))[0] if in_place else None
        rows.append(row(user, product, ended, started, version, opened))
    retired = RETIRED[table]
    bulk_insert(conn, retired, tuple(c.name for c in retired.columns),
                [row(user, product, ended, started, *versions, version)
                 for (user, product, started, ended), versions in seen.items()])
    # In the order of their users, as the key files them: each page of the key is then
    # written once, in turn, not once for each of its rows in the order of a set (L on
    # PostgreSQL, whose key outgrows the shared buffers: 200,000 sessions in 2.6-3.7 s
    # instead of 4.0-5.1; docs/performance.md).
    rows.sort(key=itemgetter(1))
    bulk_insert(conn, table, tuple(c.name for c in table.columns), rows)


def _retire(conn: Connection, table: Table, rows: list[tuple[Any, ...]], version: int) -> None:
    """Keep ``rows`` of ``table`` (its columns in order, ``created_seq`` last), replaced at
    ``version``, in its ``…_retired`` table; a row written at ``version`` itself was never seen."""
    kept = [(*row, version) for row in rows if row[-1] != version]
    retired = RETIRED[table]
    bulk_insert(conn, retired, tuple(c.name for c in retired.columns), kept)


def _seen_versions(doomed: dict[Interval, Versions], version: int) -> dict[Interval, Versions]:
    """The versions of the ``doomed`` intervals that reports have seen: a row written at
    ``version`` itself was never seen as closed, but its open version was, if it has one."""
    seen: dict[Interval, Versions] = {}
    for (user, product, started, ended), (created, opened) in doomed.items():
        if created != version:
            seen[(user, product, started, ended)] = (created, opened)
        elif opened is not None:
            seen[(user, product, started, OPEN)] = (opened, None)
    return seen


def _same_key(kind: IntervalKind, org_id: str, key: FromClause) -> list[ColumnElement[bool]]:
    table = kind.table
    found = [table.c.org_id == org_id, table.c.user_id == key.c.user_id]
    if kind.by_product:
        found.append(table.c.product == key.c.product)
    return found


def replay_anchors(conn: Connection, org_id: str, kind: IntervalKind, since: dict[tuple[str, str], int]
                   ) -> list[tuple[str, str, int]]:
    """``(user_id, product, anchor)``: where the walk of each key restarts so as to take in
    what changed at ``since[key]`` or later: the start of the stored interval open at
    ``since``, if one is, else ``since``. Stored intervals ending at or before the anchor
    stay as they are."""
    prefer_index_loops(conn)
    table = kind.table
    key = rows_of(conn, _replay, [(u, p, t) for (u, p), t in since.items()])
    open_at_since = (
        select(table.c.started_at)
        .where(*_same_key(kind, org_id, key), *kind.ending_after(key.c.at))
        .order_by(*kind.first_ending())
        .limit(1)
        .scalar_subquery()
    )
    return [tuple(row) for row in conn.execute(select(
        key.c.user_id, key.c.product, least(key.c.at, func.coalesce(open_at_since, key.c.at))))]


def replayed_intervals(conn: Connection, org_id: str, kind: IntervalKind, anchors: list[tuple[str, str, int]],
                       visible: Sequence[ColumnElement[bool]], until: int) -> list[tuple[str, str, int, int]]:
    """``(user_id, product, started_at, ended_at)``: the intervals of each key from its
    anchor on, walked over the events ``visible`` admits (the latest of the log at ``until``)."""
    prefer_index_loops(conn)
    key = rows_of(conn, _replay_days, from_anchor(anchors, until))
    event_key = [events.c.org_id == org_id, *subject_from(key), *visible]
    if kind.by_product:
        event_key.append(events.c.product == key.c.product)
    walk = conn.execute(
        select(events.c.subject, key.c.product, events.c.time, events.c.type)
        .select_from(LoopJoin(key, events, and_(*event_key, events.c.type.in_((kind.opening, kind.closing)))))
        .order_by(events.c.subject, key.c.product, events.c.time, events.c.seq)
    )
    rebuilt = []
    for (user_id, product), rows in groupby(walk, key=lambda row: (row[0], row[1])):
        for started_at, ended_at in intervals((row.time, row.type == kind.opening) for row in rows):
            rebuilt.append((user_id, product, started_at, ended_at))
    return rebuilt


_device_keys = Table(
    "device_keys",
    MetaData(),
    Column("device_id", String(256), nullable=False),
    Column("device_type", String(64), nullable=False),
    Column("day", BigInteger, nullable=False),
    prefixes=["TEMPORARY"],
)


def rebuild_device_days(conn: Connection, org_id: str, keys: set[tuple[int, str, str]], version: int) -> None:
    """Find again the first activity of each ``(day, device_type, device_id)`` from the log's
    events that are not voided (none left: the device was not active that day)."""
    if not keys:
        return
    found = {(day, kind, device): at for day, kind, device, at in first_activity(conn, org_id, keys, NOT_VOIDED)}
    stored = _stored_device_days(conn, org_id, keys)
    _replace_device_days(conn, org_id, stored, {key: found.get(key) for key in keys
                                                if found.get(key) != stored.get(key, (None, 0))[0]}, version)


def record_device_days(conn: Connection, org_id: str, first: dict[tuple[int, str, str], int], version: int) -> None:
    """Keep the first activity per ``(day, device_type, device_id)``; ``first`` from one batch."""
    if not first:
        return
    stored = _stored_device_days(conn, org_id, set(first))
    _replace_device_days(conn, org_id, stored, {key: at for key, at in first.items()
                                                if key not in stored or at < stored[key][0]}, version)


def _stored_device_days(conn: Connection, org_id: str, keys: set[tuple[int, str, str]]
                        ) -> dict[tuple[int, str, str], tuple[int, int]]:
    """``(first_active, created_seq)`` of those of ``keys`` stored."""
    key = rows_of(conn, _device_keys, [(device, kind, day) for day, kind, device in keys])
    d = device_days.c
    return {(day, kind, device): (at, created) for day, kind, device, at, created in conn.execute(
        select(d.day, d.device_type, d.device_id, d.first_active, d.created_seq).select_from(LoopJoin(key, device_days, and_(
            d.org_id == org_id, d.day == key.c.day, d.device_type == key.c.device_type, d.device_id == key.c.device_id))))}


def _replace_device_days(conn: Connection, org_id: str, stored: dict[tuple[int, str, str], tuple[int, int]],
                         wanted: dict[tuple[int, str, str], int | None], version: int) -> None:
    """Set each key of ``wanted`` to its first activity (None: no row), retiring what was stored."""
    replaced = [(key, *stored[key]) for key in wanted if key in stored]
    if replaced:
        bulk_delete(conn, device_days, org_id, ("day", "device_type", "device_id"), [key for key, _, _ in replaced])
        _retire(conn, device_days, [(org_id, *key, at, created) for key, at, created in replaced], version)
    bulk_insert(conn, device_days, ("org_id", "day", "device_type", "device_id", "first_active", "created_seq"),
                [(org_id, *key, at, version) for key, at in wanted.items() if at is not None])


def first_activity(conn: Connection, org_id: str, keys: set[tuple[int, str, str]], visible: Sequence[ColumnElement[bool]]
                   ) -> list[tuple[int, str, str, int]]:
    """``(day, device_type, device_id, first active)`` of each of ``keys`` in the events
    ``visible`` admits; a key with none is absent."""
    key = rows_of(conn, _device_keys, [(device, kind, day) for day, kind, device in keys])
    e = events.c
    return [tuple(row) for row in conn.execute(
        select(key.c.day, key.c.device_type, key.c.device_id, func.min(e.time))
        .select_from(LoopJoin(key, events, and_(
            e.org_id == org_id, e.event_day == key.c.day // DAY_MS, e.subject == key.c.device_id,
            e.time >= key.c.day, e.time < key.c.day + DAY_MS,
            e.type == DEVICE_ACTIVE, e.device_type == key.c.device_type, *visible)))
        .group_by(key.c.day, key.c.device_type, key.c.device_id)
    )]


def latest_email(conn: Connection, org_id: str, user_id: str, visible: Sequence[ColumnElement[bool]]
                 ) -> tuple[int, int, str] | None:
    """``(time, seq, email)`` of the user's latest event that carries an email and that
    ``visible`` admits (None: none), read a month at a time from the log's latest day back,
    not sorted whole."""
    e = events.c
    for days in history_newest_first(conn, org_id):
        found = conn.execute(
            select(e.time, e.seq, event_emails.c.email)
            .select_from(events.join(event_emails, with_email(org_id)))
            .where(on_days(days), e.org_id == org_id, e.subject == user_id, e.email_id.is_not(None), *visible)
            .order_by(e.time.desc(), e.seq.desc()).limit(1)).first()
        if found is not None:
            return (found[0], found[1], found[2])
    return None


def emails(conn: Connection, org_id: str, user_ids: list[str]) -> dict[str, str]:
    """The display names (emails) of those of ``user_ids`` that have one."""
    u = users.c
    found = {}
    for chunk in chunks(user_ids, 5_000):
        query = select(u.user_id, u.email).where(u.org_id == org_id, u.user_id.in_(chunk))
        found.update({user_id: email for user_id, email in conn.execute(query)})
    return found


def forget_email(conn: Connection, org_id: str, user_id: str, version: int) -> None:
    u = users.c
    row = conn.execute(select(*users.c).where(u.org_id == org_id, u.user_id == user_id)).first()
    if row is not None:
        conn.execute(delete(users).where(u.org_id == org_id, u.user_id == user_id))
        _retire(conn, users, [tuple(row)], version)


def record_emails(conn: Connection, org_id: str, latest: dict[str, tuple[int, int, str]], latest_before: int | None,
                  until: int, version: int) -> None:
    """Keep each user's email, that of their latest event that carries one (by time, then
    arrival). ``latest[user] = (time, seq, email)``: the user's latest such event of the events
    just appended, which the log already holds; ``latest_before`` is the latest event time the
    log held before them (None: none), ``until`` the latest with them. One at or after
    ``latest_before`` is the latest of all; an earlier one is the latest only if the log has
    no event carrying an email after it."""
    late = {user_id: time for user_id, (time, _, _) in latest.items()
            if latest_before is not None and time < latest_before}
    superseded = _emailed_after(conn, org_id, late, until) if late else set()
    set_emails(conn, org_id, {user_id: mark for user_id, mark in latest.items() if user_id not in superseded}, version)


# Users and the emails a batch gives them: set_emails seeks each, and reads back only those
# whose stored email differs or who have none.
_user_emails = Table("user_emails", MetaData(), Column("user_id", String(256), nullable=False),
                     Column("email", String(320), nullable=False), prefixes=["TEMPORARY"])


def _emailed_after(conn: Connection, org_id: str, since: dict[str, int], until: int) -> set[str]:
    """Those of ``since`` with an event not voided that carries an email after ``since[user]``
    (``until``: the log's latest event time)."""
    prefer_index_loops(conn)
    key = rows_of(conn, _replay_days, from_anchor([(user_id, "", at + 1) for user_id, at in since.items()], until))
    e = events.c
    found = conn.execute(select(e.subject).select_from(LoopJoin(key, events, and_(
        e.org_id == org_id, *subject_from(key), e.email_id.is_not(None), *NOT_VOIDED))))
    return set(found.scalars())


def set_emails(conn: Connection, org_id: str, emails: dict[str, tuple[int, int, str]], version: int) -> None:
    """Make ``emails[user] = (time, seq, email)`` each user's email, given by the event at
    ``(time, seq)``. A changed email is written at ``version`` and the one it replaces retired
    there; the same email again writes nothing (its mark stays the event that first gave it)."""
    if not emails:
        return
    u = users.c
    prefer_index_loops(conn)
    key = rows_of(conn, _user_emails, [(user_id, email) for user_id, (_, _, email) in emails.items()])
    # Only the users who have no row, or another email: most of a batch's users keep theirs,
    # and L's batches read back a row for each (docs/performance.md). Each stored row whole,
    # for its retirement, led by the organization as it is named here: selected, the column
    # would cost SQLite a look-up of the id a row (``OrgKey``).
    differing = select(key.c.user_id, *(c for c in users.c if c not in (u.org_id, u.user_id))).select_from(
        key.outerjoin(users, and_(u.org_id == org_id, u.user_id == key.c.user_id))
    ).where(or_(u.user_id.is_(None), u.email != key.c.email))
    added, changed, replaced = [], [], []
    for user_id, *stored in plain_rows(conn, differing):
        time, seq, email = emails[user_id]
        if stored[0] is None:
            added.append((org_id, user_id, email, time, seq, version))
        else:
            replaced.append((org_id, user_id, *stored))
            changed.append({"k_user": user_id, "email": email, "email_time": time, "email_seq": seq,
                            "created_seq": version})
    bulk_insert(conn, users, tuple(c.name for c in users.columns), added)
    if changed:
        conn.execute(update(users).where(u.org_id == org_id, u.user_id == bindparam("k_user")), changed)
        _retire(conn, users, replaced, version)
