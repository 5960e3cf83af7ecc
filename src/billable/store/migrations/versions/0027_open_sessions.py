"""The sessions still open, indexed apart: ``sessions_open`` on ``(org_id, user_id)`` of the
rows whose end is ``OPEN``. A batch whose events come after every event of the log before it
continues each of its users from their open session, if they have one, and from nothing
else (store/derived.py: ``_extend_intervals``): it seeks them here, in an index as small as
the users logged in at once, where the sessions' key holds every session of the
organization's history and a batch of L sought across all of it (docs/performance.md).

Revision ID: 0027
Revises: 0026
"""

from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

_OPEN = 2**63 - 1  # an open interval's end (billable.rules.intervals.OPEN)


def upgrade() -> None:
    op.execute(f"CREATE INDEX sessions_open ON sessions (org_id, user_id) WHERE ended_at = {_OPEN}")


def downgrade() -> None:
    op.execute("DROP INDEX sessions_open")
