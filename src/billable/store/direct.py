"""Statements run directly on the driver's cursor, for the few that every request runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler


class DirectStatement:
    """A statement compiled once per dialect and run on the driver's own cursor, past
    SQLAlchemy's execution machinery, which costs several times what a look-up by key
    does. Rows come back as the driver's plain tuples.

    Nothing converts values on the way, so a statement that needs it is refused when it
    is compiled: a list parameter (an expanding ``IN``), or a parameter or result column
    whose type converts values for this dialect.
    """

    def __init__(self, statement: ClauseElement):
        self.statement = statement
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None, dict[str, Any]]] = {}

    def _compile(self, dialect: Dialect) -> tuple[str, tuple[str, ...] | None, dict[str, Any]]:
        done = self.statement.compile(dialect=dialect)
        assert isinstance(done, SQLCompiler)
        for bind in done.binds.values():
            if bind.expanding:
                raise ValueError(f"{bind.key}: a list parameter (IN) is expanded per call; run it through SQLAlchemy")
            if bind.type._cached_bind_processor(dialect) is not None:
                raise ValueError(f"{bind.key}: {bind.type} converts values on {dialect.name}; run it through SQLAlchemy")
        for column in done._result_columns:
            if column.type._cached_result_processor(dialect, None) is not None:
                raise ValueError(f"{column.keyname}: {column.type} converts values on {dialect.name}; "
                                 "run it through SQLAlchemy")
        order = tuple(done.positiontup or ()) if dialect.positional else None
        return done.string, order, done.params  # params: its constants

    def rows(self, conn: Connection, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        compiled = self._compiled.get(conn.dialect.name)
        if compiled is None:
            compiled = self._compiled[conn.dialect.name] = self._compile(conn.dialect)
        text, order, constants = compiled
        values = {**constants, **params}
        return driver_rows(conn, text, values if order is None else [values[name] for name in order])

    def first(self, conn: Connection, params: dict[str, Any]) -> tuple[Any, ...] | None:
        found = self.rows(conn, params)
        return found[0] if found else None


@contextmanager
def wrapped_driver_errors(conn: Connection, statement: str, params: Any) -> Iterator[None]:
    """The driver's errors raised as SQLAlchemy raises them from what it runs itself, so
    that callers catch one kind and the store's faults are told apart alike."""
    driver_error = conn.dialect.loaded_dbapi.Error
    try:
        yield
    except driver_error as error:
        raise DBAPIError.instance(statement, params, error, driver_error) from error


def driver_rows(conn: Connection, statement: str, params: Any, *, binary: bool = False) -> list[tuple[Any, ...]]:
    """Run ``statement`` on the driver's own cursor: its rows as the driver's tuples (none for
    a statement that returns no rows). ``binary``: psycopg's binary results (PostgreSQL only)."""
    cursor = driver_cursor(conn)
    try:
        with wrapped_driver_errors(conn, statement, params):
            if binary:
                cursor.execute(statement, params, binary=True)
            else:
                cursor.execute(statement, params)
            return cursor.fetchall() if cursor.description else []
    finally:
        cursor.close()


def driver_cursor(conn: Connection) -> Any:
    """A cursor of the driver's own connection (sqlite3's or psycopg's) under ``conn``."""
    driver = conn.connection.driver_connection
    assert driver is not None  # a connection in use always has its driver's
    return driver.cursor()
