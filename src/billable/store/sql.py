"""Small SQL pieces that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import chain
from typing import Any, Unpack, cast

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    Executable,
    FromClause,
    Join,
    Select,
    String,
    Table,
    any_,
    bindparam,
    column,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateTable
from sqlalchemy.sql.functions import GenericFunction

from billable.rules.instants import WEEK_MS
from billable.store.direct import driver_cursor, driver_rows, streamed_driver_rows, wrapped_driver_errors
from billable.store.tables import OrgId, OrgKey, organizations


class greatest(GenericFunction[int]):
    """The larger of its arguments: ``greatest`` on PostgreSQL, scalar ``max`` on SQLite."""

    type = BigInteger()
    inherit_cache = True


class least(GenericFunction[int]):
    """The smaller of its arguments: ``least`` on PostgreSQL, scalar ``min`` on SQLite."""

    type = BigInteger()
    inherit_cache = True


@compiles(greatest, "sqlite")
def _greatest_sqlite(element: greatest, compiler: Any, **kw: Any) -> str:
    return f"max({compiler.process(element.clauses, **kw)})"


@compiles(least, "sqlite")
def _least_sqlite(element: least, compiler: Any, **kw: Any) -> str:
    return f"min({compiler.process(element.clauses, **kw)})"


def insert_for(conn: Connection | str, table: Table) -> Any:
    """The INSERT of the connection's dialect (or of the dialect named), which knows ``ON CONFLICT``."""
    name = conn if isinstance(conn, str) else conn.dialect.name
    return (postgresql if name == "postgresql" else sqlite).insert(table)


_CREATED: dict[tuple[str, str], str] = {}  # (table, dialect) -> its DDL


def create_if_missing(conn: Connection, table: Table, *, unlogged: bool = False) -> None:
    """Create ``table`` unless it exists, with the DDL SQLAlchemy makes from the ``Table``
    (once per dialect); ``unlogged``: on PostgreSQL an UNLOGGED table (no WAL, emptied after
    a crash), for throwaway state."""
    dialect = conn.dialect
    ddl = _CREATED.get((table.name, dialect.name))
    if ddl is None:
        ddl = str(CreateTable(table, if_not_exists=True).compile(dialect=dialect))
        if unlogged and dialect.name == "postgresql":
            ddl = ddl.replace("CREATE TABLE", "CREATE UNLOGGED TABLE", 1)
        _CREATED[(table.name, dialect.name)] = ddl
    conn.exec_driver_sql(ddl)


def rows_of(conn: Connection, table: Table, rows: list[tuple[Any, ...]]) -> FromClause:
    """``rows`` of plain values, in the columns of ``table`` (a TEMPORARY table's definition),
    as something one statement can select from, named like ``table``.

    On PostgreSQL they travel inside the statement, one array per column under ``unnest``:
    there is no temporary table, which Citus cannot join to a distributed one, so the
    statement stays one query for one organization's worker. On SQLite they fill
    ``table``, a temporary table this connection reuses, and its count goes to the planner
    (``ANALYZE`` of a table without indexes counts its rows, 0.2 ms for 7,000): without it,
    SQLite takes a temporary table for a million rows and, joining one to a log it knows
    smaller, first builds a Bloom filter of the whole log (a walk of 1,000 users over a week
    of M took 222 ms instead of 112).
    """
    if conn.dialect.name == "postgresql":
        arrays = [bindparam(None, [row[i] for row in rows], type_=postgresql.ARRAY(c.type))
                  for i, c in enumerate(table.columns)]
        unnested = func.unnest(*arrays).table_valued(*(column(c.name, c.type) for c in table.columns))
        return unnested.render_derived(name=table.name)
    create_if_missing(conn, table)
    conn.exec_driver_sql(f"DELETE FROM {table.name}")  # what the connection's last statement left
    bulk_insert(conn, table, tuple(c.name for c in table.columns), rows)
    conn.exec_driver_sql(f"ANALYZE temp.{table.name}")
    return table


def among(conn: Connection, key: Table, values: list[Any]) -> Callable[[ColumnElement[Any]], ColumnElement[bool]]:
    """A condition that a column holds one of ``values`` (``key``: a TEMPORARY table's
    definition of one column, of their type, as for ``rows_of``).

    SQLite: an ``IN`` over the temporary table, which it walks in key order, 7 times faster
    than a join over the same values (which also builds a Bloom filter). PostgreSQL: the
    values as an array, ``= ANY``, which an index scan sorts and seeks one by one whatever
    the statistics say. As a join (an ``IN`` over ``unnest``) the plan hung on them: once
    the rows sought lay past what the last ANALYZE saw (the running month's, while events
    come; a dictionary's new emails) or the estimates of the unnested keys were off, it
    looped over the table's rows against every key: the running month of 200,000 events
    took 4 s instead of 0.15, and a batch's 10,000 emails 4 s instead of 14 ms. (``= ANY``
    needs the table's statistics still: on a never analyzed ``event_emails`` it filtered
    every email by the array, 0.9 s; docs/performance.md.)
    """
    if conn.dialect.name == "postgresql":
        listed = bindparam(None, values, type_=postgresql.ARRAY(key.columns[0].type))
        return lambda column: column == any_(listed)
    rows = rows_of(conn, key, [(value,) for value in values])
    return lambda column: column.in_(select(rows.c[key.columns[0].name]))


