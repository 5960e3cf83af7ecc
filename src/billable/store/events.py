"""The append-only event log."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    FromClause,
    MetaData,
    Select,
    Table,
    and_,
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError

from billable.rules.events import UsageEvent, stored_email
from billable.rules.instants import DAY_MS
from billable.store.organizations import event_times
from billable.store.sql import LoopJoin, bulk_insert, chunks, rows_of
from billable.store.tables import event_sources, events, oauth_clients

_COLUMNS = ("org_id", "seq", "source_id", "event_id", "type", "subject", "time", "event_day", "product", "device_type",
            "data", "received_at")
# SQLite binds at most 32,766 parameters per statement.
_KEYS_PER_QUERY = 5_000


_log_days = Table("log_days", MetaData(), Column("day", BigInteger, nullable=False), prefixes=["TEMPORARY"])


def event_days(first: int, last: int) -> range:
    """The days (``events.event_day``) from the instant ``first``'s to ``last``'s, both included."""
    return range(first // DAY_MS, last // DAY_MS + 1)


def by_day(days: FromClause) -> ColumnElement[bool]:
    """The log's events of the day in ``days.c.day``: how a look-up of a subject's events
    seeks the log's subject index (``events_by_day``), a day at a time."""
    return events.c.event_day == days.c.day


def whole_history(conn: Connection, org_id: str, start: int | None = None, end: int | None = None
                  ) -> FromClause | None:
    """Every day of the organization's log, from its earliest event's to its latest's (of
    those, the days of ``[start, end)`` when given), as rows to look a subject's history up
    from (``by_day``); None: no event can be there."""
    times = event_times(conn, org_id)
    if times is None:
        return None
    first, last = times
    if start is not None:
        first = max(first, start)
    if end is not None:
        last = min(last, end - 1)
    return None if first > last else _day_rows(conn, event_days(first, last))


def history_newest_first(conn: Connection, org_id: str, step: int = 31) -> Iterator[FromClause]:
    """The days of the organization's log as ``whole_history`` gives them, ``step`` days at a
    time from the latest back: for a look-up that wants a subject's latest events and stops
    at the first it finds. Each part replaces the one before: read it before the next."""
    times = event_times(conn, org_id)
    if times is None:
        return
    days = event_days(*times)
    for end in range(len(days), 0, -step):
        yield _day_rows(conn, days[max(0, end - step):end])


def _day_rows(conn: Connection, days: range) -> FromClause:
    return rows_of(conn, _log_days, [(day,) for day in days])


def _source_ids(conn: Connection, org_id: str, sources: Iterable[str]) -> dict[str, int]:
    """The numbers of those of ``sources`` the organization has stored events from."""
    found: dict[str, int] = {}
    s = event_sources.c
    for chunk in chunks(list(set(sources)), _KEYS_PER_QUERY):
        found.update((source, number) for source, number in conn.execute(
            select(s.source, s.id).where(s.org_id == org_id, s.source.in_(chunk))))
    return found


def _numbered_sources(conn: Connection, org_id: str, batch: list[UsageEvent]) -> dict[str, int]:
    """The numbers of the sources of ``batch``; one not known yet is numbered after the
    organization's last (the caller holds the organization locked, as ingestion does)."""
    arrived = list(dict.fromkeys(event.source for event in batch))  # in the order they came
    known = _source_ids(conn, org_id, arrived)
    new = [source for source in arrived if source not in known]
    if new:
        s = event_sources.c
        last = conn.execute(select(func.coalesce(func.max(s.id), 0)).where(s.org_id == org_id)).scalar_one()
        numbered = {source: last + offset for offset, source in enumerate(new, start=1)}
        bulk_insert(conn, event_sources, ("org_id", "id", "source"),
                    [(org_id, number, source) for source, number in numbered.items()])
        known.update(numbered)
    return known


def _ids_by_source(conn: Connection, org_id: str, keys: list[tuple[str, str]]) -> dict[tuple[str, int], list[str]]:
    """The event ids of ``keys`` (source, id) by their source and its number; a source the
    organization has no event from is left out, and so are its keys."""
    numbers = _source_ids(conn, org_id, (source for source, _ in keys))
    ids_by_source: dict[tuple[str, int], list[str]] = defaultdict(list)
    for source, event_id in keys:
        if source in numbers:
            ids_by_source[(source, numbers[source])].append(event_id)
    return ids_by_source


