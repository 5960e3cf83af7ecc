"""The schema, as SQLAlchemy Core tables.

Every table leads with ``org_id`` and every key includes it, so the schema can be
distributed by organization (Citus-style: ``org_id`` is the distribution column of every
table but ``oauth_clients``, which is looked up by client id and would be a reference
table). Instants are epoch milliseconds in ``BIGINT`` columns.

The event log is the truth and is append-only but for voids, which mark an event as no
longer billed and keep it; ``users``, ``sessions``, ``holdings`` and ``device_days`` are
derived from its events that are not voided, on ingestion, and can be rebuilt from it.
"""

from __future__ import annotations

import uuid
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    BindParameter,
    Column,
    ColumnElement,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    literal,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeDecorator, TypeEngine

from billable.rules.events import ASSIGNED, DEVICE_ACTIVE, LOGIN, LOGOUT, UNASSIGNED, USER_UPDATED
from billable.rules.instants import DAY_MS, WEEK_MS
from billable.rules.intervals import OPEN

metadata = MetaData()

# An organization's id is a UUID: text to everyone outside the store, 16 bytes in it
# (migration 0017; it was 36 characters, repeated in every row and index of the log:
# docs/performance.md). A string that is no UUID names no organization: it is stored as
# NOWHERE, which no organization's id is (a version 4 UUID never is all zeros).
NOWHERE = uuid.UUID(int=0)


@lru_cache(maxsize=4096)
def _org_stored(org_id: str, as_text: bool) -> str | bytes:
    """How ``org_id`` is stored: PostgreSQL's ``uuid`` as text, else its 16 bytes."""
    try:
        found = uuid.UUID(org_id)
    except ValueError:
        found = NOWHERE
    return str(found) if as_text else found.bytes


@lru_cache(maxsize=4096)
def _org_text(stored: bytes) -> str:
    return str(uuid.UUID(bytes=stored))


class OrgId(TypeDecorator[str]):
    """An organization's id: PostgreSQL's ``uuid``; on SQLite the 16 bytes, in a column
    still declared ``VARCHAR(36)`` (SQLite stores any value in any column, and the migration
    rewrites the values without recreating every table and index)."""

    impl = String(36)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.UUID(as_uuid=False))
        return dialect.type_descriptor(String(36))

    def process_bind_param(self, value: str | bytes | uuid.UUID | None, dialect: Dialect) -> Any:
        """The stored form of ``value``: an id, or an id as a driver reads it back (a row
        read past SQLAlchemy and written again, as a retired row is)."""
        if value is None:
            return None
        if isinstance(value, str):
            return _org_stored(value, dialect.name == "postgresql")
        found = value if isinstance(value, uuid.UUID) else uuid.UUID(bytes=bytes(value))
        return str(found) if dialect.name == "postgresql" else found.bytes

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None or isinstance(value, str):
            return value
        return str(value) if isinstance(value, uuid.UUID) else _org_text(bytes(value))


class OrgKey(OrgId):
    """An organization in the tables that grow with its events (the log, its dictionaries, the
    derived state and its history): on PostgreSQL its id, as ``OrgId`` keeps it (Citus places
    every row by it and finds a statement's worker from it); on SQLite its number
    (``organizations.number``, migration 0023), which takes a byte where the 16 bytes of the id
    were repeated in every row and index entry of the log (docs/performance.md).

    Everyone outside the store still names an organization by its id: on SQLite a statement
    finds the number from it (``(SELECT number FROM organizations WHERE id = ?)``, one seek,
    once a statement) and gives the id back for the number it reads."""

    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return super().load_dialect_impl(dialect)
        return dialect.type_descriptor(Integer())

    def bind_expression(self, bindvalue: BindParameter[str]) -> ColumnElement[str]:
        return _ByDialect(bindvalue, "{}", "(SELECT number FROM organizations WHERE id = {})")

    def column_expression(self, colexpr: ColumnElement[str]) -> ColumnElement[str]:
        return _ByDialect(colexpr, "{}", "(SELECT id FROM organizations WHERE number = {})")


