"""An organization's id is stored as its 16 bytes (``tables.OrgId``), not as 36 characters:
the id leads every row and index of the log and the derived state, where it was the largest
column (docs/performance.md).

On PostgreSQL every such column becomes ``uuid``. On SQLite the columns keep their declared
type and their values are rewritten in place: SQLite stores any value in any column, and
recreating every table and index would cost more for nothing. On a distributed (Citus)
database, the tables distributed by the organization are undistributed, changed and placed
again as ``distribution.PLAN`` says (Citus changes no distribution column's type); the rate
limit's counts, throwaway state, are dropped and made again (on SQLite they live in a file
of their own: the few rows of before count under the old form until their window passes).

Revision ID: 0017
Revises: 0016
"""

import uuid

import sqlalchemy as sa
from alembic import op

from billable.store import distribution, request_counts

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# Every table that holds an organization's id, in distribution.PLAN's order, and its column.
ORG_COLUMNS = {
    "organizations": "id",
    "events": "org_id",
    "event_sources": "org_id",
    "users": "org_id",
    "sessions": "org_id",
    "session_weeks": "org_id",
    "holdings": "org_id",
    "device_days": "org_id",
    "computed_reports": "org_id",
    "closed_periods": "org_id",
    "users_retired": "org_id",
    "sessions_retired": "org_id",
    "holdings_retired": "org_id",
    "device_days_retired": "org_id",
    "oauth_clients": "org_id",
    "access_tokens": "org_id",
}


def _as_bytes(org_id: str | bytes) -> bytes:
    return org_id if isinstance(org_id, bytes) else uuid.UUID(org_id).bytes


def _as_text(org_id: str | bytes) -> str:
    return org_id if isinstance(org_id, str) else str(uuid.UUID(bytes=org_id))


def upgrade() -> None:
    connection = op.get_bind()
    malformed = [org_id for (org_id,) in connection.execute(sa.text("SELECT id FROM organizations"))
                 if not _is_uuid(org_id)]
    if malformed:
        raise RuntimeError(f"organizations whose id is no UUID, which 0017 cannot store: {malformed[:10]}")
    if connection.dialect.name == "postgresql":
        placed = _change_type(connection, "uuid", "{column}::uuid")
        if placed:  # the counts, made again of the new type, placed with the organizations
            request_counts.create_counts(connection)
            distribution.place(connection, "request_counts")
    else:
        _rewrite(connection, "billable_org_bytes", _as_bytes)


def downgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        _change_type(connection, "varchar(36)", "{column}::text")
    else:
        _rewrite(connection, "billable_org_text", _as_text)


def _is_uuid(org_id: str | bytes) -> bool:
    try:
        _as_bytes(org_id)
    except ValueError:
        return False
    return True


def _rewrite(connection: sa.Connection, name: str, convert: object) -> None:
    """SQLite: every organization's id rewritten by ``convert``, a function of the
    connection's for as long as the migration runs."""
    connection.connection.driver_connection.create_function(name, 1, convert, deterministic=True)  # type: ignore[union-attr]
    for table, column in ORG_COLUMNS.items():
        connection.execute(sa.text(f"UPDATE {table} SET {column} = {name}({column})"))


def _change_type(connection: sa.Connection, type_: str, using: str) -> set[str]:
    """PostgreSQL: every organization's id column changed to ``type_``; on Citus the tables
    distributed by it are undistributed first and placed again after. The tables Citus had
    placed (none off Citus); the counts of the rate limit are dropped, whose type the code
    that runs next makes."""
    placed = distribution.placed(connection) if distribution.has_citus(connection) else set()
    by_organization = [table for table in ORG_COLUMNS
                       if table in placed and distribution.PLAN[table].column == ORG_COLUMNS[table]]
    connection.execute(sa.text("DROP TABLE IF EXISTS request_counts"))
    for table in reversed(by_organization):  # organizations last: the others are colocated with it
        connection.execute(sa.text("SELECT undistribute_table(:table)"), {"table": table})
    for table, column in ORG_COLUMNS.items():
        connection.execute(sa.text(
            f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {type_} USING {using.format(column=column)}"))
    for table in by_organization:
        distribution.place(connection, table)
    return placed
