"""On SQLite, the tables that grow with an organization's events keep its number, not its id:
``organizations.number`` (1, 2, … in the order they were made) takes a byte where the id's 16
bytes were repeated in every row and every index entry of the log, its dictionaries, the
derived state and its history (``tables.OrgKey``); and the log is filed by its key
``(org_id, seq)`` (``WITHOUT ROWID``), which a table with rowids kept a second time in an
index of its own. An event of M went from 225 to 153 bytes (docs/performance.md).

PostgreSQL keeps the id in every table (Citus places each row by it, and routes a statement
to its worker only by a constant id): it gains the column, unused, and nothing else changes.

SQLite changes no column's type in place: each table is copied into its new layout, in its
key's order, and its indexes are made again as they were.

Revision ID: 0023
Revises: 0022
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

# Every table whose org_id becomes the number (tables.OrgKey), the log first.
_NUMBERED = ("events", "event_sources", "event_emails", "users", "sessions", "session_weeks", "holdings", "device_days",
             "users_retired", "sessions_retired", "holdings_retired", "device_days_retired")
_ID = "org_id VARCHAR(36)"  # as every migration before declared it on SQLite
_NUMBER = "org_id INTEGER"


def upgrade() -> None:
    op.add_column("organizations", sa.Column("number", sa.Integer, nullable=True))
    op.create_index("organizations_number", "organizations", ["number"])
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        return
    op.execute("UPDATE organizations SET number = ordered.number FROM "
               "(SELECT id, row_number() OVER (ORDER BY created_at, rowid) AS number FROM organizations) AS ordered "
               "WHERE ordered.id = organizations.id")
    for table in _NUMBERED:
        _copy(connection, table, _ID, _NUMBER, "(SELECT o.number FROM organizations o WHERE o.id = t.org_id)",
              True if table == "events" else None)


def downgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "postgresql":
        for table in _NUMBERED:
            _copy(connection, table, _NUMBER, _ID, "(SELECT o.id FROM organizations o WHERE o.number = t.org_id)",
                  False if table == "events" else None)
    op.drop_index("organizations_number", "organizations")
    op.drop_column("organizations", "number")


def _copy(connection: sa.Connection, table: str, declared: str, declaring: str, org_id: str, by_key: bool | None
          ) -> None:
    """SQLite: ``table`` copied into a table declared as it is, ``declared`` replaced by
    ``declaring`` and each row's organization by ``org_id`` (SQL over the row ``t``), filed by
    its key (``WITHOUT ROWID``) if ``by_key``, with rowids if not, as it was if None; in its
    key's order; its indexes made again."""
    ddl = connection.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
                                     (table,)).scalar_one()
    indexes = connection.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                                         "AND sql IS NOT NULL", (table,)).scalars().all()
    columns = connection.exec_driver_sql(f"PRAGMA table_info({table})").all()  # cid, name, type, notnull, default, pk
    names = [column[1] for column in columns]
    key = [column[1] for column in sorted(columns, key=lambda column: column[5]) if column[5]]
    assert declared in ddl, f"{table}: {declared} expected in {ddl}"
    created = re.sub(r'^CREATE TABLE\s+"?\w+"?', f"CREATE TABLE {table}_0023", ddl.replace(declared, declaring, 1))
    by_rowid = re.compile(r"\s*WITHOUT ROWID\s*$")
    filed = bool(by_rowid.search(ddl)) if by_key is None else by_key
    created = by_rowid.sub("", created) + (" WITHOUT ROWID" if filed else "")
    op.execute(created)
    selected = ", ".join(org_id if name == "org_id" else f"t.{name}" for name in names)
    op.execute(f"INSERT INTO {table}_0023 ({', '.join(names)}) SELECT {selected} FROM {table} t "
               f"ORDER BY {', '.join(f't.{name}' for name in key)}")
    op.execute(f"DROP TABLE {table}")
    op.execute(f"ALTER TABLE {table}_0023 RENAME TO {table}")
    for index in indexes:
        op.execute(index)
