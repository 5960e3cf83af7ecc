"""The log's index of a subject's events by time loses its leading ``org_id``
(``events_subject_time`` → ``events_by_subject``): the same look-ups, since each also
names the organization, with entries half as large for every batch to write.

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("events_by_subject", "events", ["subject", "time"])
    op.drop_index("events_subject_time", "events")


def downgrade() -> None:
    op.create_index("events_subject_time", "events", ["org_id", "subject", "time"])
    op.drop_index("events_by_subject", "events")
