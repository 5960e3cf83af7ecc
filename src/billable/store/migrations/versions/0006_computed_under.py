"""A stored report names what it was computed under (rules and body versions, catalog,
the organization's model) besides the events it saw: a body of other rules is never served.
Bodies stored before this have none, so each is computed once more.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("computed_reports") as table:
        table.add_column(sa.Column("computed_under", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("computed_reports") as table:
        table.drop_column("computed_under")
