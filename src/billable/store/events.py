"""The append-only event log."""

from __future__ import annotations

from sqlalchemy import Connection, select, tuple_

from billable.rules.events import UsageEvent
from billable.store.sql import chunks
from billable.store.tables import events

# SQLite binds at most 32,766 parameters per statement.
_KEYS_PER_QUERY = 5_000


def stored_keys(conn: Connection, org_id: str, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of ``keys`` (source, id) the organization has already stored."""
    found: set[tuple[str, str]] = set()
    for chunk in chunks(keys, _KEYS_PER_QUERY):
        query = select(events.c.source, events.c.event_id).where(
            events.c.org_id == org_id, tuple_(events.c.source, events.c.event_id).in_(chunk)
        )
        found.update((row.source, row.event_id) for row in conn.execute(query))
    return found


def append_events(conn: Connection, org_id: str, batch: list[UsageEvent], first_seq: int, received_at: int) -> None:
    """Store ``batch`` with arrival sequences ``first_seq``, ``first_seq + 1``, …"""
    if not batch:
        return
    conn.execute(
        events.insert(),
        [
            {
                "org_id": org_id,
                "seq": first_seq + offset,
                "source": event.source,
                "event_id": event.id,
                "type": event.type,
                "subject": event.subject,
                "time": event.time,
                "product": event.product,
                "device_type": event.device_type,
                "data": event.data_json(),
                "received_at": received_at,
            }
            for offset, event in enumerate(batch)
        ],
    )
