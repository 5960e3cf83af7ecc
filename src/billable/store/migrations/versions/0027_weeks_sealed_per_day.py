"""The packed weeks sealed per day: the sessions that started before the UTC day of an
organization's latest event are packed (``session_weeks``), where only those of the weeks
before its week were; a report of the running week reads at most a day of sessions one
by one instead of up to six (store/session_weeks.py).

The upgrade packs each organization's sessions of the days of its latest event's week
before that event's day; the downgrade removes them (0026 packs a week once it has passed).

Revision ID: 0027
Revises: 0026
"""

import struct
from itertools import chain, groupby

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

_DAY_MS = 86_400_000
_WEEK_MS = 7 * _DAY_MS
_ROWS_PER_INSERT = 10_000


def _organization(connection: sa.Connection) -> str:
    """How the derived tables name an organization: its number on SQLite (0023), its id on PostgreSQL."""
    return "o.number" if connection.dialect.name == "sqlite" else "o.id"


def upgrade() -> None:
    connection = op.get_bind()
    latest = "o.latest_event_time"
    sessions = connection.execute(sa.text(
        f"SELECT s.org_id, s.user_id, s.started_at, s.ended_at FROM sessions s "
        f"JOIN organizations o ON {_organization(connection)} = s.org_id "
        f"WHERE {latest} IS NOT NULL AND s.started_at >= {latest} - {latest} % {_WEEK_MS} "
        f"AND s.started_at < {latest} - {latest} % {_DAY_MS} ORDER BY s.org_id, s.user_id, s.ended_at"
    ).execution_options(yield_per=_ROWS_PER_INSERT))
    insert = sa.text("INSERT INTO session_weeks (org_id, user_id, week, bounds) VALUES (:org, :user, :week, :bounds)")
    rows = []
    # Little-endian 64-bit (started_at, ended_at) pairs in time order, as store/session_weeks.py packs them;
    # all of one week, the latest event's.
    for (org_id, user_id), pairs in groupby(sessions, key=lambda s: (s[0], s[1])):
        found = list(pairs)
        flat = list(chain.from_iterable((started, ended) for _, _, started, ended in found))
        week = found[0][2] - found[0][2] % _WEEK_MS
        rows.append({"org": org_id, "user": user_id, "week": week, "bounds": struct.pack(f"<{len(flat)}q", *flat)})
        if len(rows) == _ROWS_PER_INSERT:
            connection.execute(insert, rows)
            rows = []
    if rows:
        connection.execute(insert, rows)


def downgrade() -> None:
    connection = op.get_bind()
    latest = "o.latest_event_time"
    op.execute(f"DELETE FROM session_weeks WHERE week >= (SELECT {latest} - {latest} % {_WEEK_MS} "
               f"FROM organizations o WHERE {_organization(connection)} = session_weeks.org_id)")
