"""The log keeps the number of an event's source instead of the source itself: each
organization numbers its sources in ``event_sources`` in the order they first came, and the
log's unique key becomes ``(org_id, source_id, event_id)``. An existing log's sources are
numbered by their first event.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

from billable.store.distribution import follow_plan

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# SQLite rebuilds the table to change a column: its partial indexes are made again by hand.
_PARTIAL = {
    "events_voided": (["org_id", "void_seq"], "void_seq IS NOT NULL"),
    "events_device_activity": (["org_id", "time", "device_type", "subject"], "type = 'device.active'"),
}


def upgrade() -> None:
    op.create_table(
        "event_sources",
        sa.Column("org_id", sa.String(36), nullable=False),
        sa.Column("id", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("source", sa.String(256), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "id"),
    )
    op.create_index("event_sources_key", "event_sources", ["org_id", "source"], unique=True)
    connection = op.get_bind()
    follow_plan(connection, "event_sources")  # on a distributed database: by org_id, with the rest
    op.add_column("events", sa.Column("source_id", sa.Integer, nullable=True))
    first_seen = connection.execute(sa.text(
        "SELECT org_id, source, min(seq) AS first FROM events GROUP BY org_id, source ORDER BY org_id, first")).all()
    numbers: dict[str, int] = {}
    for org_id, source, _ in first_seen:
        numbers[org_id] = number = numbers.get(org_id, 0) + 1
        connection.execute(sa.text("INSERT INTO event_sources (org_id, id, source) VALUES (:org, :id, :source)"),
                           {"org": org_id, "id": number, "source": source})
        # One plain update per organization and source (few), as 0010 does: by the old key.
        connection.execute(sa.text("UPDATE events SET source_id = :id WHERE org_id = :org AND source = :source"),
                           {"org": org_id, "id": number, "source": source})
    op.drop_index("events_key", "events")
    _rebuild_events(drop="source", not_null="source_id")
    op.create_index("events_key", "events", ["org_id", "source_id", "event_id"], unique=True)


def downgrade() -> None:
    op.add_column("events", sa.Column("source", sa.String(256), nullable=True))
    connection = op.get_bind()
    for org_id, number, source in connection.execute(sa.text("SELECT org_id, id, source FROM event_sources")).all():
        connection.execute(sa.text("UPDATE events SET source = :source WHERE org_id = :org AND source_id = :id"),
                           {"org": org_id, "id": number, "source": source})
    op.drop_index("events_key", "events")
    _rebuild_events(drop="source_id", not_null="source")
    op.create_index("events_key", "events", ["org_id", "source", "event_id"], unique=True)
    op.drop_table("event_sources")


def _rebuild_events(drop: str, not_null: str) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for name in _PARTIAL:
            op.drop_index(name, "events")
    with op.batch_alter_table("events") as table:
        table.drop_column(drop)
        table.alter_column(not_null, nullable=False)
    if sqlite:
        for name, (columns, where) in _PARTIAL.items():
            op.create_index(name, "events", columns, sqlite_where=sa.text(where))
