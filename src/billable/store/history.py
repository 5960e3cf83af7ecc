"""The state derived from the log as it was at an earlier instant, for a report "as of" it.

The log keeps each event's arrival and each void's, so the organization's sequence at an
instant ``t`` (its last event or void acknowledged by then) splits the log in two: what
a report said at ``t`` counts the events up to that sequence that were not voided by then.

The derived state keeps its history (migration 0009): each row has the sequence that wrote
it, and a row replaced since is kept in a ``…_retired`` table with the sequence that
replaced it. The state at sequence ``s`` is read, not computed: the rows written at or
before ``s`` and not retired by then.

Before the organization's ``history_since`` (the rows from before that migration) there is
no history: only the keys (users, users and products, devices and days) that something
after ``t`` touched differ from the stored derived state, and each is walked again from
where it changed, exactly as ingestion rebuilds a key a late event reaches
(store/derived.py), over the events visible at ``t``. The report then reads the stored
state with those keys patched.
"""

from __future__ import annotations

from typing import NamedTuple

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
    cast,
    exists,
    func,
    literal,
    null,
    or_,
    select,
)

from billable.rules.intervals import OPEN
from billable.rules.touched import touched_by, walked_since
from billable.store import derived, session_weeks
from billable.store.events import newest_first, seq_after, seq_before, seq_is, with_email
from billable.store.reports import NOW, Parts, Sources
from billable.store.sql import rows_of
from billable.store.tables import (
    RETIRED,
    OrgKey,
    arrivals,
    device_days,
    ending_after,
    event_emails,
    event_voids,
    events,
    holdings,
    organizations,
    sessions,
    users,
)

_meta = MetaData()


def _temporary(name: str, *columns: tuple[str, bool], key: int = 0) -> Table:
    """A temporary table (on SQLite; rows_of) of text columns and, where True, instants;
    its first ``key`` columns are its primary key, which the report's look-ups seek."""
    return Table(name, _meta, *(Column(c, BigInteger() if instant else String(), primary_key=n < key)
                                for n, (c, instant) in enumerate(columns)), prefixes=["TEMPORARY"])


_TEXT, _INSTANT = False, True
# Each kind its own pair (a report's statement reads both kinds); product is '' for sessions.
_SESSIONS_THEN, _HOLDINGS_THEN = (
    (_temporary(f"asof_{name}_anchors", ("user_id", _TEXT), ("product", _TEXT), ("at", _INSTANT), key=2),
     _temporary(f"asof_{name}", ("user_id", _TEXT), ("product", _TEXT), ("ended_at", _INSTANT),
                ("started_at", _INSTANT), key=3))
    for name in ("sessions", "holdings"))
_device_keys = _temporary("asof_device_keys", ("day", _INSTANT), ("device_type", _TEXT), ("device_id", _TEXT), key=3)
_device_rows = _temporary("asof_device_days", ("day", _INSTANT), ("device_type", _TEXT), ("device_id", _TEXT),
                          ("first_active", _INSTANT), key=3)
_user_keys = _temporary("asof_user_keys", ("user_id", _TEXT), key=1)
_user_rows = _temporary("asof_users", ("user_id", _TEXT), ("email", _TEXT), ("email_time", _INSTANT),
                        ("email_seq", _INSTANT), key=1)


def sequence_at(conn: Connection, org_id: str, instant: int) -> int:
    """The organization's sequence at ``instant``: its last event or void acknowledged then."""
    e, a = events.c, arrivals.c
    received = select(func.max(a.seq)).where(a.org_id == org_id, a.received_at <= instant).scalar_subquery()
    v = event_voids.c
    voided = (select(func.max(e.void_seq)).select_from(events.join(event_voids, and_(v.org_id == e.org_id, seq_is(v.seq))))
              .where(e.org_id == org_id, v.org_id == org_id, v.voided_at <= instant).scalar_subquery())
    last_event, last_void = conn.execute(select(func.coalesce(received, 0), func.coalesce(voided, 0))).one()
    return max(int(last_event), int(last_void))


def as_of(conn: Connection, org_id: str, instant: int) -> Sources:
    """What a report reads to say what it said at ``instant``."""
    return at_sequence(conn, org_id, sequence_at(conn, org_id, instant))


def at_sequence(conn: Connection, org_id: str, sequence: int) -> Sources:
    """What a report reads to say what it said once the organization's log reached
    ``sequence`` (a closed period's, say)."""
    e = events.c
    visible = (e.seq <= sequence, or_(e.void_seq.is_(None), e.void_seq > sequence))
    last, history_since, latest = conn.execute(
        select(organizations.c.last_seq, organizations.c.history_since, organizations.c.latest_event_time)
        .where(organizations.c.id == org_id)).one()
    if sequence == last:
        return NOW
    if sequence >= history_since:
        last_time = conn.execute(select(e.time).where(e.org_id == org_id, seq_before(sequence, inclusive=True))
                                 .order_by(*newest_first()).limit(1)).scalar()

        def then(live: Table) -> Parts:
            return _history_at(org_id, live, sequence, last_time)
        return Sources(then(sessions), then(holdings), then(users), then(device_days), visible,
                       unchanged_before=session_weeks.unchanged_before(conn, org_id, sequence))
    return _walked(conn, org_id, sequence, visible, latest)


def _history_at(org_id: str, live: Table, sequence: int, last_time: int | None) -> Parts:
    """The rows of ``live`` at ``sequence``: written by then, and not retired by then; and
    those of intervals closed in place since (``last_time``: the time of the last event of
    the log at ``sequence``), as they were then."""
    retired = RETIRED[live]
    parts = (
        select(*live.c).where(live.c.org_id == org_id, live.c.created_seq <= sequence).subquery(),
        select(*(retired.c[c.name] for c in live.c)).where(
            retired.c.org_id == org_id, retired.c.created_seq <= sequence, retired.c.retired_seq > sequence).subquery(),
    )
    if "open_seq" not in live.c or last_time is None:
        return parts
    return parts + tuple(_open_then(org_id, live, table, sequence, last_time) for table in (live, retired))


