"""When events were received moves from each event to ``arrivals``, a row per commit keyed by
the sequence of its last event: every event of a commit was received at the same instant,
and on SQLite the instant took 7 bytes of every row of the log.

The arrivals are read off the log: each run of events with one instant, in the order they
came, is a row (two commits received in the same millisecond are one). SQLite copies the
log once more into its new layout, in its key's order; PostgreSQL drops the column in place
(the rows keep its space until the table is rewritten, as by ``VACUUM FULL``). On a
distributed (Citus) database the new table is placed with the organizations. Downgrading
gives each event its commit's instant again.

Revision ID: 0026
Revises: 0025
"""

import sqlalchemy as sa
from alembic import op

from billable.store.distribution import follow_plan
from billable.store.tables import OrgKey

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

# The log's columns on SQLite after (before: with received_at ahead of void_seq, as 0024 left it).
_KEPT = ("org_id", "seq", "source_id", "event_id", "type", "subject", "time", "event_day", "product", "device_type",
         "email_id")
_SQLITE_COLUMNS = ("org_id INTEGER NOT NULL, seq BIGINT NOT NULL, source_id INTEGER NOT NULL, "
                   "event_id VARCHAR(256) NOT NULL, type SMALLINT NOT NULL, subject VARCHAR(256) NOT NULL, "
                   "time BIGINT NOT NULL, event_day INTEGER DEFAULT 0 NOT NULL, product VARCHAR(64), "
                   "device_type VARCHAR(64), email_id INTEGER")
# Each arrival with the sequence after the one before it: the events it holds are those from there to its own.
_RANGES = ("(SELECT org_id, seq, received_at, COALESCE(LAG(seq) OVER (PARTITION BY org_id ORDER BY seq), 0) AS after "
           "FROM arrivals) r")


def upgrade() -> None:
    connection = op.get_bind()
    op.create_table(
        "arrivals",
        sa.Column("org_id", OrgKey(), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("received_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("org_id", "seq"),
        sqlite_with_rowid=False,
    )
    follow_plan(connection, "arrivals")  # on a distributed database: by org_id, with the rest
    op.execute("INSERT INTO arrivals (org_id, seq, received_at) SELECT org_id, seq, received_at FROM "
               "(SELECT org_id, seq, received_at, LEAD(received_at) OVER (PARTITION BY org_id ORDER BY seq) AS next "
               "FROM events) e WHERE next IS NULL OR next <> received_at")
    if connection.dialect.name == "postgresql":
        op.drop_column("events", "received_at")
    else:
        _copy(f"{_SQLITE_COLUMNS}, void_seq BIGINT", (*_KEPT, "void_seq"), "FROM events e")


def downgrade() -> None:
    connection = op.get_bind()
    received = f"FROM {_RANGES} WHERE r.org_id = e.org_id AND e.seq > r.after AND e.seq <= r.seq"
    if connection.dialect.name == "postgresql":
        op.add_column("events", sa.Column("received_at", sa.BigInteger, nullable=True))
        op.execute(f"UPDATE events e SET received_at = r.received_at {received}")
        op.alter_column("events", "received_at", nullable=False)
    else:
        _copy(f"{_SQLITE_COLUMNS}, received_at BIGINT NOT NULL, void_seq BIGINT",
              (*_KEPT, "received_at", "void_seq"), f"FROM events e JOIN {_RANGES} ON r.org_id = e.org_id "
              "AND e.seq > r.after AND e.seq <= r.seq")
    op.drop_table("arrivals")


def _copy(columns: str, names: tuple[str, ...], source: str) -> None:
    """SQLite: the log copied into a table of ``columns``, each of ``names`` from ``source``
    (the log ``e`` and, going down, its arrivals ``r``), in its key's order; its indexes made again."""
    values = ", ".join("r.received_at" if name == "received_at" else f"e.{name}" for name in names)
    op.execute(f"CREATE TABLE events_0026 ({columns}, PRIMARY KEY (org_id, seq)) WITHOUT ROWID")
    op.execute(f"INSERT INTO events_0026 ({', '.join(names)}) SELECT {values} {source} ORDER BY e.org_id, e.seq")
    op.execute("DROP TABLE events")
    op.execute("ALTER TABLE events_0026 RENAME TO events")
    op.execute("CREATE UNIQUE INDEX events_key ON events (org_id, source_id, event_id)")
    op.execute("CREATE INDEX events_voided ON events (org_id, void_seq) WHERE void_seq IS NOT NULL")
    op.execute("CREATE INDEX events_device_activity ON events (org_id, time, device_type, subject) WHERE type = 5")
    op.execute("CREATE INDEX events_by_day ON events (event_day, subject)")
