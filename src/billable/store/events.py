"""The append-only event log."""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    FromClause,
    MetaData,
    Select,
    String,
    Table,
    and_,
    bindparam,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError

from billable.rules.events import UsageEvent, event_data
from billable.rules.instants import DAY_MS
from billable.store.organizations import event_times
from billable.store.sql import among, bulk_insert, chunks, plain_rows, rows_of
from billable.store.tables import (
    TYPE_CODES,
    arrival_block,
    arrivals,
    event_emails,
    event_sources,
    event_voids,
    events,
    oauth_clients,
)

_COLUMNS = ("org_id", "seq", "source_id", "event_id", "type", "subject", "time", "event_day", "product", "device_type",
            "email_id")
# SQLite binds at most 32,766 parameters per statement.
_KEYS_PER_QUERY = 5_000


_log_days = Table("log_days", MetaData(), Column("day", BigInteger, nullable=False), prefixes=["TEMPORARY"])


def event_days(first: int, last: int) -> range:
    """The days (``events.event_day``) from the instant ``first``'s to ``last``'s, both included."""
    return range(first // DAY_MS, last // DAY_MS + 1)


def _sequence(value: int | ColumnElement[int]) -> ColumnElement[int]:
    return literal(value, BigInteger()) if isinstance(value, int) else value


def seq_is(seq: int | ColumnElement[int]) -> ColumnElement[bool]:
    """The log's event of sequence ``seq``, sought by its block (``tables.EVENTS_BY_ARRIVAL``)."""
    seq = _sequence(seq)
    return and_(arrival_block(events.c.seq) == arrival_block(seq), events.c.seq == seq)


def seq_after(sequence: int) -> ColumnElement[bool]:
    """The log's events that arrived after ``sequence``."""
    return and_(arrival_block(events.c.seq) >= arrival_block(_sequence(sequence)), events.c.seq > sequence)


def seq_before(sequence: int, *, inclusive: bool = False) -> ColumnElement[bool]:
    """The log's events that arrived before ``sequence`` (or at it, ``inclusive``)."""
    before = events.c.seq <= sequence if inclusive else events.c.seq < sequence
    return and_(arrival_block(events.c.seq) <= arrival_block(_sequence(sequence)), before)


def newest_first() -> tuple[ColumnElement[Any], ...]:
    """The log's order from its latest arrival back, as its index by arrival gives it."""
    return arrival_block(events.c.seq).desc(), events.c.seq.desc()


def by_day(days: FromClause) -> ColumnElement[bool]:
    """The log's events of the day in ``days.c.day``: how a walk of many subjects' events
    joins the log's subject index (``events_by_day``), a seek per subject and day."""
    return events.c.event_day == days.c.day


def on_days(days: FromClause) -> ColumnElement[bool]:
    """The log's events of the days in ``days``: how a look-up of one subject's events seeks
    the log's subject index, a day at a time. An ``IN``, not a join: as a join SQLite may first
    build a Bloom filter of the whole log, when the days (a table without statistics) look
    more than the log's rows, and a user's latest email took 97 ms instead of 0.06 on M."""
    return events.c.event_day.in_(select(days.c.day))


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


_texts = Table("dictionary_texts", MetaData(), Column("text", String(320), nullable=False), prefixes=["TEMPORARY"])


def _numbers(conn: Connection, org_id: str, named: Column[str], texts: Iterable[str]) -> dict[str, int]:
    """The numbers of those of ``texts`` the organization's dictionary ``named`` (the text
    column of ``event_sources`` or ``event_emails``) holds: one statement, a seek for each
    (``sql.among``; an ``IN`` list of a batch's 8,000 emails took twice as long on SQLite)."""
    table = named.table
    listed = among(conn, _texts, list(set(texts)))
    return dict(plain_rows(conn, select(named, table.c.id).where(table.c.org_id == org_id, listed(named))))


def _number(conn: Connection, org_id: str, named: Column[str], texts: Iterable[str], known: dict[str, int]) -> None:
    """Add to ``known`` the numbers of those of ``texts`` it lacks, in the dictionary ``named``;
    one not in it yet is numbered after the organization's last, in the order they come (the
    caller holds the organization locked, as ingestion does)."""
    arrived = [text for text in dict.fromkeys(texts) if text not in known]
    if not arrived:
        return
    known.update(_numbers(conn, org_id, named, arrived))
    new = [text for text in arrived if text not in known]
    if new:
        table = named.table
        last = conn.execute(select(func.coalesce(func.max(table.c.id), 0)).where(table.c.org_id == org_id)).scalar_one()
        numbered = {text: last + offset for offset, text in enumerate(new, start=1)}
        bulk_insert(conn, table, ("org_id", "id", named.name), [(org_id, number, text) for text, number in numbered.items()])
        known.update(numbered)


def _ids_by_source(conn: Connection, org_id: str, keys: list[tuple[str, str]]) -> dict[tuple[str, int], list[str]]:
    """The event ids of ``keys`` (source, id) by their source and its number; a source the
    organization has no event from is left out, and so are its keys."""
    numbers = _numbers(conn, org_id, event_sources.c.source, (source for source, _ in keys))
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


@dataclass
class Numbered:
    """The numbers an organization's dictionaries give its sources and emails, as far as known."""

    sources: dict[str, int] = field(default_factory=dict)
    emails: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.sources) + len(self.emails)