class _ByDialect(ColumnElement[Any]):
    """``inner`` written within ``elsewhere`` (its ``{}``), but on SQLite within ``on_sqlite``:
    how ``OrgKey`` gives a column an organization's number for its id on SQLite, and the id
    back for it; and how ``_blocks`` counts a column in blocks on PostgreSQL."""

    inherit_cache = True
    _traverse_internals = [("inner", InternalTraversal.dp_clauseelement), ("elsewhere", InternalTraversal.dp_string),
                           ("on_sqlite", InternalTraversal.dp_string)]

    def __init__(self, inner: ColumnElement[Any], elsewhere: str, on_sqlite: str):
        self.inner = inner
        self.elsewhere = elsewhere
        self.on_sqlite = on_sqlite
        self.type = inner.type


@compiles(_ByDialect)
def _within(element: _ByDialect, compiler: Any, **kw: Any) -> str:
    return element.elsewhere.format(compiler.process(element.inner, **kw))


@compiles(_ByDialect, "sqlite")
def _within_on_sqlite(element: _ByDialect, compiler: Any, **kw: Any) -> str:
    return element.on_sqlite.format(compiler.process(element.inner, **kw))


def _name(length: int) -> TypeEngine[str]:
    """A text that names something in the tables that grow with the events (an event's id and
    subject, a user, a product, a device, a source, an email): compared and ordered by its bytes,
    as SQLite compares every text, and on PostgreSQL under the collation ``"C"`` (migration 0031)
    rather than the database's. The libc collation of a database made ``C.UTF-8`` or
    ``en_US.UTF-8`` compares through ``strcoll``: under it, the log's two indexes of texts took
    PostgreSQL 7.0 s to keep for M's events, 4.7 under "C" (docs/performance.md). Equal texts
    are equal under either."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


def _created() -> Column[int]:
    """A derived row's ``created_seq``: the organization's sequence (events and voids) at the
    commit that wrote it (migration 0009; 0 for rows from before it)."""
    return Column("created_seq", BigInteger, nullable=False, server_default=text("0"))


def _opened() -> Column[int]:
    """An interval's ``open_seq`` (migration 0025): set when the interval was stored open
    from that sequence and closed in place at its ``created_seq``, so that its row is both
    versions: open over ``[open_seq, created_seq)``, closed from then on. Ingestion closes in
    place only at an end later than every event of the log before the closing commit, which
    is what a report as of an earlier sequence seeks such rows by (store/history.py). Where an
    interval was closed otherwise, its open version is a retired row of its own."""
    return Column("open_seq", BigInteger, nullable=True)


organizations = Table(
    "organizations",
    metadata,
    Column("id", OrgId(), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("model", String(16), nullable=False),
    # The arrival sequence of the organization's last stored event; ingestion holds this
    # row locked while it stores a batch, so batches of one organization never interleave.
    Column("last_seq", BigInteger, nullable=False, server_default=text("0")),
    Column("created_at", BigInteger, nullable=False),
    # The sequence from which the derived state keeps its history (migration 0009): 0 for an
    # organization created since; a report as of an earlier sequence walks the log instead.
    Column("history_since", BigInteger, nullable=False, server_default=text("0")),
    # The latest event time in the organization's log, voided events included; None while it
    # is empty (migration 0010). A key whose new events all come at or after it extends its
    # stored intervals without walking the log again (store/derived.py).
    Column("latest_event_time", BigInteger, nullable=True),
    # The earliest event time in its log, likewise (migration 0014): with the latest, the days
    # a look-up of a subject's whole history reads.
    Column("earliest_event_time", BigInteger, nullable=True),
    # Its number on SQLite (migration 0023): what the tables that grow with its events keep
    # (``OrgKey``), given in the order organizations are made, under the database's one writer;
    # None on PostgreSQL, whose tables keep the id.
    Column("number", Integer, nullable=True),
    Index("organizations_number", "number"),
)

oauth_clients = Table(
    "oauth_clients",
    metadata,
    Column("client_id", String(64), primary_key=True),
    Column("org_id", OrgId(), nullable=False, index=True),
    Column("secret_hash", String(200), nullable=False),
    Column("permissions", Text, nullable=False),  # space-separated
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger, nullable=True),
    Column("name", String(100), nullable=False, server_default=""),  # migration 0016; '' before it: unnamed
)

def _dictionary(name: str, text: str, length: int) -> Table:
    """Texts an organization's events repeat, each numbered once, in the order they first
    came; the log keeps the number (``store/events.py: _number``)."""
    return Table(
        name,
        metadata,
        Column("org_id", OrgKey(), primary_key=True),
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column(text, _name(length), nullable=False),
        Index(f"{name}_key", "org_id", text, unique=True),
    )


# The sources of an organization's events (migration 0012): the log's unique key holds a
# small integer where a source URI (35 characters in the benchmark's data; a producer sends
# few) repeated with every event.
event_sources = _dictionary("event_sources", "source", 256)
# The emails its events carry (migration 0022): a user's email comes with most of their
# logins and logouts.
event_emails = _dictionary("event_emails", "email", 320)

# An event's type as the log stores it (migration 0022): a number, never given to another type.
# Logins and logouts are most of a log, and SQLite keeps the integers 0 and 1 in a row's
# header, without a byte of their own: a logout is 0 (migration 0024; it was 2).
TYPE_CODES = {LOGIN: 1, LOGOUT: 0, ASSIGNED: 3, UNASSIGNED: 4, DEVICE_ACTIVE: 5, USER_UPDATED: 6}
_TYPE_NAMES = {code: name for name, code in TYPE_CODES.items()}


class EventKind(TypeDecorator[str]):
    """An event's type: its name to everyone outside the store, its number in the log. A name
    that is no type's (a listing's filter) is -1, which no event has."""

    impl = SmallInteger
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> int | None:
        return None if value is None else TYPE_CODES.get(value, -1)

    def process_result_value(self, value: int | None, dialect: Dialect) -> str | None:
        return None if value is None else _TYPE_NAMES[value]


events = Table(
    "events",
    metadata,
    Column("org_id", OrgKey(), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("source_id", Integer, nullable=False),  # event_sources.id
    Column("event_id", _name(256), nullable=False),
    Column("type", EventKind(), nullable=False),
    Column("subject", _name(256), nullable=False),
    Column("time", BigInteger, nullable=False),
    Column("product", _name(64), nullable=True),
    Column("device_type", _name(64), nullable=True),
    # Its ``data`` is its product, device type and email (rules/events.py: event_data): the
    # email by its number in ``event_emails`` (migration 0022; it was the data as JSON text).
    Column("email_id", Integer, nullable=True),
    # When it was received is its commit's, in ``arrivals`` (migration 0026).
    # A voided event is kept, and billed as if never received (migration 0007): the void's
    # place in the arrival order; when, by which client and why are in ``event_voids``.
    Column("void_seq", BigInteger, nullable=True),
    # The UTC day of ``time``, counted from the epoch (migration 0014), for the subject index.
    # A column, not an index on an expression: SQLite 3.40 answers a join that seeks such an
    # index through a Bloom filter with no rows (docs/architecture.md).
    Column("event_day", Integer, nullable=False, server_default=text("0")),
    Index("events_key", "org_id", "source_id", "event_id", unique=True),
    # The voids, by when they came: a report as of an earlier instant finds those made since.
    Index("events_voided", "org_id", "void_seq", sqlite_where=text("void_seq IS NOT NULL"),
          postgresql_where=text("void_seq IS NOT NULL")),
    # A subject's events (walks of late keys, voids, explanations, listings), filed by
    # day first (migration 0014): a batch's events are of the days the log has reached, so a
    # commit writes the part of the index of those few days, where ``(subject, time)`` took
    # an entry per user all over itself, pages across the whole history at every commit. A
    # look-up names the days it reads, one seek a day (``store/events.py: by_day``). The one
    # index of the log without ``org_id`` in front: its entries are smaller (the 36
    # characters were half of each, migration 0011); a look-up also names the organization,
    # and on Citus each shard indexes its own.
    # Without the time (migration 0022): a look-up reads each entry's row anyway, and a day's
    # entries of one subject are alike, which PostgreSQL stores once (deduplication).
    Index("events_by_day", "event_day", "subject"),
    # On SQLite the rows are filed by their key (migration 0023): a table with rowids kept the
    # key ``(org_id, seq)`` a second time, in an index of its own (15 bytes an event). On
    # PostgreSQL the key is declared but not kept: ``events_arrival`` below finds events by it.
    sqlite_with_rowid=False,
)


def _blocks(inner: ColumnElement[int], size: int) -> ColumnElement[int]:
    """``inner`` counted in blocks of ``size`` (``inner / size``) on PostgreSQL, for an index on
    that expression whose entries a block's rows share (deduplication stores the key once, with
    the rows' addresses), written with the divisor in its text as the index's expression is (a
    bound divisor would not match it); on SQLite ``inner`` itself, which its keys order and
    find as it is."""
    return _ByDialect(inner, f"({{}} / {size})", "{}")


# The log by arrival on PostgreSQL (migration 0028): its events ``ARRIVAL_BLOCK`` sequences at a
# time, one entry of the index per block: 7 bytes an event, where the unique key
# ``(org_id, seq)`` took 41 (docs/performance.md). A statement finds an event by its sequence
# through its block, as ``store/events.py`` writes them (``seq_is``, ``seq_after``,
# ``newest_first``, …); nothing but the organization's lock, under which ingestion numbers the
# events, keeps two events from one sequence. SQLite files the rows by ``(org_id, seq)``.
ARRIVAL_BLOCK = 64


def arrival_block(seq: ColumnElement[int]) -> ColumnElement[int]:
    return _blocks(seq, ARRIVAL_BLOCK)


EVENTS_BY_ARRIVAL = Index("events_arrival", events.c.org_id, arrival_block(events.c.seq)).ddl_if(dialect="postgresql")

# When each commit of events was received (migration 0026): a row per commit, keyed by the
# sequence of its last event, where each event of the log kept the instant (7 bytes an event
# on SQLite). An event was received at the first row's instant from its own sequence on.
arrivals = Table(
    "arrivals",
    metadata,
    Column("org_id", OrgKey(), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),  # the commit's last event's
    Column("received_at", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

# When a voided event was voided, by which client and why (migration 0024): kept apart from
# the log, whose every row had three columns for them (a byte each on SQLite, even empty).
event_voids = Table(
    "event_voids",
    metadata,
    Column("org_id", OrgKey(), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),  # the event's
    Column("voided_at", BigInteger, nullable=False),
    Column("voided_by", String(64), nullable=False),
    Column("void_reason", Text, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("org_id", OrgKey(), primary_key=True),
    Column("user_id", _name(256), primary_key=True),
    Column("email", _name(320), nullable=False),
    # The (time, seq) of the event that gave ``email`` its value; a later event with the same
    # email leaves it (ingestion compares a late event with the log, not with this mark).
    Column("email_time", BigInteger, nullable=False),
    Column("email_seq", BigInteger, nullable=False),
    _created(),
)

# Intervals are keyed by their end: intervals of one key never overlap, so ends are
# unique and ordered like starts, and "the first interval ending after t" is one seek.
# An open interval ends at billable.rules.intervals.OPEN.
sessions = Table(
    "sessions",
    metadata,
    Column("org_id", OrgKey(), nullable=False),
    Column("user_id", _name(256), nullable=False),
    Column("ended_at", BigInteger, nullable=False, autoincrement=False),
    Column("started_at", BigInteger, nullable=False),
    _created(),
    _opened(),
    # On SQLite the table is stored in key order (migration 0003). On PostgreSQL the key is
    # declared but not kept (migration 0033): ``SESSIONS_BY_WEEK`` below finds the sessions.
    PrimaryKeyConstraint("org_id", "user_id", "ended_at"),
    # The sessions still open (migration 0027): a batch later than the log continues each user
    # from their open session only, sought in this index of the users logged in at once, not
    # in the key, which holds every session of the history (store/derived.py: ``_stored_from``).
    Index("sessions_open", "org_id", "user_id", sqlite_where=text(f"ended_at = {OPEN}"),
          postgresql_where=text(f"ended_at = {OPEN}")),
    sqlite_with_rowid=False,
)


def start_day(started_at: ColumnElement[int]) -> ColumnElement[int]:
    """The UTC day of a session's start, counted from the epoch (on SQLite, the start itself)."""
    return _blocks(started_at, DAY_MS)


