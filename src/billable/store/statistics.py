"""Planner statistics, refreshed as the event log grows.

Both planners choose index seeks over scans only when they know how big the tables
are. PostgreSQL's autovacuum may be off or lag behind a bulk load, and SQLite gathers no
statistics by itself, so the store refreshes them each time an organization's log
doubles: a logarithmic number of cheap, sampled ANALYZE runs.
"""

from __future__ import annotations

from sqlalchemy import Connection

from billable.store.database import after_commit

FIRST_REFRESH = 4_096
_DERIVED = ("sessions", "holdings", "users", "device_days")
# With the derived tables' history (a report as of an instant reads it), the packed sessions,
# and the log's dictionaries: a batch seeks its emails there, and a plan of a never analyzed
# ``event_emails`` filtered every email of the organization by the batch's 8,000 (1 s a batch).
_TABLES = ("events", "event_sources", "event_emails", *_DERIVED, *(f"{name}_retired" for name in _DERIVED),
           "session_weeks")
_VACUUMED = (*_DERIVED, "session_weeks")  # the log and the history are appended to: nothing to reclaim


def due(before: int, after: int) -> bool:
    """Whether growing from ``before`` to ``after`` events crosses a doubling point."""
    return after >= FIRST_REFRESH and after.bit_length() > max(before, FIRST_REFRESH - 1).bit_length()


def packed_grown(conn: Connection, written: int) -> None:
    """After a seal wrote ``written`` packed weeks: on PostgreSQL, refresh what the planner
    knows of ``session_weeks`` when it believes the table holds fewer rows than that. The
    table grows by a week of every user at once, not with the log: sealed after a doubling
    of the log, L's first week was planned as an empty table until the next one, and the
    repacks of the late events in it (index loops only, ``sql.prefer_index_loops``) scanned
    it once for each of their keys: 34 of the 158 s that storing L's first 4,000,000 events
    took (docs/performance.md). SQLite seeks the packed weeks by their key whatever it
    knows (``sql.LoopJoin``)."""
    if conn.dialect.name != "postgresql" or not written:
        return
    believed = conn.exec_driver_sql("SELECT reltuples FROM pg_class WHERE oid = 'session_weeks'::regclass").scalar()
    if believed is None or written > believed:  # -1: never analyzed
        conn.exec_driver_sql("ANALYZE session_weeks")


def refresh(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA analysis_limit = 1000")  # sample, never read whole indexes
        conn.exec_driver_sql("ANALYZE")
    else:
        for table in _TABLES:
            conn.exec_driver_sql(f"ANALYZE {table}")
        # And once committed, VACUUM the derived tables (it cannot run in a transaction):
        # it marks their pages all-visible, which index-only scans need, and reclaims what
        # the rebuilds and upserts left behind, autovacuum or not.
        after_commit(conn, "VACUUM " + ", ".join(_VACUUMED))