class CommittedNumbers:
    """The numbers of sources and emails that committed transactions gave, kept by a process
    across its transactions, so that a batch looks up only the texts it brings new: a batch of
    10,000 events over HTTP looked up its thousands of emails again each time (a tenth of its
    time on SQLite, docs/performance.md). A number once committed is never changed nor taken
    back, so what is kept stays true whatever other processes add; numbers given in a
    transaction are kept only once it has committed. At most ``at_most`` texts are kept, the
    organizations that stored least recently forgotten first."""

    def __init__(self, at_most: int = 200_000):
        self._kept: OrderedDict[str, Numbered] = OrderedDict()
        self._at_most = at_most
        self._lock = threading.Lock()

    def for_transaction(self, org_id: str) -> Numbered:
        """A copy of what is kept of the organization's numbers, for a transaction to add to."""
        with self._lock:
            kept = self._kept.get(org_id, Numbered())
            return Numbered(dict(kept.sources), dict(kept.emails))

    def committed(self, org_id: str, numbered: Numbered) -> None:
        """Keep ``numbered`` (from ``for_transaction``), its transaction committed."""
        with self._lock:
            self._kept[org_id] = numbered
            self._kept.move_to_end(org_id)
            while self._kept and sum(map(len, self._kept.values())) > self._at_most:
                self._kept.popitem(last=False)


class LogAppender:
    """Appends batches to an organization's log within one transaction (the caller holds the
    organization locked, as ingestion does). It keeps the numbers of the sources and emails
    it looked up or gave in ``known`` (which may start with those of earlier transactions:
    ``CommittedNumbers``), which hold as long as the transaction: a batch after the first
    looks up only those it brings new (the command line's load sends 20 batches of the same
    users' emails in a transaction)."""

    def __init__(self, conn: Connection, org_id: str, known: Numbered | None = None):
        self.conn, self.org_id = conn, org_id
        self.known = Numbered() if known is None else known

    def append_new(self, batch: list[UsageEvent], first_seq: int, meanwhile: Callable[[], object] = lambda: None
                   ) -> list[UsageEvent]:
        """Store those of ``batch`` (no key twice in it) whose ``(source, id)`` is not stored
        yet, voided or not, with arrival sequences ``first_seq``, ``first_seq + 1``, …; return
        them (``batch`` itself when it is stored whole). ``meanwhile`` is called while the
        database stores the whole batch (``sql.bulk_insert``), at most once.

        The batch is first appended whole, inside a savepoint: the log's unique key refuses it
        if any of its keys is stored already (a client sending a batch again), and only then
        are the stored keys looked up and the rest appended. A batch with no such key costs no
        look-up beyond the one the unique key makes anyway. Any failure of the first append
        sends the batch the second way, not only the unique key's (Citus reports it as an
        internal error of the worker): a failure of another cause happens again there."""
        if not batch:
            return []
        conn, org_id = self.conn, self.org_id
        _number(conn, org_id, event_sources.c.source, (event.source for event in batch), self.known.sources)
        _number(conn, org_id, event_emails.c.email, (e.email for e in batch if e.email is not None), self.known.emails)
        try:
            with conn.begin_nested():
                self._append(batch, first_seq, meanwhile)
            return batch
        except DBAPIError:
            pass
        already = stored_keys(conn, org_id, [event.key for event in batch])
        fresh = [event for event in batch if event.key not in already]
        self._append(fresh, first_seq)
        return fresh

    def _append(self, batch: list[UsageEvent], first_seq: int, meanwhile: Callable[[], object] = lambda: None) -> None:
        """Store ``batch`` with arrival sequences ``first_seq``, ``first_seq + 1``, …"""
        org_id, sources, emails, types = self.org_id, self.known.sources, self.known.emails, TYPE_CODES
        bulk_insert(self.conn, events, _COLUMNS, [
            (org_id, first_seq + offset, sources[event.source], event.id, types[event.type], event.subject,
             event.time, event.time // DAY_MS, event.product, event.device_type,
             None if event.email is None else emails[event.email])
            for offset, event in enumerate(batch)
        ], meanwhile)


