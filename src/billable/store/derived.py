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
    Connection,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    delete,
    func,
    select,
    tuple_,
    update,
)

from billable.rules.events import ASSIGNED, LOGIN, LOGOUT, UNASSIGNED
from billable.rules.intervals import intervals
from billable.store.sql import (
    LoopJoin,
    bulk_insert,
    create_if_missing,
    empty_temporary,
    insert_for,
    least,
    prefer_index_loops,
)
from billable.store.tables import device_days, events, holdings, sessions, users

# Keys to rebuild in this transaction: ``since`` is the earliest new event of the key,
# ``anchor`` the instant the walk restarts from. ``product`` is '' for sessions.
_replay = Table(
    "replay_keys",
    MetaData(),
    Column("user_id", String(256), nullable=False),
    Column("product", String(64), nullable=False),
    Column("since", BigInteger, nullable=False),
    Column("anchor", BigInteger),
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
    create_if_missing(conn, _replay)
    empty_temporary(conn, _replay)
    bulk_insert(conn, _replay, ("user_id", "product", "since"), [(u, p, t) for (u, p), t in since.items()])
    prefer_index_loops(conn)
    table, key = kind.table, _replay.c
    same_key = [table.c.org_id == org_id, table.c.user_id == key.user_id]
    if kind.by_product:
        same_key.append(table.c.product == key.product)
    open_at_since = (
        select(table.c.started_at)
        .where(*same_key, table.c.ended_at > key.since)
        .order_by(table.c.ended_at)
        .limit(1)
        .scalar_subquery()
    )
    conn.execute(update(_replay).values(anchor=least(key.since, func.coalesce(open_at_since, key.since))))

    doomed = conn.execute(
        select(table.c.user_id, key.product, table.c.ended_at).select_from(
            LoopJoin(_replay, table, and_(*same_key, table.c.ended_at > key.anchor))
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

    event_key = [events.c.org_id == org_id, events.c.subject == key.user_id, events.c.time >= key.anchor]
    if kind.by_product:
        event_key.append(events.c.product == key.product)
    walk = conn.execute(
        select(events.c.subject, key.product, events.c.time, events.c.type)
        .select_from(LoopJoin(_replay, events, and_(*event_key, events.c.type.in_((kind.opening, kind.closing)))))
        .order_by(events.c.subject, key.product, events.c.time, events.c.seq)
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