def bulk_insert(conn: Connection, table: Table, columns: tuple[str, ...], rows: list[tuple[Any, ...]],
                meanwhile: Callable[[], object] = lambda: None) -> None:
    """Insert many rows of plain values: ``COPY`` on PostgreSQL, one prepared statement run
    for every row on SQLite; neither builds a statement or a dictionary per row.

    ``meanwhile`` is called once the rows are sent: on PostgreSQL before the server's
    answer, while it stores them (with rows, if the statement raises, it may not be called)."""
    if not rows:
        meanwhile()
        return
    rows = _as_stored(conn, table, columns, rows)
    names = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        statement = f"COPY {table.name} ({names}) FROM STDIN"
        cursor = driver_cursor(conn)
        try:
            with wrapped_driver_errors(conn, statement, {}), cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
                meanwhile()
        finally:
            cursor.close()
    else:
        conn.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({', '.join('?' * len(columns))})", rows)
        meanwhile()


def bulk_delete(conn: Connection, table: Table, org_id: str, key: tuple[str, ...], rows: list[tuple[Any, ...]],
                weekly: str | None = None) -> None:
    """Delete the organization's rows of ``table`` whose ``key`` columns hold each of ``rows``,
    with no statement or dictionary built per row. PostgreSQL: one statement, the keys sent
    as one array per column; a statement per row (pipelined) took 14% of a batch's time over
    HTTP (docs/performance.md). ``weekly``: the column of ``key`` whose UTC week files the rows
    in PostgreSQL's index of them (``tables.SESSIONS_BY_WEEK``), which each key then names too.
    SQLite: one prepared statement run for every row."""
    if not rows:
        return
    stored_org = _stored_org(conn, table.c.org_id)(org_id)
    if conn.dialect.name == "postgresql":
        arrays = ", ".join(f"%s::{_element_type(table.c[name], conn)}[]" for name in key)
        week = [] if weekly is None else [f"({weekly} / {WEEK_MS})"]
        conn.exec_driver_sql(
            f"DELETE FROM {table.name} WHERE org_id = %s AND ({', '.join((*key, *week))}) IN "
            f"(SELECT *{''.join(f', {column}' for column in week)} FROM unnest({arrays}) AS k({', '.join(key)}))",
            (stored_org, *(list(values) for values in zip(*rows, strict=True))))
        return
    where = " AND ".join(f"{name} = ?" for name in ("org_id", *key))
    conn.exec_driver_sql(f"DELETE FROM {table.name} WHERE {where}", [(stored_org, *row) for row in rows])


def _element_type(column: Column[Any], conn: Connection) -> str:
    """The SQL type of an array of ``column``'s values: its own, but for a collation, which an
    array's type does not name (the column's own decides the comparison)."""
    kind = column.type
    return (String(kind.length) if isinstance(kind, String) else kind).compile(conn.dialect)


class _Stored(dict[Any, Any]):
    """Each value's stored form, converted once: a batch's rows name one organization or few."""

    def __init__(self, convert: Callable[[Any], Any]):
        super().__init__()
        self.convert = convert

    def __missing__(self, value: Any) -> Any:
        stored = self[value] = self.convert(value)
        return stored


def _stored_org(conn: Connection, column: Column[Any]) -> Callable[[Any], Any]:
    """What makes an organization's id the form ``column`` (an ``OrgId`` or an ``OrgKey``)
    stores: on SQLite an ``OrgKey`` keeps the organization's number, looked up; a number
    already (a row read past SQLAlchemy and written again) stays as it is."""
    convert = column.type._cached_bind_processor(conn.dialect)
    assert convert is not None, "an organization's id is always converted"
    if not isinstance(column.type, OrgKey) or conn.dialect.name == "postgresql":
        return convert
    number = select(organizations.c.number)
    return lambda value: value if isinstance(value, int) else conn.execute(
        number.where(organizations.c.id == value)).scalar_one()


def _stored_form(conn: Connection, column: Column[Any]) -> _Stored | None:
    return _Stored(_stored_org(conn, column)) if isinstance(column.type, OrgId) else None


def _as_stored(conn: Connection, table: Table, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
               ) -> list[tuple[Any, ...]]:
    """``rows`` with each organization's id in the form the table stores (``OrgId``, ``OrgKey``)."""
    stored = [_stored_form(conn, table.c[name]) for name in columns]
    first, *rest = stored
    if all(of is None for of in rest):  # (``is None``: an empty ``_Stored`` is false)
        if first is None or _stored_as_given(first, rows):
            return rows
        return [(first[row[0]], *row[1:]) for row in rows]  # the organization first, as in every table
    return [tuple(value if of is None else of[value] for of, value in zip(stored, row)) for row in rows]


