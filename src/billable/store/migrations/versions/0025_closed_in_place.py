"""An interval closed in place keeps its open version in its row: ``open_seq`` on sessions and
holdings (and their retired rows), the sequence from which the interval was stored open,
where a retired row of its own kept that version before. Ingestion closes in place an
interval open at the commit before whose end is later than every event then in the log
(store/derived.py); a report as of an earlier instant reads such a row as open between
the two sequences (store/history.py). Every session of a log fed in small batches was
stored open once and retired when it closed: a retired row (45 bytes on SQLite) for nearly
every session.

The rows stored before keep their retired open versions: the column is added empty. The
downgrade writes each row's open version back as a retired row, then drops the column.

Revision ID: 0025
Revises: 0024
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

_OPEN = 2**63 - 1  # an open interval's end (billable.rules.intervals.OPEN)
_INTERVALS = {"sessions": ("org_id", "user_id"), "holdings": ("org_id", "user_id", "product")}


def upgrade() -> None:
    for table in _INTERVALS:
        for name in (table, f"{table}_retired"):
            op.add_column(name, sa.Column("open_seq", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    for table, key in _INTERVALS.items():
        columns = ", ".join(key)
        for source in (table, f"{table}_retired"):
            op.execute(f"INSERT INTO {table}_retired ({columns}, ended_at, started_at, created_seq, retired_seq) "
                       f"SELECT {columns}, {_OPEN}, started_at, open_seq, created_seq FROM {source} "
                       "WHERE open_seq IS NOT NULL")
        for name in (table, f"{table}_retired"):
            op.execute(f"ALTER TABLE {name} DROP COLUMN open_seq")
