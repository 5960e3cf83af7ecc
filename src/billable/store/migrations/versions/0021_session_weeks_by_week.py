"""``session_weeks`` filed by week first, then user: a report reads the weeks of its period
for every user in one range of the key, and splits them by user itself. Keyed by user first,
it sought each charged user's weeks one by one (or, on PostgreSQL, filtered every row by the
list of the users), and a scan of the period's weeks alone would have read the organization's
whole history.

Revision ID: 0021
Revises: 0020
"""

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def _key(columns: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Two statements: Citus, which changes each shard's key likewise, takes a new
        # constraint only as a command of its own.
        op.execute("ALTER TABLE session_weeks DROP CONSTRAINT session_weeks_pkey")
        op.execute(f"ALTER TABLE session_weeks ADD CONSTRAINT session_weeks_pkey PRIMARY KEY ({columns})")
        return
    # SQLite stores the table in its key's order (WITHOUT ROWID): the rows are copied in the new order.
    op.execute("CREATE TABLE session_weeks_filed (org_id VARCHAR(36) NOT NULL, user_id VARCHAR(256) NOT NULL, "
               f"week BIGINT NOT NULL, bounds BLOB NOT NULL, PRIMARY KEY ({columns})) WITHOUT ROWID")
    op.execute("INSERT INTO session_weeks_filed (org_id, user_id, week, bounds) "
               "SELECT org_id, user_id, week, bounds FROM session_weeks")
    op.execute("DROP TABLE session_weeks")
    op.execute("ALTER TABLE session_weeks_filed RENAME TO session_weeks")


def upgrade() -> None:
    _key("org_id, week, user_id")


def downgrade() -> None:
    _key("org_id, user_id, week")
