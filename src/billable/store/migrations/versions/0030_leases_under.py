"""A stored report's lease names what its computation is under (``computing_under``): when the
organization's licensing model changes while a report is computed under the old one, that
lease no longer holds back the computation under the new one (service/report_desk.py). A
lease taken before the upgrade has none and holds back any, as before.

Revision ID: 0030
Revises: 0029
"""

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("computed_reports", sa.Column("computing_under", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("computed_reports") as table:
        table.drop_column("computing_under")
