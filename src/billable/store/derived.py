"""State derived from the event log on ingestion: display names, sessions, holdings.

Sessions and holdings are rebuilt per key (a user, or a user and a product) from the
earliest instant a batch touched: the interval open at that instant is reopened and every
event of the key from its start is walked again, so an event arriving late takes its
place by time, and a batch in time order only extends the open interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby

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
    select,
    tuple_,
)

from billable.rules.events import ASSIGNED, LOGIN, LOGOUT, UNASSIGNED
from billable.rules.intervals import intervals
from billable.store.sql import (
    LoopJoin,
    bulk_insert,
    insert_for,
    least,
    prefer_index_loops,
    rows_of,
)
from billable.store.tables import device_days, events, holdings, sessions, users

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


@dataclass(frozen=True)
class IntervalKind:
    """Sessions or holdings: the table and the events that open and close them."""

    table: Table
    opening: str
    closing: str
    by_product: bool


SESSIONS = IntervalKind(sessions, LOGIN, LOGOUT, by_product=False)
HOLDINGS = IntervalKind(holdings, ASSIGNED, UNASSIGNED, by_product=True)


def rebuild_intervals(conn: Connection, org_id: str, kind: IntervalKind, since: dict[tuple[str, str], int]) -> None:
    """Rebuild the intervals of each ``(user_id, product)`` key from ``since[key]`` on."""
    if not since:
        return
    prefer_index_loops(conn)
    table = kind.table

    def same_key(key: FromClause) -> list[ColumnElement[bool]]:
        found = [table.c.org_id == org_id, table.c.user_id == key.c.user_id]
        if kind.by_product:
            found.append(table.c.product == key.c.product)
        return found

    # The walk restarts from the start of the interval open at ``since``, if one is.
    key = rows_of(conn, _replay, [(u, p, t) for (u, p), t in since.items()])
    open_at_since = (
        select(table.c.started_at)
        .where(*same_key(key), table.c.ended_at > key.c.at)
        .order_by(table.c.ended_at)
        .limit(1)
        .scalar_subquery()
    )
    anchors = conn.execute(select(key.c.user_id, key.c.product,
                                  least(key.c.at, func.coalesce(open_at_since, key.c.at)))).all()
    key = rows_of(conn, _replay, [tuple(row) for row in anchors])

    doomed = conn.execute(
        select(table.c.user_id, key.c.product, table.c.ended_at).select_from(
            LoopJoin(key, table, and_(*same_key(key), table.c.ended_at > key.c.at))
        )
    ).all()
    if doomed:
        doomed_key = [table.c.user_id == bindparam("d_user"), table.c.ended_at == bindparam("d_end")]
        if kind.by_product:
            doomed_key.append(table.c.product == bindparam("d_product"))
        conn.execute(
            delete(table).where(table.c.org_id == org_id, *doomed_key),
            [{"d_user": u, "d_product": p, "d_end": e} for u, p, e in doomed],
        )

    event_key = [events.c.org_id == org_id, events.c.subject == key.c.user_id, events.c.time >= key.c.at]
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
            rebuilt.append((org_id, user_id, product, started_at, ended_at) if kind.by_product
                           else (org_id, user_id, started_at, ended_at))
    columns = ("org_id", "user_id", "product", "started_at", "ended_at")
    bulk_insert(conn, table, columns if kind.by_product else tuple(c for c in columns if c != "product"), rebuilt)


def record_device_days(conn: Connection, org_id: str, first: dict[tuple[int, str, str], int]) -> None:
    """Keep the first activity per ``(day, device_type, device_id)``; ``first`` from one batch."""
    if not first:
        return
    insert = insert_for(conn, device_days)
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=[device_days.c.org_id, device_days.c.day, device_days.c.device_type, device_days.c.device_id],
            set_={"first_active": least(device_days.c.first_active, insert.excluded.first_active)},
        ),
        [{"org_id": org_id, "day": day, "device_type": kind, "device_id": device, "first_active": at}
         for (day, kind, device), at in first.items()],
    )


def record_emails(conn: Connection, org_id: str, latest: dict[str, tuple[int, int, str]]) -> None:
    """Keep each user's latest email; ``latest[user] = (time, seq, email)`` from one batch."""
    if not latest:
        return
    insert = insert_for(conn, users)
    rows = [
        {"org_id": org_id, "user_id": user_id, "email": email, "email_time": time, "email_seq": seq}
        for user_id, (time, seq, email) in latest.items()
    ]
    newer = tuple_(insert.excluded.email_time, insert.excluded.email_seq) > tuple_(users.c.email_time, users.c.email_seq)
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=[users.c.org_id, users.c.user_id],
            set_={"email": insert.excluded.email, "email_time": insert.excluded.email_time, "email_seq": insert.excluded.email_seq},
            where=newer,
        ),
        rows,
    )
