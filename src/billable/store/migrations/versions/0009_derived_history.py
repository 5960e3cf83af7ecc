"""The derived state's history: every row of ``users``, ``sessions``, ``holdings`` and
``device_days`` gets ``created_seq`` (the sequence of the commit that wrote it), and a row
that ingestion or a void replaces moves to a ``…_retired`` table with ``retired_seq``, so a
report as of an earlier instant reads the state it had instead of walking the log again.

Rows already stored get ``created_seq`` 0, and each organization's ``history_since`` is its
sequence now: the history is exact from there on; a report as of an earlier instant walks
the log as before (store/snapshots.py). On PostgreSQL the key of ``sessions`` carries
``created_seq`` too (beside ``started_at``, 0005): a report as of an instant reads the
sessions then by index-only scans, as the current report does.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from billable.store.distribution import follow_plan

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# Each derived table: its primary key's columns and the rest (as in store/tables.py then).
_TEXT, _INSTANT = sa.String(256), sa.BigInteger
_DERIVED = {
    "users": ([("org_id", sa.String(36)), ("user_id", _TEXT)],
              [("email", sa.String(320)), ("email_time", _INSTANT), ("email_seq", _INSTANT)]),
    "sessions": ([("org_id", sa.String(36)), ("user_id", _TEXT), ("ended_at", _INSTANT)],
                 [("started_at", _INSTANT)]),
    "holdings": ([("org_id", sa.String(36)), ("user_id", _TEXT), ("product", sa.String(64)), ("ended_at", _INSTANT)],
                 [("started_at", _INSTANT)]),
    "device_days": ([("org_id", sa.String(36)), ("day", _INSTANT), ("device_type", sa.String(64)),
                     ("device_id", _TEXT)], [("first_active", _INSTANT)]),
}


def upgrade() -> None:
    with op.batch_alter_table("organizations") as table:
        table.add_column(sa.Column("history_since", sa.BigInteger, nullable=False, server_default=sa.text("0")))
    op.execute("UPDATE organizations SET history_since = last_seq")
    for name, (key, rest) in _DERIVED.items():
        with op.batch_alter_table(name) as table:
            table.add_column(sa.Column("created_seq", sa.BigInteger, nullable=False, server_default=sa.text("0")))
        op.create_table(
            f"{name}_retired",
            *(sa.Column(column, kind, nullable=False, autoincrement=False) for column, kind in key + rest),
            sa.Column("created_seq", sa.BigInteger, nullable=False, server_default=sa.text("0")),
            sa.Column("retired_seq", sa.BigInteger, nullable=False),
            sa.PrimaryKeyConstraint(*(column for column, _ in key), "retired_seq"),
            sqlite_with_rowid=False,
        )
        follow_plan(op.get_bind(), f"{name}_retired")  # on a distributed database: by org_id, with the rest
    _sessions_key(" INCLUDE (started_at, created_seq)")


def _sessions_key(include: str) -> None:
    if op.get_bind().dialect.name == "postgresql":  # two statements: Citus takes one subcommand at a time
        op.execute("ALTER TABLE sessions DROP CONSTRAINT sessions_pkey")
        op.execute(f"ALTER TABLE sessions ADD CONSTRAINT sessions_pkey PRIMARY KEY (org_id, user_id, ended_at){include}")


def downgrade() -> None:
    _sessions_key(" INCLUDE (started_at)")
    for name in _DERIVED:
        op.drop_table(f"{name}_retired")
        with op.batch_alter_table(name) as table:
            table.drop_column("created_seq")
    with op.batch_alter_table("organizations") as table:
        table.drop_column("history_since")
