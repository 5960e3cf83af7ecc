"""The log by arrival in blocks, on PostgreSQL: ``events_arrival`` on ``(org_id, seq / 64)``
takes the place of the primary key ``(org_id, seq)``. A block's 64 events share one entry of
the index, which PostgreSQL stores as one key and their rows' addresses (deduplication): 7
bytes an event where the key took 41, and one index fewer to write per event
(docs/performance.md). A statement finds events by sequence through their block
(store/events.py). The log's unique key ``(org_id, source_id, event_id)`` identifies its rows
to logical replication (Citus moves shards by it), as the primary key did.

SQLite files the log by ``(org_id, seq)`` (migration 0023) and is not changed.

Revision ID: 0028
Revises: 0027
"""

from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE INDEX events_arrival ON events (org_id, (seq / 64))")
    op.execute("ALTER TABLE events REPLICA IDENTITY USING INDEX events_key")
    op.execute("ALTER TABLE events DROP CONSTRAINT events_pkey")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY (org_id, seq)")
    op.execute("ALTER TABLE events REPLICA IDENTITY DEFAULT")
    op.execute("DROP INDEX events_arrival")
