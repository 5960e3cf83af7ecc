"""The sessions by the day of their start, on PostgreSQL: ``sessions_by_start_day`` on
``(org_id, started_at / 86400000)``. A concurrent report reads the sessions of the days after
the packed weeks, every user's, in one range of it, where it sought each user in the key
(store/reports.py: ``_packed_since``). The sessions of a day share one entry, stored once with
their rows' addresses (deduplication): about 7 bytes a session (docs/performance.md).

SQLite reads those sessions in the key, user by user, and is not changed.

Revision ID: 0029
Revises: 0028
"""

from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX sessions_by_start_day ON sessions (org_id, (started_at / 86400000))")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX sessions_by_start_day")
