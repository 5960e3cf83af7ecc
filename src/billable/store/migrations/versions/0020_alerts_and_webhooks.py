"""Usage alerts, webhook endpoints and their outbox (issue 38).

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

from billable.store.distribution import follow_plan
from billable.store.tables import OrgId

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_TABLES = ("alerts", "alert_states", "alert_checks", "webhooks", "webhook_messages", "webhook_attempts")


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("org_id", OrgId(), nullable=False),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("org_id", "id"),
    )
    op.create_table(
        "alert_states",
        sa.Column("org_id", OrgId(), nullable=False),
        sa.Column("alert_id", sa.String(36), nullable=False),
        sa.Column("product", sa.String(100), nullable=False),
        sa.Column("threshold", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("period_start", sa.BigInteger, nullable=False),
        sa.Column("triggered", sa.Integer, nullable=False),
        sa.Column("value", sa.String(40), nullable=False),
        sa.Column("line", sa.String(40), nullable=False),
        sa.Column("changed_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("org_id", "alert_id", "product", "threshold"),
    )
    op.create_table(
        "alert_checks",
        sa.Column("org_id", OrgId(), nullable=False),
        sa.Column("evaluated_seq", sa.BigInteger, nullable=False),
        sa.Column("evaluated_model", sa.String(16), nullable=False),
        sa.Column("evaluated_at", sa.BigInteger, nullable=False),
        sa.Column("next_check_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("org_id"),
    )
    op.create_table(
        "webhooks",
        sa.Column("org_id", OrgId(), nullable=False),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("description", sa.String(200), nullable=False, server_default=""),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("org_id", "id"),
    )
    op.create_table(
        "webhook_messages",
        sa.Column("org_id", OrgId(), nullable=False),
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("webhook_id", sa.String(36), nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.BigInteger, nullable=True),
        sa.Column("lease_until", sa.BigInteger, nullable=True),
        sa.Column("delivered_at", sa.BigInteger, nullable=True),
        sa.Column("failed_at", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("org_id", "id"),
    )
    op.create_index("webhook_messages_due", "webhook_messages", ["next_attempt_at"])
    op.create_table(
        "webhook_attempts",
        sa.Column("org_id", OrgId(), nullable=False),
        sa.Column("message_id", sa.String(40), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("status", sa.Integer, nullable=True),
        sa.Column("error", sa.String(300), nullable=True),
        sa.Column("took_ms", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("org_id", "message_id", "attempt"),
    )
    for name in _TABLES:
        follow_plan(op.get_bind(), name)  # on a distributed database: by org_id, with the rest


def downgrade() -> None:
    for name in reversed(_TABLES):
        op.drop_table(name)