# The sessions by the day of their start, on PostgreSQL (migration 0029): a concurrent report
# reads the sessions of the days after the packed weeks, every user's, in one range of it, where
# it sought them user by user in the key (L: 375-470 ms instead of 800, and 2.1 s with cold
# buffers; docs/performance.md). The sessions of a day share an entry: 3 bytes an event.
SESSIONS_BY_START_DAY = Index("sessions_by_start_day", sessions.c.org_id, start_day(sessions.c.started_at)
                              ).ddl_if(dialect="postgresql")


def session_week(ended_at: ColumnElement[int]) -> ColumnElement[int]:
    """The UTC week of a session's end, counted from the epoch, by which ``SESSIONS_BY_WEEK``
    files a user's sessions on PostgreSQL (on SQLite, the end itself)."""
    return _blocks(ended_at, WEEK_MS)


# A user's sessions by the week of their end, on PostgreSQL (migration 0033), in place of the
# key ``(org_id, user_id, ended_at)`` with its ``INCLUDE``d start and sequence: the sessions of
# a user's week share one entry (deduplication), 6 bytes an event of data set M where the key
# took 43 (docs/performance.md). A look-up of a user's sessions ending after an instant names
# that instant's week too (``ending_after``), and reads the rows of the weeks it finds.
SESSIONS_BY_WEEK = Index("sessions_by_week", sessions.c.org_id, sessions.c.user_id, session_week(sessions.c.ended_at)
                         ).ddl_if(dialect="postgresql")


