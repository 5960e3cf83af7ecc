"""Migrations: from empty to head and back, on both databases, matching the tables module."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from billable.store import migrate
from billable.store.database import Database
from billable.store.tables import metadata


def test_upgrade_from_empty_matches_the_tables(empty_url: str) -> None:
    database = Database(empty_url)
    assert not migrate.is_current(database)
    migrate.upgrade(database)
    assert migrate.is_current(database)
    with database.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
        assert set(inspect(conn).get_table_names()) >= set(metadata.tables)
    migrate.upgrade(database)  # again: nothing to do
    migrate.downgrade(database)
    with database.engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) & set(metadata.tables) == set()
    migrate.upgrade(database)
    assert migrate.is_current(database)
    database.dispose()
