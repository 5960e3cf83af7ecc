"""The append-only event log."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.exc import DBAPIError

from billable.rules.events import UsageEvent
from billable.store.sql import bulk_insert, chunks
from billable.store.tables import events

_COLUMNS = ("org_id", "seq", "source", "event_id", "type", "subject", "time", "product", "device_type", "data",
            "received_at")
# SQLite binds at most 32,766 parameters per statement.
_KEYS_PER_QUERY = 5_000


def stored_keys(conn: Connection, org_id: str, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of ``keys`` (source, id) the organization has already stored, voided or not:
    a voided event is not revived by sending it again."""
    ids_by_source: dict[str, list[str]] = defaultdict(list)
    for source, event_id in keys:
        ids_by_source[source].append(event_id)
    found: set[tuple[str, str]] = set()
    # A batch has few sources: one plain IN list per source is an index seek per id.
    for source, ids in ids_by_source.items():
        for chunk in chunks(ids, _KEYS_PER_QUERY):
            query = select(events.c.event_id).where(
                events.c.org_id == org_id, events.c.source == source, events.c.event_id.in_(chunk)
            )
            found.update((source, event_id) for event_id in conn.execute(query).scalars())
    return found


def append_new_events(conn: Connection, org_id: str, batch: list[UsageEvent], first_seq: int, received_at: int
                      ) -> list[UsageEvent]:
    """Store those of ``batch`` (no key twice in it) whose ``(source, id)`` is not stored yet,
    voided or not, with arrival sequences ``first_seq``, ``first_seq + 1``, …; return them.

    The batch is first appended whole, inside a savepoint: the log's unique key refuses it if
    any of its keys is stored already (a client sending a batch again), and only then are
    the stored keys looked up and the rest appended. A batch with no such key costs no
    look-up beyond the one the unique key makes anyway. Any failure of the first append
    sends the batch the second way, not only the unique key's (Citus reports it as an
    internal error of the worker): a failure of another cause happens again there."""
    if not batch:
        return []
    try:
        with conn.begin_nested():
            append_events(conn, org_id, batch, first_seq, received_at)
        return batch
    except DBAPIError:
        pass
    already = stored_keys(conn, org_id, [event.key for event in batch])
    fresh = [event for event in batch if event.key not in already]
    append_events(conn, org_id, fresh, first_seq, received_at)
    return fresh


def append_events(conn: Connection, org_id: str, batch: list[UsageEvent], first_seq: int, received_at: int) -> None:
    """Store ``batch`` with arrival sequences ``first_seq``, ``first_seq + 1``, …"""
    if not batch:
        return
    bulk_insert(conn, events, _COLUMNS, [
        (org_id, first_seq + offset, event.source, event.id, event.type, event.subject, event.time, event.product,
         event.device_type, event.data_json(), received_at)
        for offset, event in enumerate(batch)
    ])


@dataclass(frozen=True)
class Void:
    """Why an event is no longer billed: the void's place in the arrival order, its instant,
    the client that voided it and the reason it gave."""

    seq: int
    at: int
    by: str
    reason: str


@dataclass(frozen=True)
class StoredEvent:
    """An event as the log keeps it, with its arrival, and its void if it was voided."""

    seq: int
    source: str
    event_id: str
    type: str
    subject: str
    time: int
    product: str | None
    device_type: str | None
    data: str  # JSON
    received_at: int
    void: Void | None


_c = events.c
_STORED = (_c.seq, _c.source, _c.event_id, _c.type, _c.subject, _c.time, _c.product, _c.device_type, _c.data,
           _c.received_at, _c.void_seq, _c.voided_at, _c.voided_by, _c.void_reason)


def _stored(row: Any) -> StoredEvent:
    seq, source, event_id, kind, subject, time, product, device_type, data, received_at, void_seq, at, by, why = row
    return StoredEvent(seq, source, event_id, kind, subject, time, product, device_type, data, received_at,
                       None if void_seq is None else Void(void_seq, at, by, why))


def find_events(conn: Connection, org_id: str, keys: list[tuple[str, str]]) -> dict[tuple[str, str], StoredEvent]:
    """The stored events of ``keys`` (source, id), voided or not; a key not stored is absent."""
    ids_by_source: dict[str, list[str]] = defaultdict(list)
    for source, event_id in keys:
        ids_by_source[source].append(event_id)
    found = {}
    for source, ids in ids_by_source.items():
        for chunk in chunks(ids, _KEYS_PER_QUERY):
            query = select(*_STORED).where(_c.org_id == org_id, _c.source == source, _c.event_id.in_(chunk))
            for row in conn.execute(query):
                event = _stored(row)
                found[(event.source, event.event_id)] = event
    return found


def events_after(conn: Connection, org_id: str, sequence: int) -> list[StoredEvent]:
    """The events that arrived after ``sequence``, and those voided after it, in arrival order."""
    found = {e.seq: e for e in map(_stored, conn.execute(select(*_STORED).where(_c.org_id == org_id, _c.seq > sequence)))}
    for row in conn.execute(select(*_STORED).where(_c.org_id == org_id, _c.void_seq > sequence)):
        found.setdefault(row[0], _stored(row))
    return [found[seq] for seq in sorted(found)]


def mark_voided(conn: Connection, org_id: str, voided: list[tuple[int, str]], void_seq: int, at: int, by: str) -> None:
    """Void the events of ``voided`` (seq, reason): kept, billed no longer."""
    conn.execute(
        update(events).where(_c.org_id == org_id, _c.seq == bindparam("v_seq"))
        .values(void_seq=void_seq, voided_at=at, voided_by=by, void_reason=bindparam("v_reason")),
        [{"v_seq": seq, "v_reason": reason} for seq, reason in voided],
    )


@dataclass(frozen=True)
class EventFilter:
    """Which of an organization's events to list; every field optional."""

    subject: str | None = None
    type: str | None = None
    start: int | None = None  # event time, inclusive
    end: int | None = None  # event time, exclusive
    received_after: int | None = None  # arrival instant, exclusive


def list_events(conn: Connection, org_id: str, chosen: EventFilter, before_seq: int | None, limit: int
                ) -> list[StoredEvent]:
    """The organization's events that ``chosen`` admits, newest arrival first, from the one
    arrived just before ``before_seq`` on (from the newest when None); at most ``limit``."""
    c = events.c
    conditions = [c.org_id == org_id]
    for column, value in ((c.subject, chosen.subject), (c.type, chosen.type)):
        if value is not None:
            conditions.append(column == value)
    if chosen.start is not None:
        conditions.append(c.time >= chosen.start)
    if chosen.end is not None:
        conditions.append(c.time < chosen.end)
    if chosen.received_after is not None:
        conditions.append(c.received_at > chosen.received_after)
    if before_seq is not None:
        conditions.append(c.seq < before_seq)
    query = select(*_STORED).where(*conditions).order_by(c.seq.desc()).limit(limit)
    return [_stored(row) for row in conn.execute(query)]
