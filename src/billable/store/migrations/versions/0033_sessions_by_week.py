"""A user's sessions by week, on PostgreSQL: ``sessions_by_week`` on ``(org_id, user_id,
ended_at / 604800000)`` takes the place of the primary key ``(org_id, user_id, ended_at)
INCLUDE (started_at, created_seq)``. The sessions of a user's week share one entry of the
index, stored once with their rows' addresses (deduplication): 6 bytes an event of data set M
where the key took 43 (docs/performance.md). A look-up of a user's sessions ending after an
instant names that instant's week too (store/tables.py: ``ending_after``) and reads the rows
of the weeks it finds, where the key answered from itself. Nothing but ingestion, which
derives each user's sessions whole, keeps two sessions of a user from one end. With no
unique key, logical replication identifies a row by all its columns (``REPLICA IDENTITY
FULL``): Citus moves shards by it.

SQLite files the sessions by their key (migration 0003) and is not changed.

Revision ID: 0033
Revises: 0032
"""

from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE INDEX sessions_by_week ON sessions (org_id, user_id, (ended_at / 604800000))")
    op.execute("ALTER TABLE sessions REPLICA IDENTITY FULL")
    op.execute("ALTER TABLE sessions DROP CONSTRAINT sessions_pkey")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE sessions ADD CONSTRAINT sessions_pkey PRIMARY KEY (org_id, user_id, ended_at) "
               "INCLUDE (started_at, created_seq)")
    op.execute("ALTER TABLE sessions REPLICA IDENTITY DEFAULT")
    op.execute("DROP INDEX sessions_by_week")
