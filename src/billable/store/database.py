"""Connecting to the database: the embedded SQLite default or PostgreSQL."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from threading import Lock
from typing import Any

from psycopg.types.array import ListBinaryDumper
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.pool import ConnectionPoolEntry

from billable.rules.errors import StoreUnavailable
from billable.store.faults import UNREACHABLE, transient_as_unavailable, transient_fault

DEFAULT_URL = "sqlite:///./billable.db"
# The SQLite write-ahead log past which a commit waits for the readers of older snapshots
# to finish so that the log starts again from its beginning (see Database.write).
WAL_LIMIT_BYTES = 64 * 2**20
# The page size of a new SQLite database (an existing one keeps its own). A commit writes
# every page it changed to the write-ahead log, and a batch of events changes pages all over
# the log's indexes, an entry per user: with 32 KiB pages instead of SQLite's 4 KiB, loads are
# faster and no report is slower (docs/performance.md; operating.md tells how to convert an
# existing database).
PAGE_SIZE_BYTES = 32_768

_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    # FULL: a commit that returned is on disk, even across a power loss.
    "PRAGMA synchronous = FULL",
    "PRAGMA cache_size = -262144",  # 256 MiB: the indexes of a large event log stay in memory
    "PRAGMA mmap_size = 1073741824",
    # Temporary tables and sorts in SQLite's page cache, spilled to a file past it. In memory
    # only, a large load's commit held a gigabyte of them, and was no faster
    # (docs/performance.md).
    "PRAGMA temp_store = FILE",
    "PRAGMA foreign_keys = ON",
)


_AFTER_COMMIT = "billable_after_commit"
# How long a commit that finds the log past its limit waits for the readers of older
# snapshots to finish; when they have not, the next commit tries again.
_WAL_RESTART_WAIT_MS = 200
_NO_BEGIN = "billable_no_begin"
# PostgreSQL: a pooled connection is asked a trivial question before it is used only when it
# may have died unseen: idle for longer than this, or put back before the server last failed
# to answer (a restart). Asking before every use (``pool_pre_ping``) was a round trip more per
# statement a request makes: under load a connection goes back to work within milliseconds.
PING_AFTER_IDLE_SECONDS = 1.0
_CHECKED_IN = "billable_checked_in"


def after_commit(conn: Connection, statement: str) -> None:
    """Run ``statement`` on its own once the write transaction of ``conn`` has committed
    (for maintenance that cannot run in a transaction, such as VACUUM)."""
    conn.info.setdefault(_AFTER_COMMIT, []).append(statement)


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use psycopg 3 for them."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1) if url.startswith("postgres://") else url)
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() != "psycopg":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError(f"unsupported database {parsed.get_backend_name()!r}: use sqlite:/// or postgresql://")
    return parsed.render_as_string(hide_password=False)


class Database:
    """One database: its engine, and transactions that read or write it. A transient
    failure of the database in a transaction raises ``StoreUnavailable`` (store/faults.py).

    Writers on SQLite take the write lock when they begin (``BEGIN IMMEDIATE``), so two
    writers never deadlock upgrading a read lock; readers see one snapshot throughout.
    On PostgreSQL, readers run at REPEATABLE READ for the same reason: a report made of
    several queries never sees half of a batch.
    """

    def __init__(self, url: str = DEFAULT_URL, *, echo: bool = False, durable: bool = True,
                 busy_timeout_seconds: float = 30.0, wal_limit_bytes: int = WAL_LIMIT_BYTES,
                 page_size_bytes: int = PAGE_SIZE_BYTES):
        """``durable=False`` is for throwaway state: SQLite commits without waiting for the disk.
        ``busy_timeout_seconds``: how long a writer on SQLite waits for the write lock before
        it gives up (``StoreUnavailable``, busy). ``wal_limit_bytes``: the size of SQLite's
        write-ahead log past which a commit restarts it. ``page_size_bytes``: the page size of
        a new SQLite database."""
        self.url = normalize_url(url)
        self.is_postgresql = make_url(self.url).get_backend_name() == "postgresql"
        # Enough pooled connections for the server's threads: a connection made anew costs
        # its setup (pragmas on SQLite, a handshake on PostgreSQL) on every request.
        self.engine: Engine = create_engine(self.url, echo=echo, pool_size=20, max_overflow=20)
        self._unreachable_at = float("-inf")  # when the server last failed to answer (monotonic)
        if self.is_postgresql:
            event.listen(self.engine, "checkin", _checked_in)
            event.listen(self.engine, "connect", _lists_in_binary)
            event.listen(self.engine, "checkout", self._ping_if_doubtful)
        self._wal: str | None = None
        self._page_size_bytes = page_size_bytes
        if self.engine.dialect.name == "sqlite":
            path = make_url(self.url).database or ""
            self._wal = f"{path}-wal" if path and path != ":memory:" else None
            self._wal_limit_bytes = wal_limit_bytes
            busy_timeout = f"PRAGMA busy_timeout = {int(busy_timeout_seconds * 1000)}"
            # Copies the log into the database, waits a little for the readers of older
            # snapshots, and empties the log file: the next commit writes it from its start.
            self._restart_wal = (f"PRAGMA busy_timeout = {_WAL_RESTART_WAIT_MS}", "PRAGMA wal_checkpoint(TRUNCATE)",
                                 busy_timeout)
            # Before the log is in WAL mode, where the page size can no longer change.
            pragmas = (f"PRAGMA page_size = {page_size_bytes}", *_SQLITE_PRAGMAS, busy_timeout,
                       f"PRAGMA journal_size_limit = {wal_limit_bytes}",
                       *(() if durable else ("PRAGMA synchronous = NORMAL",)))
            event.listen(self.engine, "connect", lambda connection, _: _prepare_sqlite(connection, pragmas))
            event.listen(self.engine, "begin", _begin_sqlite)
        # On SQLite the driver's connection never begins by itself (BEGIN is ours): leaving
        # BEGIN out is autocommit, without an isolation level set and reset on every use.
        self._one_statement = {"isolation_level": "AUTOCOMMIT"} if self.is_postgresql else {_NO_BEGIN: True}
        self._writer: AbstractContextManager[object] = Lock() if self.engine.dialect.name == "sqlite" else nullcontext()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that commits when the block ends without error."""
        # SQLite lets one writer in at a time, and a writer that finds the lock taken
        # sleeps in steps of up to 100 ms: threads of one process queue here instead.
        with self._writer, self._connected(billable_write=True) as conn:
            try:
                with conn.begin():
                    yield conn
            except BaseException:
                conn.info.pop(_AFTER_COMMIT, None)  # rolled back: nothing to follow it
                raise
            pending = dict.fromkeys(conn.info.pop(_AFTER_COMMIT, ()))  # each once, in order
            if self._wal_too_long():
                pending.update(dict.fromkeys(self._restart_wal))
            if pending:
                conn.execution_options(isolation_level="AUTOCOMMIT")
                for statement in pending:
                    conn.exec_driver_sql(statement)

    @contextmanager
    def _connected(self, **options: object) -> Iterator[Connection]:
        """A pooled connection with ``options``; a transient failure as ``StoreUnavailable``.
        When the server is unreachable, the connection is closed rather than rolled back and
        pooled again, and every connection put back before is pinged before its next use."""
        try:
            with transient_as_unavailable(), self.engine.connect().execution_options(**options) as conn:
                try:
                    yield conn
                except DBAPIError as error:
                    if transient_fault(error) == UNREACHABLE and not conn.invalidated:
                        conn.invalidate(error)
                    raise
        except StoreUnavailable as error:
            if error.condition == UNREACHABLE[0]:
                self._unreachable_at = time.monotonic()
            raise

    def _ping_if_doubtful(self, dbapi_connection: object, record: ConnectionPoolEntry, _: object) -> None:
        """Before a pooled connection is handed out: a connection that may have died unseen
        is pinged, and a dead one replaced (the pool takes another on ``DisconnectionError``)."""
        since = record.info.get(_CHECKED_IN)
        if since is None:  # just made
            return
        if time.monotonic() - since < PING_AFTER_IDLE_SECONDS and since > self._unreachable_at:
            return
        try:
            alive = self.engine.dialect.do_ping(dbapi_connection)  # type: ignore[arg-type]
        except self.engine.dialect.loaded_dbapi.Error:  # a shutdown's own error, say
            alive = False
        if not alive:
            raise DisconnectionError("the pooled connection no longer answers")

    def _wal_too_long(self) -> bool:
        """Whether SQLite's write-ahead log has grown past its limit. SQLite copies the log
        into the database after commits by itself, but starts it again from the beginning
        only when no reader still reads an older snapshot: under readers that always
        overlap, the log would grow without end (and every reader search a longer index)."""
        if self._wal is None:
            return False
        try:
            return os.stat(self._wal).st_size > self._wal_limit_bytes
        except FileNotFoundError:
            return False

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only snapshot."""
        options = {"isolation_level": "REPEATABLE READ"} if self.is_postgresql else {}
        with self._connected(**options) as conn:
            yield conn  # begins on first use; closing rolls back

    @contextmanager
    def read_one(self) -> Iterator[Connection]:
        """For one statement that reads: it sees one snapshot by itself, so no transaction
        is begun (a round trip less on PostgreSQL, no BEGIN on SQLite). For the checks
        every request makes."""
        with self._connected(**self._one_statement) as conn:
            yield conn

    def check(self) -> None:
        """Ask the database a trivial question: ``StoreUnavailable`` while it cannot answer."""
        with self.read_one() as conn:
            conn.exec_driver_sql("SELECT 1")

    def dispose(self) -> None:
        self.engine.dispose()

    def rewrite_pages(self) -> tuple[int, int]:
        """Rewrite an SQLite database whole (``VACUUM``) with the page size of a new one, for
        a database made before it changed; the page size before and after. Nothing else may
        use the database meanwhile: SQLite changes a page size only outside WAL mode."""
        if self.is_postgresql:
            raise ValueError("only an SQLite database has pages of its own to rewrite")
        with self.engine.connect().execution_options(**self._one_statement) as conn:
            before = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
            if before != self._page_size_bytes:
                for statement in ("PRAGMA journal_mode = DELETE", f"PRAGMA page_size = {self._page_size_bytes}",
                                  "VACUUM", "PRAGMA journal_mode = WAL"):
                    conn.exec_driver_sql(statement)
            return before, conn.exec_driver_sql("PRAGMA page_size").scalar_one()


def _lists_in_binary(dbapi_connection: Any, _: object) -> None:
    """Lists go to PostgreSQL in its binary format: psycopg writes the text form of an
    array element by element in Python, 7.7 ms for 10,000 user ids and 12.4 for 10,000
    instants, against 3 ms for either in binary (a batch's keys travel as arrays:
    ``store/sql.py: rows_of``)."""
    dbapi_connection.adapters.register_dumper(list, ListBinaryDumper)


def _checked_in(_: object, record: ConnectionPoolEntry) -> None:
    record.info[_CHECKED_IN] = time.monotonic()


def _prepare_sqlite(dbapi_connection: sqlite3.Connection, pragmas: tuple[str, ...]) -> None:
    # pysqlite's own transaction handling is broken by design: we emit BEGIN ourselves.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in pragmas:
        cursor.execute(pragma)
    cursor.close()


def _begin_sqlite(conn: Connection) -> None:
    options = conn.get_execution_options()
    if options.get("isolation_level") != "AUTOCOMMIT" and not options.get(_NO_BEGIN):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get("billable_write") else "BEGIN")
