"""Organizations, OAuth clients, the event log and the state derived from it.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

DEVICE_ACTIVE = sa.text("type = 'device.active'")


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("model", sa.String(16), nullable=False),
        sa.Column("last_seq", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "oauth_clients",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("org_id", sa.String(36), nullable=False),
        sa.Column("secret_hash", sa.String(200), nullable=False),
        sa.Column("permissions", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("revoked_at", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_oauth_clients_org_id", "oauth_clients", ["org_id"])
    op.create_table(
        "events",
        sa.Column("org_id", sa.String(36), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("source", sa.String(256), nullable=False),
        sa.Column("event_id", sa.String(256), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(256), nullable=False),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("product", sa.String(64), nullable=True),
        sa.Column("device_type", sa.String(64), nullable=True),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("received_at", sa.BigInteger, nullable=False),
    )
    op.create_index("events_key", "events", ["org_id", "source", "event_id"], unique=True)
    op.create_index("events_subject_time", "events", ["org_id", "subject", "time"])
    op.create_index(
        "events_device_activity",
        "events",
        ["org_id", "time", "device_type", "subject"],
        sqlite_where=DEVICE_ACTIVE,
        postgresql_where=DEVICE_ACTIVE,
    )
    op.create_table(
        "users",
        sa.Column("org_id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(256), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("email_time", sa.BigInteger, nullable=False),
        sa.Column("email_seq", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "sessions",
        sa.Column("org_id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(256), primary_key=True),
        sa.Column("ended_at", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("started_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "holdings",
        sa.Column("org_id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(256), primary_key=True),
        sa.Column("product", sa.String(64), primary_key=True),
        sa.Column("ended_at", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("started_at", sa.BigInteger, nullable=False),
    )
    op.create_index("holdings_period", "holdings", ["org_id", "started_at"])


def downgrade() -> None:
    for table in ("holdings", "sessions", "users", "events", "oauth_clients", "organizations"):
        op.drop_table(table)
