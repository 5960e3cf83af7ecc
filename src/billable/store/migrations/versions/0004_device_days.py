"""The first activity of each device per type and UTC day, filled from the event log.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

DAY_MS = 86_400_000


def upgrade() -> None:
    op.create_table(
        "device_days",
        sa.Column("org_id", sa.String(36), primary_key=True),
        sa.Column("day", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("device_type", sa.String(64), primary_key=True),
        sa.Column("device_id", sa.String(256), primary_key=True),
        sa.Column("first_active", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    day = f"time - ((time % {DAY_MS}) + {DAY_MS}) % {DAY_MS}"  # floored, before 1970 too
    op.execute(
        "INSERT INTO device_days (org_id, day, device_type, device_id, first_active) "
        f"SELECT org_id, {day}, device_type, subject, min(time) FROM events "
        f"WHERE type = 'device.active' GROUP BY org_id, {day}, device_type, subject"
    )


def downgrade() -> None:
    op.drop_table("device_days")
