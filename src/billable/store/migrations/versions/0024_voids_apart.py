"""The log's row keeps neither its day nor a void's details. The subject index files each
event by the UTC day of its time, computed in the index (``tables.day_of``, which floors
in SQL, whose division truncates), where the day was a column of the row (migration 0014).
When an event was voided, by which client and why move to ``event_voids``, a row per voided
event; the log keeps the void's place in the arrival order, which the reports filter by. On SQLite each of
the three took a byte of every row, empty or not, and the day three: M went from 153 to 146
bytes an event (docs/performance.md).

SQLite copies the log once into its new layout, in its key's order. PostgreSQL drops the
columns in place (their space in the rows written before is reclaimed when the table is
rewritten, as by ``VACUUM FULL``). On a distributed (Citus) database the new table is
placed with the organizations.

Revision ID: 0024
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

from billable.store.distribution import follow_plan
from billable.store.tables import OrgKey

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

# tables.day_of, as it was made here
_DAY = "CAST((time - (time % 86400000 + 86400000) % 86400000) / 86400000 AS INTEGER)"
_DETAILS = ("voided_at", "voided_by", "void_reason")

# The log's columns on SQLite before (0023's, as its migrations left them) and after.
_KEPT = ("org_id INTEGER NOT NULL, seq BIGINT NOT NULL, source_id INTEGER NOT NULL, event_id VARCHAR(256) NOT NULL, "
         "type SMALLINT NOT NULL, subject VARCHAR(256) NOT NULL, time BIGINT NOT NULL, {day}product VARCHAR(64), "
         "device_type VARCHAR(64), email_id INTEGER, received_at BIGINT NOT NULL, void_seq BIGINT{details}")
_SQLITE_BEFORE = _KEPT.format(day="event_day INTEGER DEFAULT 0 NOT NULL, ",
                              details=", voided_at BIGINT, voided_by VARCHAR(64), void_reason TEXT")
_SQLITE_AFTER = _KEPT.format(day="", details="")
_NAMES = ("org_id", "seq", "source_id", "event_id", "type", "subject", "time", "product", "device_type", "email_id",
          "received_at", "void_seq")


def upgrade() -> None:
    connection = op.get_bind()
    op.create_table(
        "event_voids",
        sa.Column("org_id", OrgKey(), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("voided_at", sa.BigInteger, nullable=False),
        sa.Column("voided_by", sa.String(64), nullable=False),
        sa.Column("void_reason", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("org_id", "seq"),
    )
    follow_plan(connection, "event_voids")  # on a distributed database: by org_id, with the rest
    op.execute(f"INSERT INTO event_voids (org_id, seq, {', '.join(_DETAILS)}) "
               f"SELECT org_id, seq, {', '.join(_DETAILS)} FROM events WHERE void_seq IS NOT NULL")
    op.drop_index("events_by_day", "events")
    if connection.dialect.name == "postgresql":
        for column in ("event_day", *_DETAILS):  # a statement each, as Citus takes them
            op.drop_column("events", column)
    else:
        _copy(_SQLITE_AFTER, _NAMES, tuple(f"e.{name}" for name in _NAMES))
    op.execute(f"CREATE INDEX events_by_day ON events ({_DAY}, subject)")


def downgrade() -> None:
    connection = op.get_bind()
    op.drop_index("events_by_day", "events")
    if connection.dialect.name == "postgresql":
        op.add_column("events", sa.Column("event_day", sa.Integer, nullable=False, server_default=sa.text("0")))
        op.add_column("events", sa.Column("voided_at", sa.BigInteger, nullable=True))
        op.add_column("events", sa.Column("voided_by", sa.String(64), nullable=True))
        op.add_column("events", sa.Column("void_reason", sa.Text, nullable=True))
        op.execute(f"UPDATE events SET event_day = {_DAY}")
        op.execute("UPDATE events SET voided_at = v.voided_at, voided_by = v.voided_by, void_reason = v.void_reason "
                   "FROM event_voids v WHERE v.org_id = events.org_id AND v.seq = events.seq")
    else:
        _copy(_SQLITE_BEFORE, (*_NAMES, "event_day", *_DETAILS), (*(f"e.{name}" for name in _NAMES), _DAY,
                                                                  *(f"v.{name}" for name in _DETAILS)))
    op.create_index("events_by_day", "events", ["event_day", "subject"])
    op.drop_table("event_voids")


def _copy(columns: str, names: tuple[str, ...], values: tuple[str, ...]) -> None:
    """SQLite: the log copied into a table of ``columns``, each of ``names`` from SQL over the
    log ``e`` and its voids ``v``, in its key's order; its other indexes made again."""
    op.execute(f"CREATE TABLE events_0024 ({columns}, PRIMARY KEY (org_id, seq)) WITHOUT ROWID")
    op.execute(f"INSERT INTO events_0024 ({', '.join(names)}) SELECT {', '.join(values)} FROM events e "
               "LEFT JOIN event_voids v ON v.org_id = e.org_id AND v.seq = e.seq ORDER BY e.org_id, e.seq")
    op.execute("DROP TABLE events")
    op.execute("ALTER TABLE events_0024 RENAME TO events")
    op.execute("CREATE UNIQUE INDEX events_key ON events (org_id, source_id, event_id)")
    op.execute("CREATE INDEX events_voided ON events (org_id, void_seq) WHERE void_seq IS NOT NULL")
    op.execute("CREATE INDEX events_device_activity ON events (org_id, time, device_type, subject) WHERE type = 5")
