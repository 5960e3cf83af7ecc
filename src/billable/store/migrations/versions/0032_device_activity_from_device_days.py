"""The log's index of device activity goes: ``events_device_activity``, a partial index of the
log's ``device.active`` events by ``(org_id, time, device_type, subject)``, answered one
question, the first activity of each device in the part days at a period's edges. Those now
come from ``device_days`` (a device's first activity of each day), and a device whose day began
before a period's start is sought by its id and day in the log's subject index,
``events_by_day`` (store/reports.py: ``first_device_activity``). The index took 7.5 bytes an
event of data set M on PostgreSQL, and an entry to write for every device event
(docs/performance.md).

Revision ID: 0032
Revises: 0031
"""

from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DROP INDEX events_device_activity")


def downgrade() -> None:
    op.execute("CREATE INDEX events_device_activity ON events (org_id, time, device_type, subject) WHERE type = 5")
