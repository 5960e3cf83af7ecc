"""When an event was voided, by which client and why move from the log to ``event_voids``, a
row per voided event; the log keeps the void's place in the arrival order, which the reports
filter by. Most events are never voided, and on SQLite each of the three empty columns took
a byte of every row of the log. A logout's type is 0, where it was 2: SQLite keeps 0 and 1
in a row's header, without a byte of their own, and logins (1) and logouts are most of a
log. M went from 153 to 149.6 bytes an event (docs/performance.md).

SQLite copies the log once into its new layout, in its key's order. PostgreSQL drops the
columns in place (the rows written before keep their space until the table is rewritten,
as by ``VACUUM FULL``). On a distributed (Citus) database the new table is placed with the
organizations.

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

_DETAILS = ("voided_at", "voided_by", "void_reason")
_LOGOUT_THEN, _LOGOUT_NOW = 2, 0  # a logout's type at 0023 and from here on
# The log's columns on SQLite after (before: 0023's, as its migrations left them, the details last).
_KEPT = ("org_id", "seq", "source_id", "event_id", "type", "subject", "time", "event_day", "product", "device_type",
         "email_id", "received_at", "void_seq")
_SQLITE_COLUMNS = ("org_id INTEGER NOT NULL, seq BIGINT NOT NULL, source_id INTEGER NOT NULL, "
                   "event_id VARCHAR(256) NOT NULL, type SMALLINT NOT NULL, subject VARCHAR(256) NOT NULL, "
                   "time BIGINT NOT NULL, event_day INTEGER DEFAULT 0 NOT NULL, product VARCHAR(64), "
                   "device_type VARCHAR(64), email_id INTEGER, received_at BIGINT NOT NULL, void_seq BIGINT")
_SQLITE_DETAILS = ", voided_at BIGINT, voided_by VARCHAR(64), void_reason TEXT"


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
    if connection.dialect.name == "postgresql":
        for column in _DETAILS:  # a statement each, as Citus takes them
            op.drop_column("events", column)
        op.execute(f"UPDATE events SET type = {_LOGOUT_NOW} WHERE type = {_LOGOUT_THEN}")
    else:
        _copy(_SQLITE_COLUMNS, _KEPT, _values(_KEPT, _LOGOUT_THEN, _LOGOUT_NOW))


def downgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        op.execute(f"UPDATE events SET type = {_LOGOUT_THEN} WHERE type = {_LOGOUT_NOW}")
        op.add_column("events", sa.Column("voided_at", sa.BigInteger, nullable=True))
        op.add_column("events", sa.Column("voided_by", sa.String(64), nullable=True))
        op.add_column("events", sa.Column("void_reason", sa.Text, nullable=True))
        op.execute("UPDATE events SET voided_at = v.voided_at, voided_by = v.voided_by, void_reason = v.void_reason "
                   "FROM event_voids v WHERE v.org_id = events.org_id AND v.seq = events.seq")
    else:
        _copy(_SQLITE_COLUMNS + _SQLITE_DETAILS, (*_KEPT, *_DETAILS),
              (*_values(_KEPT, _LOGOUT_NOW, _LOGOUT_THEN), *(f"v.{name}" for name in _DETAILS)))
    op.drop_table("event_voids")


def _values(names: tuple[str, ...], was: int, now: int) -> tuple[str, ...]:
    """The log's columns ``names`` as SQL over the log ``e``, a logout's type ``was`` made ``now``."""
    return tuple(f"CASE WHEN e.type = {was} THEN {now} ELSE e.type END" if name == "type" else f"e.{name}"
                 for name in names)


def _copy(columns: str, names: tuple[str, ...], values: tuple[str, ...]) -> None:
    """SQLite: the log copied into a table of ``columns``, each of ``names`` from SQL over the
    log ``e`` and its voids ``v``, in its key's order; its indexes made again."""
    op.execute(f"CREATE TABLE events_0024 ({columns}, PRIMARY KEY (org_id, seq)) WITHOUT ROWID")
    op.execute(f"INSERT INTO events_0024 ({', '.join(names)}) SELECT {', '.join(values)} FROM events e "
               "LEFT JOIN event_voids v ON v.org_id = e.org_id AND v.seq = e.seq ORDER BY e.org_id, e.seq")
    op.execute("DROP TABLE events")
    op.execute("ALTER TABLE events_0024 RENAME TO events")
    op.execute("CREATE UNIQUE INDEX events_key ON events (org_id, source_id, event_id)")
    op.execute("CREATE INDEX events_voided ON events (org_id, void_seq) WHERE void_seq IS NOT NULL")
    op.execute("CREATE INDEX events_device_activity ON events (org_id, time, device_type, subject) WHERE type = 5")
    op.execute("CREATE INDEX events_by_day ON events (event_day, subject)")
