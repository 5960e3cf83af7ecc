"""Which failures of the database are transient: a restart, a failover, a lost connection,
a lock or busy timeout, a full disk, a serialization failure. The same request succeeds
once it has passed, so the caller is told to retry rather than that something broke."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError

from billable.rules.errors import StoreUnavailable

# What is unavailable, and the seconds after which a retry is worth it.
UNREACHABLE = ("unreachable", 2)
BUSY = ("busy", 1)
OUT_OF_SPACE = ("out of space", 5)

# PostgreSQL's SQLSTATEs (Appendix A of its manual) of conditions that pass by themselves.
_POSTGRESQL: dict[str, tuple[str, int]] = {
    **dict.fromkeys(("08000", "08001", "08003", "08004", "08006", "08007"), UNREACHABLE),  # connection exceptions
    **dict.fromkeys(("57P01", "57P02", "57P03"), UNREACHABLE),  # admin or crash shutdown, starting up
    "25006": UNREACHABLE,  # read-only transaction: a standby during a failover
    "53300": BUSY,  # too many connections
    **dict.fromkeys(("40001", "40P01", "55P03"), BUSY),  # serialization failure, deadlock, lock not available
    **dict.fromkeys(("53100", "53200"), OUT_OF_SPACE),  # disk full, out of memory
}
# SQLite's primary result codes (the low byte of an extended one).
_SQLITE: dict[int, tuple[str, int]] = {
    5: BUSY,  # SQLITE_BUSY: the write lock was not free within the busy timeout
    6: BUSY,  # SQLITE_LOCKED
    10: UNREACHABLE,  # SQLITE_IOERR
    13: OUT_OF_SPACE,  # SQLITE_FULL
    14: UNREACHABLE,  # SQLITE_CANTOPEN
}


def transient_fault(error: DBAPIError) -> tuple[str, int] | None:
    """The transient condition ``error`` shows and when to retry, or None when it is a real failure."""
    original = error.orig
    if isinstance(original, sqlite3.Error):
        code = getattr(original, "sqlite_errorcode", None)
        return _SQLITE.get(code & 0xFF) if isinstance(code, int) else None
    sqlstate = getattr(original, "sqlstate", None)
    if sqlstate in _POSTGRESQL:
        return _POSTGRESQL[sqlstate]
    # A connection refused or lost has no SQLSTATE; the pool marks it invalidated.
    if error.connection_invalidated or (sqlstate is None and type(original).__name__ == "OperationalError"):
        return UNREACHABLE
    return None


@contextmanager
def transient_as_unavailable() -> Iterator[None]:
    """Turn a transient failure of the database inside the block into ``StoreUnavailable``."""
    try:
        yield
    except DBAPIError as error:
        fault = transient_fault(error)
        if fault is None:
            raise
        raise StoreUnavailable(*fault) from error