def record_arrival(conn: Connection, org_id: str, last_seq: int, received_at: int) -> None:
    """The events a commit appended, up to ``last_seq``, were received at ``received_at``."""
    bulk_insert(conn, arrivals, ("org_id", "seq", "received_at"), [(org_id, last_seq, received_at)])


def received_at_of(org_id: str) -> ColumnElement[int]:
    """When an event of the log (``events``) was received: its commit's instant, the first
    arrival from its sequence on. Both tables name the organization, as on Citus they must."""
    a = arrivals.c
    return (select(a.received_at).where(a.org_id == _c.org_id, a.org_id == org_id, a.seq >= _c.seq)
            .order_by(a.seq).limit(1).scalar_subquery())


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
    email: str | None
    received_at: int
    void: Void | None

    @property
    def data(self) -> dict[str, str]:
        return event_data(self.product, self.device_type, self.email)


_c = events.c


def _stored_events(org_id: str) -> Select[Any]:
    """The organization's events as ``_stored`` reads them, each with its source. Both tables
    name the organization, not only the join: on Citus each must, to run on its worker."""
    s, void, voider = event_sources.c, event_voids.c, oauth_clients.c
    return (select(_c.seq, s.source, _c.event_id, _c.type, _c.subject, _c.time, _c.product, _c.device_type,
                   event_emails.c.email, received_at_of(org_id), _c.void_seq, void.voided_at, void.voided_by,
                   void.void_reason, voider.name)
            .select_from(events.join(event_sources, and_(s.org_id == _c.org_id, s.id == _c.source_id))
                         .outerjoin(event_emails, with_email(org_id))
                         .outerjoin(event_voids, and_(void.org_id == _c.org_id, void.org_id == org_id, void.seq == _c.seq))
                         .outerjoin(oauth_clients, and_(voider.client_id == void.voided_by, voider.org_id == org_id)))
            .where(_c.org_id == org_id, s.org_id == org_id))


def with_email(org_id: str) -> ColumnElement[bool]:
    """How an event of the organization finds its email (an outer join: most events carry none)."""
    m = event_emails.c
    return and_(m.org_id == _c.org_id, m.org_id == org_id, m.id == _c.email_id)


def _stored(row: Any) -> StoredEvent:
    seq, source, event_id, kind, subject, time, product, device_type, email, received_at, void_seq, at, by, why, name = row
    return StoredEvent(seq, source, event_id, kind, subject, time, product, device_type, email, received_at,
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
    found = {e.seq: e for e in map(_stored, conn.execute(_stored_events(org_id).where(seq_after(sequence))))}
    for row in conn.execute(_stored_events(org_id).where(_c.void_seq > sequence)):
        found.setdefault(row[0], _stored(row))
    return [found[seq] for seq in sorted(found)]


def mark_voided(conn: Connection, org_id: str, voided: list[tuple[int, str]], void_seq: int, at: int, by: str) -> None:
    """Void the events of ``voided`` (seq, reason): kept, billed no longer."""
    conn.execute(update(events).where(_c.org_id == org_id, seq_is(bindparam("v_seq", type_=BigInteger())))
                 .values(void_seq=void_seq),
                 [{"v_seq": seq} for seq, _ in voided])
    bulk_insert(conn, event_voids, ("org_id", "seq", "voided_at", "voided_by", "void_reason"),
                [(org_id, seq, at, by, reason) for seq, reason in voided])


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
    if chosen.subject is not None:  # the subject's events, found by day
        days = whole_history(conn, org_id, chosen.start, chosen.end)
        if days is None:
            return []
        conditions.append(on_days(days))
    if chosen.start is not None:
        conditions.append(c.time >= chosen.start)
    if chosen.end is not None:
        conditions.append(c.time < chosen.end)
    if chosen.received_after is not None:
        conditions.append(received_at_of(org_id) > chosen.received_after)
    if before_seq is not None:
        conditions.append(seq_before(before_seq))
    query = _stored_events(org_id).where(*conditions).order_by(*newest_first()).limit(limit)
    return [_stored(row) for row in conn.execute(query)]
