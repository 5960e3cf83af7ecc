"""What an organization bought: its subscriptions, each kept (issue 37).

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

from billable.store.distribution import follow_plan
from billable.store.tables import OrgId

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("org_id", OrgId(), nullable=False),
        sa.Column("set_at", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("set_by", sa.String(64), nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("org_id", "set_at"),
    )
    follow_plan(op.get_bind(), "subscriptions")  # on a distributed database: by org_id, with the rest


def downgrade() -> None:
    op.drop_table("subscriptions")
