"""A client has a name, what people call it (``oauth_clients.name``): the page says who
voided an event by it. The clients made before are unnamed ('') and go by their id.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("oauth_clients", sa.Column("name", sa.String(100), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("oauth_clients") as table:
        table.drop_column("name")
