"""On PostgreSQL the log's key ``(source, id)`` becomes an exclusion constraint through a
hash index of the key as one text (``tables.log_key``): its entries are 4-byte hash codes
where the unique B-tree's held the organization's 16-byte id, the source's number and the id
(M: 31-38 bytes an event against 66; loaded as fast). A batch sent again is refused by it
as by the unique key. SQLite keeps its unique
key (23 bytes an event there), and so does a distributed (Citus) database, whose constraints
must name the distribution column itself.

Revision ID: 0027
Revises: 0026
"""

from alembic import op
from sqlalchemy import Connection

from billable.store.distribution import is_distributed
from billable.store.tables import log_key

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def _hashed(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql" and not is_distributed(connection)


def upgrade() -> None:
    if _hashed(op.get_bind()):
        op.drop_index("events_key", "events")
        op.execute(f"ALTER TABLE events ADD CONSTRAINT events_key EXCLUDE USING hash (({log_key()}) WITH =)")


def downgrade() -> None:
    if _hashed(op.get_bind()):
        op.drop_constraint("events_key", "events")
        op.create_index("events_key", "events", ["org_id", "source_id", "event_id"], unique=True)
