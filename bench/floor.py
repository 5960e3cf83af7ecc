"""The bare floor of ingestion (performance.md v3): what storing a file of events costs with
nothing of billable in the way.

    .venv/bin/python bench/floor.py EVENTS.ndjson FLOOR.db

orjson parses each line of the NDJSON file, and one prepared insert per event stores it
whole (its keys, type, subject, time and data) into one SQLite table keyed by
``(org, source, id)``, in WAL mode with ``synchronous=FULL``, in one transaction; an event
whose key is stored already is left out, as billable leaves a duplicate out. The
benchmark times this command as it times ``billable ingest``, process start included, and
prints the ratio of the two.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import orjson

ORG = "00000000-0000-4000-8000-000000000000"


def store(path: Path, database: Path) -> int:
    """Store every event of ``path`` into a new SQLite file ``database``: the events kept."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    conn = sqlite3.connect(database, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE events (org TEXT NOT NULL, source TEXT NOT NULL, id TEXT NOT NULL, type TEXT NOT NULL,"
                 " subject TEXT NOT NULL, time TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (org, source, id))")
    insert = "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?, ?)"
    conn.execute("BEGIN")
    with path.open("rb") as lines:
        for line in lines:
            event = orjson.loads(line)
            conn.execute(insert, (ORG, event["source"], event["id"], event["type"], event["subject"], event["time"],
                                  orjson.dumps(event.get("data", {})).decode()))
    conn.execute("COMMIT")
    kept: int = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    conn.close()
    return kept


if __name__ == "__main__":
    print(store(Path(sys.argv[1]), Path(sys.argv[2])))
