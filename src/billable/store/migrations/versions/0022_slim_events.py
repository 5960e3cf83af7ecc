"""The log's row, slimmer: an event's type is kept as a number (``_CODES``), and its
data, which is its product, device type and email and nothing else (billable has kept no
other field since its first version), is no longer kept a second time as JSON text. The
product and device type have their columns already; the email is numbered per organization
in ``event_emails``, by its first event, and the log keeps the number (docs/performance.md:
an event of M went from 123 to 81 bytes of row on SQLite). The subject index by day holds
``(event_day, subject)``, without the time: a look-up reads the rows anyway, and a subject's
entries of a day are alike, which PostgreSQL stores once with their rows' places
(deduplication): 53 bytes an event there, 33 on SQLite, against 12 and 23.

SQLite copies the log once into its new layout (it changes no column's type in place); on
PostgreSQL the type's change rewrites the table, which also drops the JSON's space. On a
distributed (Citus) database the new table is placed with the organizations, and every
statement joins by the organization.

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

from billable.store.distribution import follow_plan
from billable.store.tables import OrgId

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

# The types' numbers as 0022 gave them (tables.TYPE_CODES has changed since: 0024).
_CODES = {"user.login": 1, "user.logout": 2, "license.assigned": 3, "license.unassigned": 4, "device.active": 5,
          "user.updated": 6}
_TO_CODE = "CASE {column} " + " ".join(f"WHEN '{name}' THEN {code}" for name, code in _CODES.items()) + " END"
_TO_NAME = "CASE {column} " + " ".join(f"WHEN {code} THEN '{name}'" for name, code in _CODES.items()) + " END"

# The log's columns on SQLite, in each layout's order (0021's: as its migrations left them).
_SQLITE_COLUMNS = {
    "slim": ("org_id VARCHAR(36) NOT NULL, seq BIGINT NOT NULL, source_id INTEGER NOT NULL, "
             "event_id VARCHAR(256) NOT NULL, type SMALLINT NOT NULL, subject VARCHAR(256) NOT NULL, "
             "time BIGINT NOT NULL, event_day INTEGER DEFAULT 0 NOT NULL, product VARCHAR(64), "
             "device_type VARCHAR(64), email_id INTEGER, received_at BIGINT NOT NULL, void_seq BIGINT, "
             "voided_at BIGINT, voided_by VARCHAR(64), void_reason TEXT"),
    "json": ("org_id VARCHAR(36) NOT NULL, seq BIGINT NOT NULL, event_id VARCHAR(256) NOT NULL, "
             "type VARCHAR(32) NOT NULL, subject VARCHAR(256) NOT NULL, time BIGINT NOT NULL, "
             "product VARCHAR(64), device_type VARCHAR(64), data TEXT NOT NULL, received_at BIGINT NOT NULL, "
             "void_seq BIGINT, voided_at BIGINT, voided_by VARCHAR(64), void_reason TEXT, "
             "source_id INTEGER NOT NULL, event_day INTEGER DEFAULT 0 NOT NULL"),
}
_KEPT = ("org_id", "seq", "source_id", "event_id", "subject", "time", "event_day", "product", "device_type",
         "received_at", "void_seq", "voided_at", "voided_by", "void_reason")


def _email(connection: sa.Connection, data: str) -> str:
    """The email the JSON text ``data`` names, in SQL (NULL: none)."""
    return f"({data})::json ->> 'email'" if connection.dialect.name == "postgresql" else f"json_extract({data}, '$.email')"


def _data(connection: sa.Connection, email: str) -> str:
    """An event's data as 0021 kept it (compact JSON, its fields in this order), in SQL."""
    quoted = "to_json({})::text" if connection.dialect.name == "postgresql" else "json_quote({})"
    fields = " || ".join(f"CASE WHEN {column} IS NULL THEN '' ELSE ',\"{name}\":' || {quoted.format(column)} END"
                         for name, column in (("product", "product"), ("deviceType", "device_type"), ("email", email)))
    return f"'{{' || ltrim({fields}, ',') || '}}'"