def ending_after(ended_at: ColumnElement[int], at: int | ColumnElement[int], inclusive: bool = False
                 ) -> tuple[ColumnElement[bool], ...]:
    """Sessions ending after ``at`` (``inclusive``: at it or after): the condition, and the same
    of their weeks, which lets PostgreSQL seek a user's sessions in ``SESSIONS_BY_WEEK`` from
    ``at``'s week on. The second follows from the first, so it never changes what is found."""
    bound = at if isinstance(at, ColumnElement) else literal(at, BigInteger())
    return (ended_at >= bound) if inclusive else (ended_at > bound), session_week(ended_at) >= session_week(bound)


def first_ending(ended_at: ColumnElement[int]) -> tuple[ColumnElement[int], ...]:
    """The order of sessions by their end, as ``SESSIONS_BY_WEEK`` files them: by week first."""
    return session_week(ended_at), ended_at


# The sessions again, packed per user and UTC week of their start (store/session_weeks.py):
# a concurrent report reads a row per user and week, not one per session (migration 0013).
# The weeks before the log's latest event's, kept from ``sessions``; no history of its own.
# Filed by week first (migration 0021): a report reads its period's weeks of every user as
# one range of the key.
session_weeks = Table(
    "session_weeks",
    metadata,
    Column("org_id", OrgKey(), nullable=False),
    Column("user_id", _name(256), nullable=False),
    Column("week", BigInteger, nullable=False, autoincrement=False),  # epoch ms, a multiple of 7 days
    Column("bounds", LargeBinary, nullable=False),
    PrimaryKeyConstraint("org_id", "week", "user_id"),
    sqlite_with_rowid=False,
)

