"""Applying the Alembic migrations shipped in the package."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from billable.store.database import Database


def _config(conn: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", "billable.store:migrations")
    config.attributes["connection"] = conn
    return config


def upgrade(database: Database, revision: str = "head") -> None:
    """Bring the schema to ``revision``; running it again changes nothing."""
    with database.engine.begin() as conn:
        command.upgrade(_config(conn), revision)


def downgrade(database: Database, revision: str = "base") -> None:
    with database.engine.begin() as conn:
        command.downgrade(_config(conn), revision)


def is_current(database: Database) -> bool:
    """Whether the schema is at the newest revision."""
    with database.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_heads()
        heads = ScriptDirectory.from_config(_config(conn)).get_heads()
    return set(current) == set(heads)
