"""SQLite's write-ahead log stays bounded while readers always overlap (store/database.py):
SQLite itself starts the log again only when no reader holds an older snapshot."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from billable.store.database import PAGE_SIZE_BYTES, Database

COMMIT_BYTES = 128 * 2**10
COMMITS = 100


def largest_wal(path: Path, limit: int) -> int:
    """Commits ``COMMITS`` rows of ``COMMIT_BYTES`` while two readers take turns so that one
    of them always holds a snapshot; the largest size the log reached after a commit."""
    database = Database(f"sqlite:///{path}", wal_limit_bytes=limit, busy_timeout_seconds=10)
    with database.write() as conn:
        conn.execute(text("CREATE TABLE pages (body BLOB)"))
    stop = threading.Event()

    def reader(delay: float) -> None:
        time.sleep(delay)
        while not stop.is_set():
            with database.read() as conn:
                conn.execute(text("SELECT count(*) FROM pages")).scalar_one()  # the snapshot begins
                time.sleep(0.02)

    readers = [threading.Thread(target=reader, args=(delay,)) for delay in (0, 0.01)]
    for thread in readers:
        thread.start()
    largest = 0
    try:
        time.sleep(0.05)
        for _ in range(COMMITS):
            with database.write() as conn:
                conn.execute(text("INSERT INTO pages VALUES (randomblob(:size))"), {"size": COMMIT_BYTES})
            largest = max(largest, os.stat(f"{path}-wal").st_size)
    finally:
        stop.set()
        for thread in readers:
            thread.join()
        database.dispose()
    return largest


def test_the_log_grows_without_end_under_overlapping_readers_when_unbounded(tmp_path: Path) -> None:
    """The case the bound is for: without it, the log keeps every commit."""
    assert largest_wal(tmp_path / "unbounded.db", limit=2**40) > COMMITS * COMMIT_BYTES // 2


@pytest.mark.parametrize("limit", [2**20, 4 * 2**20])
def test_the_log_stays_within_its_limit_under_overlapping_readers(tmp_path: Path, limit: int) -> None:
    """A commit that finds the log past the limit restarts it, or the next one does when
    the readers of older snapshots were still at work (each waits a little)."""
    largest = largest_wal(tmp_path / "bounded.db", limit=limit)
    assert largest <= limit + 8 * COMMIT_BYTES, largest


def page_size(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("PRAGMA page_size").fetchone()[0])


def test_a_new_database_has_large_pages_and_an_existing_one_keeps_its_own(tmp_path: Path) -> None:
    """A commit writes every page it changed to the log; a batch of events changes pages all
    over the log's indexes, so fewer, larger pages write less (store/database.py)."""
    new = Database(f"sqlite:///{tmp_path / 'new.db'}")
    with new.write() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    new.dispose()
    assert page_size(tmp_path / "new.db") == PAGE_SIZE_BYTES == 32_768

    with sqlite3.connect(tmp_path / "old.db") as conn:  # made before: SQLite's default pages
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE t (x INTEGER)")
    old = Database(f"sqlite:///{tmp_path / 'old.db'}")
    with old.write() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
    with old.read() as conn:
        assert conn.execute(text("SELECT x FROM t")).scalar_one() == 1
    old.dispose()
    assert page_size(tmp_path / "old.db") == 4096
