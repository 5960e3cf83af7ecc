"""Applying the Alembic migrations shipped in the package."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from billable.store.database import Database
from billable.store.tables import metadata


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


def differences(database: Database) -> list[Any]:
    """What the schema lacks, or holds beyond, the tables module (nothing: they match); an
    index made on one kind of database only is compared there only (``tables._only_on``)."""
    with database.engine.connect() as conn:
        here = conn.dialect.name

        def made_here(item: Any, name: str | None, kind: str, reflected: bool, compare_to: Any) -> bool:
            return kind != "index" or item.info.get("only_on", here) == here

        return list(compare_metadata(MigrationContext.configure(conn, opts={"include_object": made_here}), metadata))