holdings = Table(
    "holdings",
    metadata,
    Column("org_id", OrgKey(), primary_key=True),
    Column("user_id", _name(256), primary_key=True),
    Column("product", _name(64), primary_key=True),
    Column("ended_at", BigInteger, primary_key=True, autoincrement=False),
    Column("started_at", BigInteger, nullable=False),
    _created(),
    _opened(),
    Index("holdings_period", "org_id", "started_at"),
    sqlite_with_rowid=False,
)


# Per device, type and UTC day: the first activity. A report reads one row per device and
# day for the whole days of its period, and the event log only for the partial days at
# its edges (migration 0004).
device_days = Table(
    "device_days",
    metadata,
    Column("org_id", OrgKey(), primary_key=True),
    Column("day", BigInteger, primary_key=True, autoincrement=False),  # midnight UTC, epoch ms
    Column("device_type", _name(64), primary_key=True),
    Column("device_id", _name(256), primary_key=True),
    Column("first_active", BigInteger, nullable=False),
    _created(),
    sqlite_with_rowid=False,
)


def _retired(live: Table) -> Table:
    """Where a row of ``live`` goes when ingestion or a void replaces it: the same columns and
    ``retired_seq``, the sequence from which it no longer holds. A report as of sequence ``s``
    reads the rows with ``created_seq <= s`` of both tables, and ``retired_seq > s`` of this one
    (store/history.py)."""
    return Table(
        f"{live.name}_retired",
        metadata,
        *(Column(c.name, c.type, nullable=c.nullable, autoincrement=False) for c in live.columns),
        Column("retired_seq", BigInteger, nullable=False),
        PrimaryKeyConstraint(*(c.name for c in live.primary_key), "retired_seq"),
        sqlite_with_rowid=False,
    )