def _open_then(org_id: str, live: Table, table: Table, sequence: int, last_time: int) -> FromClause:
    """The intervals of ``table`` (``live`` or its retired rows) that were open at ``sequence``
    and closed in place since: written open by then (``open_seq``), closed after it. Each ends
    later than every event of the log then (tables.py), so later than ``last_time``, where a
    look-up of a user's intervals starts (from its week, as the sessions are filed): it reads
    those written since, few for a recent instant, and all of them for an instant long past."""
    c = table.c
    then = {"ended_at": literal(OPEN, BigInteger()).label("ended_at"), "created_seq": c.open_seq.label("created_seq"),
            "open_seq": cast(null(), BigInteger()).label("open_seq")}
    return select(*(then.get(column.name, c[column.name]) for column in live.c)).where(
        c.org_id == org_id, c.open_seq <= sequence, c.created_seq > sequence, *ending_after(c.ended_at, last_time)).subquery()


def _walked(conn: Connection, org_id: str, sequence: int, visible: tuple[ColumnElement[bool], ...],
            latest: int | None) -> Sources:
    """The state at ``sequence``, from before the organization's history: walked again
    (``latest``: the log's latest event time)."""
    e = events.c
    read = select(e.seq, e.type, e.subject, e.time, e.product, e.device_type, event_emails.c.email).select_from(
        events.outerjoin(event_emails, with_email(org_id))).where(e.org_id == org_id)
    changed = [*conn.execute(read.where(seq_after(sequence))), *conn.execute(read.where(e.void_seq > sequence))]
    if not changed:
        return NOW
    assert latest is not None  # the log holds the events changed
    touched = touched_by((row.seq, _Changed(*row[1:])) for row in changed)
    return Sources(
        _intervals_then(conn, org_id, derived.SESSIONS, walked_since(touched.sessions), visible, latest),
        _intervals_then(conn, org_id, derived.HOLDINGS, walked_since(touched.holdings), visible, latest),
        _users_then(conn, org_id, set(touched.emails), visible),
        _device_days_then(conn, org_id, set(touched.device_days), visible),
        visible,
    )


class _Changed(NamedTuple):
    """An event changed since the instant, as ``touched_by`` reads it."""

    type: str
    subject: str
    time: int
    product: str | None
    device_type: str | None
    email: str | None


def _intervals_then(conn: Connection, org_id: str, kind: derived.IntervalKind, since: dict[tuple[str, str], int],
                    visible: tuple[ColumnElement[bool], ...], latest: int) -> Parts:
    """Sessions or holdings then: the stored ones, but those of each key touched since its
    anchor, which are walked again."""
    table = kind.table
    if not since:
        return (table,)
    anchors = derived.replay_anchors(conn, org_id, kind, since)
    rebuilt = derived.replayed_intervals(conn, org_id, kind, anchors, visible, latest)
    anchor_table, row_table = _HOLDINGS_THEN if kind.by_product else _SESSIONS_THEN
    key = rows_of(conn, anchor_table, anchors)
    added = rows_of(conn, row_table, [(user, product, ended, started) for user, product, started, ended in rebuilt])
    product = [table.c.product] if kind.by_product else []
    same_key = [key.c.user_id == table.c.user_id] + ([key.c.product == table.c.product] if kind.by_product else [])
    kept = select(table.c.org_id, table.c.user_id, *product, table.c.ended_at, table.c.started_at).where(
        table.c.org_id == org_id, ~exists().where(*same_key, table.c.ended_at > key.c.at))
    new = select(literal(org_id, OrgKey()).label("org_id"), added.c.user_id, *([added.c.product] if kind.by_product else []),
                 added.c.ended_at, added.c.started_at)
    return kept.subquery(), new.subquery()


def _device_days_then(conn: Connection, org_id: str, changed: set[tuple[int, str, str]],
                      visible: tuple[ColumnElement[bool], ...]) -> Parts:
    if not changed:
        return (device_days,)
    found = derived.first_activity(conn, org_id, changed, visible)
    key = rows_of(conn, _device_keys, list(changed))
    added = rows_of(conn, _device_rows, found)
    d = device_days.c
    kept = select(d.org_id, d.day, d.device_type, d.device_id, d.first_active).where(
        d.org_id == org_id,
        ~exists().where(key.c.day == d.day, key.c.device_type == d.device_type, key.c.device_id == d.device_id))
    new = select(literal(org_id, OrgKey()).label("org_id"), added.c.day, added.c.device_type, added.c.device_id,
                 added.c.first_active)
    return kept.subquery(), new.subquery()


def _users_then(conn: Connection, org_id: str, changed: set[str], visible: tuple[ColumnElement[bool], ...]
                ) -> Parts:
    if not changed:
        return (users,)
    found = []
    for user_id in sorted(changed):
        latest = derived.latest_email(conn, org_id, user_id, visible)
        if latest is not None:
            time, seq, email = latest
            found.append((user_id, email, time, seq))
    key = rows_of(conn, _user_keys, [(user_id,) for user_id in changed])
    added = rows_of(conn, _user_rows, found)
    u = users.c
    kept = select(u.org_id, u.user_id, u.email, u.email_time, u.email_seq).where(
        u.org_id == org_id, ~exists().where(key.c.user_id == u.user_id))
    new = select(literal(org_id, OrgKey()).label("org_id"), added.c.user_id, added.c.email, added.c.email_time, added.c.email_seq)
    return kept.subquery(), new.subquery()
