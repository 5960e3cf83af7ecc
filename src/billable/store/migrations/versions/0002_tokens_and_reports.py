"""Access tokens and computed reports.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("org_id", sa.String(36), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("permissions", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_access_tokens_expires_at", "access_tokens", ["expires_at"])
    op.create_table(
        "computed_reports",
        sa.Column("org_id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("period_start", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("period_end", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("subject", sa.String(256), primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=True),
        sa.Column("body", sa.Text, nullable=True),
        sa.Column("fresh_until", sa.BigInteger, nullable=True),
        sa.Column("computing_version", sa.BigInteger, nullable=True),
        sa.Column("computing_since", sa.BigInteger, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("computed_reports")
    op.drop_table("access_tokens")