def upgrade() -> None:
    connection = op.get_bind()
    op.create_table(
        "event_emails",
        sa.Column("org_id", OrgId(), nullable=False),
        sa.Column("id", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "id"),
    )
    op.create_index("event_emails_key", "event_emails", ["org_id", "email"], unique=True)
    follow_plan(connection, "event_emails")  # on a distributed database: by org_id, with the rest
    email = _email(connection, "data")
    op.execute(
        "INSERT INTO event_emails (org_id, id, email) "
        "SELECT org_id, row_number() OVER (PARTITION BY org_id ORDER BY first_seq), email FROM "
        f"(SELECT org_id, {email} AS email, min(seq) AS first_seq FROM events WHERE {email} IS NOT NULL "
        f"GROUP BY org_id, {email}) AS found")
    if connection.dialect.name == "postgresql":
        _drop_indexes()
        op.add_column("events", sa.Column("email_id", sa.Integer, nullable=True))
        op.execute(f"UPDATE events SET email_id = m.id FROM event_emails m "
                   f"WHERE m.org_id = events.org_id AND m.email = {_email(connection, 'events.data')}")
        # Statements of their own (Citus takes them so); the second rewrites the table.
        op.execute("ALTER TABLE events DROP COLUMN data")
        op.execute(f"ALTER TABLE events ALTER COLUMN type TYPE smallint USING {_TO_CODE.format(column='type')}")
    else:
        _copy_events("slim", ("type", "email_id"), f"{_TO_CODE.format(column='e.type')}, m.id",
                     f"LEFT JOIN event_emails m ON m.org_id = e.org_id AND m.email = {_email(connection, 'e.data')}")
    _indexes(str(_CODES["device.active"]), ["event_day", "subject"])


def downgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        _drop_indexes()
        op.add_column("events", sa.Column("data", sa.Text, nullable=True))
        op.execute(f"UPDATE events SET data = {_data(connection, 'm.email')} FROM event_emails m "
                   "WHERE m.org_id = events.org_id AND m.id = events.email_id")
        op.execute(f"UPDATE events SET data = {_data(connection, 'NULL::text')} WHERE email_id IS NULL")
        op.execute("ALTER TABLE events ALTER COLUMN data SET NOT NULL")
        op.execute("ALTER TABLE events DROP COLUMN email_id")
        op.execute(f"ALTER TABLE events ALTER COLUMN type TYPE varchar(32) USING {_TO_NAME.format(column='type')}")
    else:
        _copy_events("json", ("type", "data"), f"{_TO_NAME.format(column='e.type')}, {_data(connection, 'm.email')}",
                     "LEFT JOIN event_emails m ON m.org_id = e.org_id AND m.id = e.email_id")
    _indexes("'device.active'", ["event_day", "subject", "time"])
    op.drop_table("event_emails")


def _copy_events(layout: str, changed: tuple[str, str], changed_from: str, join: str) -> None:
    """SQLite: the log copied into ``layout``, in its key's order, the columns it keeps as
    they are and its ``changed`` ones from ``changed_from`` (SQL over ``events e`` and
    ``join``), and its keys' indexes made again (``_indexes`` makes the others)."""
    kept = ", ".join(f"e.{name}" for name in _KEPT)
    op.execute(f"CREATE TABLE events_new ({_SQLITE_COLUMNS[layout]}, PRIMARY KEY (org_id, seq))")
    op.execute(f"INSERT INTO events_new ({', '.join((*_KEPT, *changed))}) SELECT {kept}, {changed_from} "
               f"FROM events e {join} ORDER BY e.org_id, e.seq")
    op.execute("DROP TABLE events")
    op.execute("ALTER TABLE events_new RENAME TO events")
    op.create_index("events_key", "events", ["org_id", "source_id", "event_id"], unique=True)
    op.create_index("events_voided", "events", ["org_id", "void_seq"], sqlite_where=sa.text("void_seq IS NOT NULL"))


def _drop_indexes() -> None:
    """PostgreSQL: the indexes ``_indexes`` makes, dropped before the table is rewritten."""
    op.drop_index("events_device_activity", "events")
    op.drop_index("events_by_day", "events")


def _indexes(device_active: str, by_day: list[str]) -> None:
    """The device activity's partial index, on the type as ``device_active`` (a code or a
    name) writes it, and the subject index by day on ``by_day``."""
    where = sa.text(f"type = {device_active}")
    op.create_index("events_device_activity", "events", ["org_id", "time", "device_type", "subject"],
                    sqlite_where=where, postgresql_where=where)
    op.create_index("events_by_day", "events", by_day)
