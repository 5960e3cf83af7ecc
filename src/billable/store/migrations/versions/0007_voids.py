"""Voided events: an event stays in the log, marked as no longer billed, with who voided
it, when and why (``void_seq``: the void's place in the organization's arrival order).
Existing events are not voided. An index of the voids by their place in the arrival order
serves reports as of an earlier instant.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events") as table:
        table.add_column(sa.Column("void_seq", sa.BigInteger, nullable=True))
        table.add_column(sa.Column("voided_at", sa.BigInteger, nullable=True))
        table.add_column(sa.Column("voided_by", sa.String(64), nullable=True))
        table.add_column(sa.Column("void_reason", sa.Text, nullable=True))
    op.create_index("events_voided", "events", ["org_id", "void_seq"], sqlite_where=sa.text("void_seq IS NOT NULL"),
                    postgresql_where=sa.text("void_seq IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("events_voided", "events")
    with op.batch_alter_table("events") as table:
        for name in ("void_reason", "voided_by", "voided_at", "void_seq"):
            table.drop_column(name)
