"""Which organization trusts which: a partner reads the billing overview of those that trust it (issue 37).

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

from billable.store.distribution import follow_plan
from billable.store.tables import OrgId

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trusts",
        sa.Column("trustor_org_id", OrgId(), nullable=False),
        sa.Column("trustee_org_id", OrgId(), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("trustor_org_id", "trustee_org_id"),
    )
    op.create_index("trusts_by_trustee", "trusts", ["trustee_org_id", "trustor_org_id"])
    follow_plan(op.get_bind(), "trusts")  # on a distributed database: a reference table


def downgrade() -> None:
    op.drop_table("trusts")