RETIRED = {live: _retired(live) for live in (users, sessions, holdings, device_days)}
access_tokens = Table(
    "access_tokens",
    metadata,
    # SHA-256 of the token: tokens are random and long, so a fast hash is enough, and a
    # copy of the table gives nobody a usable token.
    Column("token_hash", String(64), primary_key=True),
    Column("org_id", OrgId(), nullable=False),
    Column("client_id", String(64), nullable=False),
    Column("permissions", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False, index=True),
)

# What an organization bought (migration 0018): every subscription it was given, kept, so
# that a past billing period is charged under the subscription of its day. ``document`` is
# the subscription in the trustee billing overview's keys (rules/subscriptions.py).
subscriptions = Table(
    "subscriptions",
    metadata,
    Column("org_id", OrgId(), primary_key=True),
    Column("set_at", BigInteger, primary_key=True, autoincrement=False),
    Column("set_by", String(64), nullable=False),
    Column("document", Text, nullable=False),
)

# Which organization trusts which (migration 0019): a trustee, a partner, reads the billing
# overview of every organization that trusts it. The one table keyed by two organizations:
# looked up by either, it is a reference table on Citus (few rows, rarely written).
trusts = Table(
    "trusts",
    metadata,
    Column("trustor_org_id", OrgId(), primary_key=True),
    Column("trustee_org_id", OrgId(), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(64), nullable=False),
    Index("trusts_by_trustee", "trustee_org_id", "trustor_org_id"),
)