def stored_keys(conn: Connection, org_id: str, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of ``keys`` (source, id) the organization has already stored, voided or not:
    a voided event is not revived by sending it again."""
    found: set[tuple[str, str]] = set()
    # A batch has few sources: one plain IN list per source is an index seek per id.
    for (source, number), ids in _ids_by_source(conn, org_id, keys).items():
        for chunk in chunks(ids, _KEYS_PER_QUERY):
            query = select(events.c.event_id).where(
                events.c.org_id == org_id, events.c.source_id == number, events.c.event_id.in_(chunk)
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
    numbers = _numbered_sources(conn, org_id, batch)
    try:
        with conn.begin_nested():
            _append(conn, org_id, batch, numbers, first_seq, received_at)
        return batch
    except DBAPIError:
        pass
    already = stored_keys(conn, org_id, [event.key for event in batch])
    fresh = [event for event in batch if event.key not in already]
    _append(conn, org_id, fresh, numbers, first_seq, received_at)
    return fresh


def _append(conn: Connection, org_id: str, batch: list[UsageEvent], numbers: dict[str, int], first_seq: int,
            received_at: int) -> None:
    """Store ``batch`` with arrival sequences ``first_seq``, ``first_seq + 1``, …"""
    if not batch:
        return
    bulk_insert(conn, events, _COLUMNS, [
        (org_id, first_seq + offset, numbers[event.source], event.id, event.type, event.subject, event.time,
         event.time // DAY_MS, event.product, event.device_type, event.data_json(), received_at)
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
    by_name: str | None = None  # the name of the client that voided it, if one of the organization's did


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

    @property
    def email(self) -> str | None:
        """The email its data names, for the types whose data may name one."""
        return stored_email(self.type, self.data)


_c = events.c
_STORED = (_c.seq, event_sources.c.source, _c.event_id, _c.type, _c.subject, _c.time, _c.product, _c.device_type,
           _c.data, _c.received_at, _c.void_seq, _c.voided_at, _c.voided_by, _c.void_reason, oauth_clients.c.name)


def _stored_events(org_id: str, listed: FromClause = events) -> Select[Any]:
    """The organization's events (of ``listed``, which holds the log) as ``_stored`` reads
    them, each with its source. Both tables name the organization, not only the join: on
    Citus each must, to run on its worker."""
    s, voider = event_sources.c, oauth_clients.c
    return (select(*_STORED)
            .select_from(listed.join(event_sources, and_(s.org_id == _c.org_id, s.id == _c.source_id)).outerjoin(
                oauth_clients, and_(voider.client_id == _c.voided_by, voider.org_id == org_id)))
            .where(_c.org_id == org_id, s.org_id == org_id))


def _stored(row: Any) -> StoredEvent:
    seq, source, event_id, kind, subject, time, product, device_type, data, received_at, void_seq, at, by, why, name = row
    return StoredEvent(seq, source, event_id, kind, subject, time, product, device_type, data, received_at,
                       None if void_seq is None else Void(void_seq, at, by, why, name))


def find_events(conn: Connection, org_id: str, keys: list[tuple[str, str]]) -> dict[tuple[str, str], StoredEvent]:
    """The stored events of ``keys`` (source, id), voided or not; a key not stored is absent."""
    found = {}
    for (_, number), ids in _ids_by_source(conn, org_id, keys).items():
        for chunk in chunks(ids, _KEYS_PER_QUERY):
            for row in conn.execute(_stored_events(org_id).where(_c.source_id == number, _c.event_id.in_(chunk))):
                event = _stored(row)
                found[(event.source, event.event_id)] = event
    return found


def events_after(conn: Connection, org_id: str, sequence: int) -> list[StoredEvent]:
    """The events that arrived after ``sequence``, and those voided after it, in arrival order."""
    found = {e.seq: e for e in map(_stored, conn.execute(_stored_events(org_id).where(_c.seq > sequence)))}
    for row in conn.execute(_stored_events(org_id).where(_c.void_seq > sequence)):
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
    conditions: list[ColumnElement[bool]] = []
    for column, value in ((c.subject, chosen.subject), (c.type, chosen.type)):
        if value is not None:
            conditions.append(column == value)
    listed: FromClause = events
    if chosen.subject is not None:  # the subject's events, found by day
        days = whole_history(conn, org_id, chosen.start, chosen.end)
        if days is None:
            return []
        listed = LoopJoin(days, events, by_day(days))
    if chosen.start is not None:
        conditions.append(c.time >= chosen.start)
    if chosen.end is not None:
        conditions.append(c.time < chosen.end)
    if chosen.received_after is not None:
        conditions.append(c.received_at > chosen.received_after)
    if before_seq is not None:
        conditions.append(c.seq < before_seq)
    query = _stored_events(org_id, listed).where(*conditions).order_by(c.seq.desc()).limit(limit)
    return [_stored(row) for row in conn.execute(query)]
