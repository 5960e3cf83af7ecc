"""Closed periods: the report of a period kept as it was when the period was closed.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from billable.store.distribution import follow_plan

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "closed_periods",
        sa.Column("org_id", sa.String(36), nullable=False),
        sa.Column("period_start", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("period_end", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("closed_at", sa.BigInteger, nullable=False),
        sa.Column("closed_by", sa.String(64), nullable=False),
        sa.Column("sequence", sa.BigInteger, nullable=False),
        sa.Column("computed_under", sa.String(64), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("org_id", "period_start", "period_end"),
    )
    follow_plan(op.get_bind(), "closed_periods")  # on a distributed database: by org_id, with the rest


def downgrade() -> None:
    op.drop_table("closed_periods")
