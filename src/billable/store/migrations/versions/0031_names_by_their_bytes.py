"""Names compared by their bytes, on PostgreSQL: the text columns of the tables that grow with
the events (an event's id and subject, users, products, devices, sources and emails, in the log,
the derived state and its history) take the collation ``"C"``, where they had the database's.
A database made with a libc collation (``C.UTF-8``, ``en_US.UTF-8``) compared them through
``strcoll``, in every index of them, at every insertion (docs/performance.md). Equal texts stay
equal; what changes is the order of unequal ones, which is now the order SQLite gives them.

The rows are not rewritten; the indexes of those columns are built again (on data set L,
13.4 million events: see docs/operating.md).

SQLite compares every text by its bytes already, and is not changed.

Revision ID: 0031
Revises: 0030
"""

from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None

# Each table's text columns that name something, with their length.
NAMES = {
    "events": {"event_id": 256, "subject": 256, "product": 64, "device_type": 64},
    "event_sources": {"source": 256},
    "event_emails": {"email": 320},
    "users": {"user_id": 256, "email": 320},
    "sessions": {"user_id": 256},
    "session_weeks": {"user_id": 256},
    "holdings": {"user_id": 256, "product": 64},
    "device_days": {"device_type": 64, "device_id": 256},
    **{f"{live}_retired": columns for live, columns in {
        "users": {"user_id": 256, "email": 320},
        "sessions": {"user_id": 256},
        "holdings": {"user_id": 256, "product": 64},
        "device_days": {"device_type": 64, "device_id": 256},
    }.items()},
}


def _collate(collation: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in NAMES.items():
        changes = ", ".join(f'ALTER COLUMN {name} TYPE VARCHAR({length}) COLLATE "{collation}"'
                            for name, length in columns.items())
        op.execute(f"ALTER TABLE {table} {changes}")


def upgrade() -> None:
    _collate("C")


def downgrade() -> None:
    _collate("default")
