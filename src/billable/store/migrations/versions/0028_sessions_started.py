"""On PostgreSQL, a BRIN index of the sessions' starts (``sessions_started``): the table's
rows go in as the events come, so the sessions started in the days after the packed weeks
lie in a few ranges of its pages, which a concurrent report reads at once instead of
seeking every user in the key (store/reports.py: ``_sessions_since``; docs/performance.md).
SQLite has no such index and reads its sessions in key order as before: nothing changes
there.

Revision ID: 0028
Revises: 0027
"""

from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX sessions_started ON sessions USING brin (started_at)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX sessions_started")
