"""Statements run directly on the driver's cursor, for the few that every request runs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import count
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler


@dataclass(frozen=True)
class _Compiled:
    text: str
    order: tuple[str, ...] | None  # the parameters' names in order, for a positional driver
    constants: dict[str, Any]
    converts: dict[str, Callable[[Any], Any]]  # by parameter name
    results: list[Callable[[Any], Any] | None] | None  # per result column; None: none converts


class DirectStatement:
    """A statement compiled once per dialect and run on the driver's own cursor, past
    SQLAlchemy's execution machinery, which costs several times what a look-up by key
    does. Rows come back as the driver's plain tuples.

    A list parameter (an expanding ``IN``) is refused when it is compiled. A parameter or
    result column whose type converts values for this dialect (an organization's id on
    SQLite) is converted by its type's own processor, and nothing else is.
    """

    def __init__(self, statement: ClauseElement):
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def _compile(self, dialect: Dialect) -> _Compiled:
        done = self.statement.compile(dialect=dialect)
        assert isinstance(done, SQLCompiler)
        converts: dict[str, Callable[[Any], Any]] = {}
        for bind in done.binds.values():
            if bind.expanding:
                raise ValueError(f"{bind.key}: a list parameter (IN) is expanded per call; run it through SQLAlchemy")
            if (convert := bind.type._cached_bind_processor(dialect)) is not None:
                converts[bind.key] = convert
        results: list[Callable[[Any], Any] | None] = [
            column.type._cached_result_processor(dialect, None) for column in done._result_columns]
        order = tuple(done.positiontup or ()) if dialect.positional else None
        return _Compiled(done.string, order, done.params, converts, results if any(results) else None)

    def rows(self, conn: Connection, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        compiled = self._compiled.get(conn.dialect.name)
        if compiled is None:
            compiled = self._compiled[conn.dialect.name] = self._compile(conn.dialect)
        values = {**compiled.constants, **params}
        for name, convert in compiled.converts.items():
            values[name] = convert(values[name])
        found = driver_rows(conn, compiled.text, values if compiled.order is None
                            else [values[name] for name in compiled.order])
        if compiled.results is None:
            return found
        return [tuple(value if convert is None else convert(value) for convert, value in zip(compiled.results, row))
                for row in found]

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


def streamed_driver_rows(conn: Connection, statement: str, params: Any, size: int) -> Iterator[list[tuple[Any, ...]]]:
    """The rows of ``statement`` through a server-side cursor of psycopg's, ``size`` a round
    trip: psycopg's ordinary cursor receives a whole result before its first row is read."""
    driver = conn.connection.driver_connection
    assert driver is not None
    cursor = driver.cursor(name=f"billable_rows_{next(_cursor_names)}")
    try:
        with wrapped_driver_errors(conn, statement, params):
            # Every row is read: planned for all of them, as an ordinary statement is, not
            # for a first tenth (a cursor's default, which chose an ordered index scan).
            driver.execute("SET LOCAL cursor_tuple_fraction = 1.0")
            cursor.execute(statement, params)
            while rows := cursor.fetchmany(size):
                yield rows
    finally:
        cursor.close()


_cursor_names = count()


def driver_cursor(conn: Connection) -> Any:
    """A cursor of the driver's own connection (sqlite3's or psycopg's) under ``conn``."""
    driver = conn.connection.driver_connection
    assert driver is not None  # a connection in use always has its driver's
    return driver.cursor()