def _stored_as_given(stored: _Stored, rows: list[tuple[Any, ...]]) -> bool:
    """Whether ``rows`` name one organization (as a batch's do), in the form it is stored in:
    PostgreSQL keeps an id as its text. Then the rows need no copy (3-4 ms for a batch's
    10,000 rows of the log; the check takes 0.3)."""
    org = rows[0][0]
    return stored[org] == org and all(row[0] is org for row in rows)


def plain_rows(conn: Connection, query: Executable) -> list[tuple[Any, ...]]:
    """Every row of ``query`` as the driver's own tuples: for large results of plain numbers
    and text, which need no conversion (about 10 times faster than SQLAlchemy's rows)."""
    return list(chain.from_iterable(plain_row_chunks(conn, query)))


def binary_rows(conn: Connection, query: Select[Unpack[tuple[Any, ...]]]) -> list[tuple[Any, ...]]:
    """The rows of ``query`` like ``plain_rows``; from PostgreSQL in its binary format, in
    which a ``bytea`` travels as its bytes rather than as hexadecimal text (a third less
    time for a month's packed sessions: docs/performance.md)."""
    if conn.dialect.name != "postgresql":
        return plain_rows(conn, query)
    compiled = query.compile(conn)
    return driver_rows(conn, str(compiled), compiled.construct_params(), binary=True)


def plain_row_chunks(conn: Connection, query: Executable, size: int = 100_000, *,
                     streamed: bool = False) -> Iterator[list[tuple[Any, ...]]]:
    """The rows of ``query`` like ``plain_rows``, ``size`` at a time: for results too large
    to hold as Python tuples all at once. PostgreSQL's driver receives a whole result
    before the first row is read, unless it is ``streamed``: then the result is read
    through a server-side cursor, ``size`` rows a round trip (SQLite's results are
    read a row at a time anyway). Not SQLAlchemy's ``stream_results``: its result holds
    a first row back, which the driver's cursor read here would skip."""
    if streamed and conn.dialect.name == "postgresql":
        compiled = cast(Select[Any], query).compile(conn)
        yield from streamed_driver_rows(conn, str(compiled), compiled.construct_params(), size)
        return
    result = conn.execute(query)
    try:
        while rows := result.cursor.fetchmany(size):
            yield cast(list[tuple[Any, ...]], rows)  # the drivers' fetchmany gives a list of tuples
    finally:
        result.close()


def chunks(rows: list[Any], size: int) -> list[list[Any]]:
    """``rows`` cut into lists of at most ``size``: SQLite limits bound parameters."""
    return [rows[i : i + size] for i in range(0, len(rows), size)]


class LoopJoin(Join):
    """An inner join whose left side must be the outer loop.

    SQLite plans a small temporary table as if it were large and may loop over the big
    table instead; ``CROSS JOIN`` is SQLite's documented way to fix the order.
    PostgreSQL gets a plain join: its planner has the statistics to choose.
    """

    inherit_cache = True

    def __init__(self, left: Any, right: Any, onclause: Any):
        super().__init__(left, right, onclause)


@compiles(LoopJoin, "sqlite")
def _loop_join_sqlite(join: LoopJoin, compiler: Any, asfrom: bool = False, **kw: Any) -> str:
    kw["asfrom"] = True
    left = join.left._compiler_dispatch(compiler, **kw)
    right = join.right._compiler_dispatch(compiler, **kw)
    kw.pop("asfrom")
    assert join.onclause is not None  # built with one: a loop join is an inner join
    return f"{left} CROSS JOIN {right} ON {join.onclause._compiler_dispatch(compiler, **kw)}"


def prefer_index_loops(conn: Connection) -> None:
    """For the rest of the transaction on PostgreSQL, join by index loops only.

    For statements that look up the keys held in a fresh temporary table (which has no
    statistics) in a large table: the planner would otherwise guess, and a wrong guess
    scans the large table. SQLite gets the same order from ``LoopJoin``.
    """
    # An IN list of keys is made unique by sorting, not hashing: seeks in key order read each
    # index page once (L's concurrent month took half the time: docs/performance.md).
    _set_locally(conn, enable_hashjoin="off", enable_mergejoin="off", enable_hashagg="off", jit="off")


def planned_for_their_parameters(conn: Connection) -> None:
    """For the rest of the transaction on PostgreSQL, every statement planned for its
    parameters, and none compiled (JIT): for a report's statements, which name arrays of
    users and spans of days whose sizes decide the plan. psycopg prepares a statement run
    five times on a connection, and PostgreSQL's generic plan for it knows neither: a report
    read twice in one transaction took 2.1 s instead of 0.19 (docs/performance.md). The
    small statements of other requests keep their prepared plans: forced on every
    connection, custom plans cost the cached report a quarter of its requests a second."""
    _set_locally(conn, plan_cache_mode="force_custom_plan", jit="off")


def _set_locally(conn: Connection, **settings: str) -> None:
    """On PostgreSQL, ``SET LOCAL`` each of ``settings`` in one statement (``set_config``): a
    round trip where a ``SET`` each took four, several times in each batch of ingestion."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT " + ", ".join("set_config(%s, %s, true)" for _ in settings),
                             tuple(chain.from_iterable(settings.items())))
