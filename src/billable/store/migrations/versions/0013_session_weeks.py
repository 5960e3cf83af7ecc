"""Each user's sessions packed per UTC week of their start (``session_weeks``), filled from
the sessions of the weeks before the one of the organization's latest event: the
concurrent report reads a row per user and week instead of one per session.

Revision ID: 0013
Revises: 0012
"""

import struct
from itertools import chain, groupby

import sqlalchemy as sa
from alembic import op

from billable.store.distribution import follow_plan

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

WEEK_MS = 7 * 86_400_000
_ROWS_PER_INSERT = 10_000


def upgrade() -> None:
    op.create_table(
        "session_weeks",
        sa.Column("org_id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(256), primary_key=True),
        sa.Column("week", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("bounds", sa.LargeBinary, nullable=False),
        sqlite_with_rowid=False,
    )
    connection = op.get_bind()
    follow_plan(connection, "session_weeks")  # on a distributed database: by org_id, with the rest
    # The weeks before the one of each organization's latest event (those it has passed).
    sessions = connection.execute(sa.text(
        "SELECT s.org_id, s.user_id, s.started_at, s.ended_at FROM sessions s JOIN organizations o ON o.id = s.org_id "
        f"WHERE s.started_at < o.latest_event_time - o.latest_event_time % {WEEK_MS} "
        "ORDER BY s.org_id, s.user_id, s.ended_at"
    ).execution_options(yield_per=_ROWS_PER_INSERT))
    insert = sa.text("INSERT INTO session_weeks (org_id, user_id, week, bounds) VALUES (:org, :user, :week, :bounds)")
    rows = []
    # Little-endian 64-bit (started_at, ended_at) pairs in time order, as store/session_weeks.py packs them.
    for (org_id, user_id, week), pairs in groupby(sessions, key=lambda s: (s[0], s[1], s[2] - s[2] % WEEK_MS)):
        flat = list(chain.from_iterable((started, ended) for _, _, started, ended in pairs))
        rows.append({"org": org_id, "user": user_id, "week": week, "bounds": struct.pack(f"<{len(flat)}q", *flat)})
        if len(rows) == _ROWS_PER_INSERT:
            connection.execute(insert, rows)
            rows = []
    if rows:
        connection.execute(insert, rows)


def downgrade() -> None:
    op.drop_table("session_weeks")
