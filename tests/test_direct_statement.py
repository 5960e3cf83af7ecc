"""Statements run on the driver's cursor refuse, when compiled, what they cannot run, and
convert what their columns' and parameters' types convert (an organization's id)."""

from __future__ import annotations

import datetime

import pytest
from conftest import INGESTED_AT
from sqlalchemy import Date, bindparam, select

from billable.service.organizations import create_organization
from billable.store.database import Database
from billable.store.direct import DirectStatement
from billable.store.tables import organizations


def test_runs_statements_converting_what_their_types_convert(database: Database) -> None:
    plain = DirectStatement(select(organizations.c.id, organizations.c.last_seq)
                            .where(organizations.c.id == bindparam("org_id")))
    expanding = DirectStatement(select(organizations.c.id).where(organizations.c.id.in_(bindparam("ids", expanding=True))))
    converted_result = DirectStatement(select(organizations.c.id.is_(None).label("missing"))
                                       .where(organizations.c.id == bindparam("org_id")))
    converted_parameter = DirectStatement(select(bindparam("day", type_=Date).label("day")))
    with database.write() as conn:
        org = create_organization(conn, "direct", "named", INGESTED_AT).id
    with database.read() as conn:
        assert plain.rows(conn, {"org_id": org}) == [(org, 0)]
        assert plain.rows(conn, {"org_id": "no such organization"}) == []
        with pytest.raises(ValueError, match="ids: a list parameter"):
            expanding.rows(conn, {"ids": ["a"]})
        assert converted_result.rows(conn, {"org_id": org}) == [(False,)]
        assert converted_parameter.rows(conn, {"day": datetime.date(2026, 10, 1)}) == [(datetime.date(2026, 10, 1),)]


def test_a_driver_error_is_wrapped_as_sqlalchemy_wraps_it(database: Database) -> None:
    """So that the store tells a transient fault (a Citus worker down: SQLSTATE 08006) from
    a real one the same way for these statements as for the others."""
    from sqlalchemy import column, table
    from sqlalchemy.exc import DBAPIError

    missing = DirectStatement(select(column("x")).select_from(table("no_such_table")))
    with database.read() as conn:
        with pytest.raises(DBAPIError) as raised:
            missing.rows(conn, {})
    assert type(raised.value.orig).__module__.split(".")[0] in ("sqlite3", "psycopg")
    assert "no_such_table" in str(raised.value)


def test_planner_settings_hold_for_the_rest_of_the_transaction_only(postgresql_url: str) -> None:
    """PostgreSQL's planner settings, set in one statement, last until the transaction ends."""
    from sqlalchemy import Connection

    from billable.store.sql import planned_for_their_parameters, prefer_index_loops

    shown = ("enable_hashjoin", "enable_mergejoin", "enable_hashagg", "jit", "plan_cache_mode")

    def settings(conn: Connection) -> list[str]:
        return [conn.exec_driver_sql(f"SHOW {name}").scalar_one() for name in shown]

    database = Database(postgresql_url)
    try:
        with database.write() as conn:
            before = settings(conn)
            prefer_index_loops(conn)
            planned_for_their_parameters(conn)
            assert settings(conn) == ["off", "off", "off", "off", "force_custom_plan"]
        with database.write() as conn:
            assert settings(conn) == before
    finally:
        database.dispose()
    assert before[:3] == ["on", "on", "on"] and before[4] != "force_custom_plan"