# Usage alerts and where they are told (migration 0020; rules/alerts.py, docs/beyond-genesys.md).
# ``document`` is the alert as it was created; ``alert_states`` holds, per alert, product and
# threshold, whether its line is crossed in the billing period of ``period_start``.
alerts = Table(
    "alerts",
    metadata,
    Column("org_id", OrgId(), primary_key=True),
    Column("id", String(36), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("document", Text, nullable=False),
)

alert_states = Table(
    "alert_states",
    metadata,
    Column("org_id", OrgId(), primary_key=True),
    Column("alert_id", String(36), primary_key=True),
    Column("product", String(100), primary_key=True),
    Column("threshold", Integer, primary_key=True, autoincrement=False),  # its index in the alert's thresholds
    Column("period_start", BigInteger, nullable=False),
    Column("triggered", Integer, nullable=False),  # 1: crossed (alert.triggered told); 0: below
    Column("value", String(40), nullable=False),
    Column("line", String(40), nullable=False),
    Column("changed_at", BigInteger, nullable=False),
)

# When an organization's alerts were last evaluated, and against what: they are evaluated
# again once its sequence, its model or the billing period moves on (service/alerts.py).
alert_checks = Table(
    "alert_checks",
    metadata,
    Column("org_id", OrgId(), primary_key=True),
    Column("evaluated_seq", BigInteger, nullable=False),
    Column("evaluated_model", String(16), nullable=False),
    Column("evaluated_at", BigInteger, nullable=False),
    Column("next_check_at", BigInteger, nullable=False),  # not before: evaluating takes its share of a core at most
)

# An organization's webhook endpoints; ``secret`` signs every message (Standard Webhooks).
webhooks = Table(
    "webhooks",
    metadata,
    Column("org_id", OrgId(), primary_key=True),
    Column("id", String(36), primary_key=True),
    Column("url", String(2000), nullable=False),
    Column("secret", String(100), nullable=False),
    Column("description", String(200), nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
)

# The outbox: a message is written in the transaction that decides it, then delivered by any
# server process that leases it (``lease_until``), until an answer 2xx (``delivered_at``) or
# the retry schedule's end (``failed_at``).
webhook_messages = Table(
    "webhook_messages",
    metadata,
    Column("org_id", OrgId(), primary_key=True),
    Column("id", String(40), primary_key=True),
    Column("webhook_id", String(36), nullable=False),
    Column("type", String(40), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", BigInteger, nullable=True),  # None once delivered or given up
    Column("lease_until", BigInteger, nullable=True),
    Column("delivered_at", BigInteger, nullable=True),
    Column("failed_at", BigInteger, nullable=True),
    Index("webhook_messages_due", "next_attempt_at"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("org_id", OrgId(), primary_key=True),
    Column("message_id", String(40), primary_key=True),
    Column("attempt", Integer, primary_key=True, autoincrement=False),
    Column("at", BigInteger, nullable=False),
    Column("status", Integer, nullable=True),  # the receiver's answer; None when none came
    Column("error", String(300), nullable=True),
    Column("took_ms", Integer, nullable=False),
)

# Computed reports, shared by every server process. ``version`` is the organization's
# ``last_seq`` in the snapshot the body was computed from, ``computed_under`` a fingerprint
# of the rules, body shape, catalog and licensing model it was computed under: the body is
# current while both still hold. ``fresh_until`` bounds the life of a report
# whose period reaches past the moment it was computed (time alone changes it).
# ``computing_since`` is a lease: one process computes, the others wait for its result.
computed_reports = Table(
    "computed_reports",
    metadata,
    Column("org_id", OrgId(), primary_key=True),
    Column("kind", String(32), primary_key=True),
    Column("period_start", BigInteger, primary_key=True, autoincrement=False),
    Column("period_end", BigInteger, primary_key=True, autoincrement=False),
    Column("subject", String(256), primary_key=True),
    Column("version", BigInteger, nullable=True),
    Column("body", Text, nullable=True),
    Column("computed_under", String(64), nullable=True),
    Column("fresh_until", BigInteger, nullable=True),
    Column("computing_version", BigInteger, nullable=True),
    Column("computing_since", BigInteger, nullable=True),
    # What the lease's computation is under (migration 0030): a lease under another fingerprint
    # (the organization's licensing model changed since) does not hold back a computation under
    # the current one. None: a lease taken before 0030, which holds back any.
    Column("computing_under", String(64), nullable=True),
)

# Closed periods (migration 0008): the billable usage report of the period as it was when it
# was closed, its figures kept in the store's own form (``kept``: periods.KEPT_FORM; migration
# 0015, before which it was the API's body), immutable. ``sequence``
# is the organization's sequence the report saw: what arrived after it amends the period.
closed_periods = Table(
    "closed_periods",
    metadata,
    Column("org_id", OrgId(), primary_key=True),
    Column("period_start", BigInteger, primary_key=True, autoincrement=False),
    Column("period_end", BigInteger, primary_key=True, autoincrement=False),
    Column("closed_at", BigInteger, nullable=False),
    Column("closed_by", String(64), nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("computed_under", String(64), nullable=False),  # report_desk.computed_under: the rules then
    Column("kept", Text, nullable=False),  # the kept report's figures (periods.KEPT_FORM)
)
