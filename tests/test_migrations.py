"""Migrations: from empty to head and back, on both databases, matching the tables module."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select

from billable.store import migrate
from billable.store.database import Database
from billable.store.tables import TYPE_CODES, event_emails, event_sources, metadata, session_weeks


def test_upgrade_from_empty_matches_the_tables(empty_url: str) -> None:
    database = Database(empty_url)
    assert not migrate.is_current(database)
    migrate.upgrade(database)
    assert migrate.is_current(database)
    with database.engine.connect() as conn:
        with warnings.catch_warnings():  # SQLite reflects no index on an expression, and has none
            warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression-based index")
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
        assert set(inspect(conn).get_table_names()) >= set(metadata.tables)
        assert _collated(conn) == _declared_collated(conn.dialect)  # which alembic does not compare
    migrate.upgrade(database)  # again: nothing to do
    migrate.downgrade(database)
    with database.engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) & set(metadata.tables) == set()
    migrate.upgrade(database)
    assert migrate.is_current(database)
    database.dispose()


def _collated(conn: Any) -> set[tuple[str, str]]:
    """The text columns that compare under a collation of their own (PostgreSQL's ``"C"``)."""
    if conn.dialect.name != "postgresql":
        return set()
    return set(conn.exec_driver_sql(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND collation_name = 'C'").all())


def _declared_collated(dialect: Any) -> set[tuple[str, str]]:
    return {(table.name, c.name) for table in metadata.tables.values() for c in table.columns
            if getattr(c.type.dialect_impl(dialect), "collation", None) == "C"}


def test_stored_reports_of_0005_are_kept_and_computed_again(empty_url: str) -> None:
    """A database of the release before 0006 keeps its stored reports; none of them is
    served again, since none names what it was computed under."""
    from conftest import CATALOG, INGESTED_AT, event
    from sqlalchemy import text

    from billable.rules.instants import Period
    from billable.service.ingestion import ingest
    from billable.service.organizations import create_organization
    from billable.service.report_desk import DeskSettings, ReportDesk
    from billable.wire.writers import REPORT_WRITERS

    database = Database(empty_url)
    migrate.upgrade(database)  # filled by today's code, then taken back to 0005 with its data
    with database.write() as conn:
        org = create_organization(conn, "old", "named", INGESTED_AT)
        ingest(conn, org.id, [event("license.assigned", "ann", "2026-09-01T00:00:00Z", product="cx1"),
                              event("user.login", "ann", "2026-10-02T08:00:00Z")], CATALOG, INGESTED_AT)
    migrate.downgrade(database, "0005")
    october = Period.parse("2026-10-01", "2026-11-01")
    forged = '{"status":"Complete","usages":[]}'
    with database.write() as conn:
        conn.execute(text("INSERT INTO computed_reports (org_id, kind, period_start, period_end, subject, version, body) "
                          "VALUES (:org, 'billableusage', :start, :end, '', 2, :body)"),
                     {"org": org.id, "start": october.start, "end": october.end, "body": forged})
    migrate.upgrade(database)
    with database.read() as conn:
        kept = conn.execute(text("SELECT version, body, computed_under FROM computed_reports")).all()
    assert [tuple(row) for row in kept] == [(2, forged, None)]
    desk = ReportDesk(database, CATALOG, lambda: INGESTED_AT, DeskSettings(budget_seconds=30), REPORT_WRITERS)
    body = desk.billable_usage(org.id, october).body.text
    assert '"name":"cx1","totalUsage":"1"' in body
    assert desk.computations == 1
    desk.close()
    database.dispose()


def test_events_of_0006_are_kept_unvoided_and_can_be_voided(empty_url: str) -> None:
    """A database of the release before 0007 keeps every event, none voided, and bills the
    same; its events can be voided once upgraded."""
    from conftest import CATALOG, INGESTED_AT, event
    from sqlalchemy import inspect

    from billable.rules.instants import Period
    from billable.rules.voids import VoidRequest
    from billable.service.event_log import events_page
    from billable.service.ingestion import ingest
    from billable.service.organizations import create_organization
    from billable.service.reports import billable_usage_report
    from billable.service.voids import void_events
    from billable.store.events import EventFilter
    from billable.store.organizations import get_organization

    database = Database(empty_url)
    migrate.upgrade(database)  # filled by today's code, then taken back to 0006 with its data
    with database.write() as conn:
        org = create_organization(conn, "old", "named", INGESTED_AT)
        ingest(conn, org.id, [event("license.assigned", "ann", "2026-09-01T00:00:00Z", id="e1", product="cx1"),
                              event("user.login", "ann", "2026-10-02T08:00:00Z", id="e2"),
                              event("license.assigned", "bob", "2026-09-01T00:00:00Z", id="e3", product="cx1"),
                              event("user.login", "bob", "2026-10-03T08:00:00Z", id="e4")], CATALOG, INGESTED_AT)
    migrate.downgrade(database, "0006")
    with database.engine.connect() as conn:
        assert "void_seq" not in {c["name"] for c in inspect(conn).get_columns("events")}
    october = Period.parse("2026-10-01", "2026-11-01")

    def report_and_listing() -> tuple[dict[str, str], list[tuple[str, bool]]]:
        with database.read() as conn:
            found = billable_usage_report(conn, get_organization(conn, org.id), october, CATALOG, INGESTED_AT)
            page = events_page(conn, org.id, EventFilter(), None, 10)
        return ({u.name: u.total_usage for u in found.usages}, [(e.event_id, e.void is not None) for e in page.events])

    migrate.upgrade(database)
    assert report_and_listing() == ({"cx1": "2"}, [("e4", False), ("e3", False), ("e2", False), ("e1", False)])
    with database.write() as conn:
        void_events(conn, org.id, [VoidRequest("urn:test", "e4", "test")], "tester", INGESTED_AT)
    assert report_and_listing() == ({"cx1": "1"}, [("e4", True), ("e3", False), ("e2", False), ("e1", False)])
    database.dispose()


def test_derived_state_of_0008_gains_a_history_from_the_upgrade_on(empty_url: str) -> None:
    """A database of the release before 0009 keeps its derived state (written at sequence 0)
    and starts its history at each organization's sequence then: reports as of any instant,
    before the upgrade or after, are the reference's report of what had arrived."""
    from conftest import CATALOG, INGESTED_AT, event
    from reference import reference_report

    from billable.rules.catalog import LicensingModel
    from billable.rules.events import validate_events
    from billable.rules.instants import Period
    from billable.rules.voids import VoidRequest
    from billable.service.ingestion import ingest
    from billable.service.organizations import create_organization
    from billable.service.reports import billable_usage_report
    from billable.service.voids import void_events
    from billable.store.organizations import get_organization

    database = Database(empty_url)
    migrate.upgrade(database)
    october = Period.parse("2026-10-01", "2026-11-01")
    arrivals: list[tuple[int, list[dict]]] = [
        (INGESTED_AT, [event("license.assigned", "ann", "2026-09-01T00:00:00Z", id="a1", product="cx1", email="a@x"),
                       event("user.login", "ann", "2026-10-02T08:00:00Z", id="a2"),
                       event("license.assigned", "bob", "2026-09-01T00:00:00Z", id="b1", product="cx2"),
                       event("user.login", "bob", "2026-10-03T08:00:00Z", id="b2")]),
        (INGESTED_AT + 1_000, [event("user.logout", "ann", "2026-10-02T09:00:00Z", id="a3"),
                               event("license.unassigned", "bob", "2026-10-01T00:00:00Z", id="b3", product="cx2")]),
        # after the upgrade
        (INGESTED_AT + 3_000, [event("user.login", "cat", "2026-10-05T08:00:00Z", id="c1"),
                               event("license.assigned", "cat", "2026-09-01T00:00:00Z", id="c2", product="cx3"),
                               event("user.login", "ann", "2026-10-01T08:00:00Z", id="a4", email="ann@x")]),
    ]
    with database.write() as conn:
        org = create_organization(conn, "old", "concurrent", INGESTED_AT)
        for at, batch in arrivals[:2]:
            ingest(conn, org.id, batch, CATALOG, at)
    migrate.downgrade(database, "0008")
    migrate.upgrade(database)
    with database.write() as conn:
        assert get_organization(conn, org.id).history_since == 4 + 2
        ingest(conn, org.id, arrivals[2][1], CATALOG, arrivals[2][0])
        void_events(conn, org.id, [VoidRequest("urn:test", "b3", "sent in error")], "tester", INGESTED_AT + 4_000)
    voids = {INGESTED_AT + 4_000: ("urn:test", "b3")}
    for as_of in range(INGESTED_AT - 1_000, INGESTED_AT + 5_000, 500):
        prefix = [e for at, batch in arrivals if at <= as_of for e in batch]
        voided = frozenset(key for at, key in voids.items() if at <= as_of)
        expected = reference_report(validate_events(prefix, CATALOG, INGESTED_AT), CATALOG, LicensingModel.CONCURRENT,
                                    october, min(INGESTED_AT + 9_000, as_of), voided)
        with database.read() as conn:
            found = billable_usage_report(conn, get_organization(conn, org.id), october, CATALOG, INGESTED_AT + 9_000,
                                          as_of=as_of)
        assert found == expected, as_of
    database.dispose()


def test_organizations_of_0009_learn_their_latest_event_time(empty_url: str) -> None:
    """An organization upgraded from 0009 knows the latest event of its log, a logout that
    changed nothing included, so a late login before it is closed by it as the reference
    closes it; an organization without events knows none."""
    from conftest import CATALOG, INGESTED_AT, event
    from reference import reference_report

    from billable.rules.catalog import LicensingModel
    from billable.rules.events import validate_events
    from billable.rules.instants import Period, parse_instant
    from billable.service.ingestion import ingest
    from billable.service.organizations import create_organization
    from billable.service.reports import billable_usage_report
    from billable.store.organizations import get_organization

    database = Database(empty_url)
    migrate.upgrade(database)
    before = [event("license.assigned", "ann", "2026-09-01T00:00:00Z", id="a1", product="cx1"),
              event("user.logout", "ann", "2026-10-02T10:00:00Z", id="a2")]
    after = [event("user.login", "ann", "2026-10-02T09:00:00Z", id="a3")]
    with database.write() as conn:
        org = create_organization(conn, "old", "hourly", INGESTED_AT)
        empty = create_organization(conn, "empty", "named", INGESTED_AT)
        ingest(conn, org.id, before, CATALOG, INGESTED_AT)
    migrate.downgrade(database, "0009")
    migrate.upgrade(database)
    with database.write() as conn:
        assert get_organization(conn, org.id).latest_event_time == parse_instant("2026-10-02T10:00:00Z")
        assert get_organization(conn, empty.id).latest_event_time is None
        ingest(conn, org.id, after, CATALOG, INGESTED_AT + 1_000)
    october = Period.parse("2026-10-01", "2026-11-01")
    expected = reference_report(validate_events(before + after, CATALOG, INGESTED_AT), CATALOG,
                                LicensingModel.HOURLY, october, INGESTED_AT + 9_000)
    with database.read() as conn:
        found = billable_usage_report(conn, get_organization(conn, org.id), october, CATALOG, INGESTED_AT + 9_000)
    assert found == expected
    assert found.usages  # ann's hour is billed
    database.dispose()


def test_events_of_0010_are_found_by_subject_without_the_organization(empty_url: str) -> None:
    """After 0011 the log's subject index no longer leads with the organization: two
    organizations with the same user id upgraded from 0010 each bill, list and walk (a late
    logout) only their own events, as the reference bills them."""
    from conftest import CATALOG, INGESTED_AT, event
    from reference import reference_report

    from billable.rules.catalog import LicensingModel
    from billable.rules.events import validate_events
    from billable.rules.instants import Period
    from billable.service.event_log import events_page
    from billable.service.ingestion import ingest
    from billable.service.organizations import create_organization
    from billable.service.reports import billable_usage_report
    from billable.store.events import EventFilter
    from billable.store.organizations import get_organization

    database = Database(empty_url)
    migrate.upgrade(database)
    logs = {
        "one": [event("license.assigned", "ann", "2026-09-01T00:00:00Z", id="a1", product="cx1"),
                event("user.login", "ann", "2026-10-02T08:00:00Z", id="a2"),
                event("user.login", "ann", "2026-10-05T08:00:00Z", id="a3")],
        "two": [event("license.assigned", "ann", "2026-09-01T00:00:00Z", id="a1", product="cx2"),
                event("user.login", "ann", "2026-10-03T08:00:00Z", id="b2"),
                event("user.logout", "ann", "2026-10-03T09:30:00Z", id="b3")],
    }
    with database.write() as conn:
        orgs = {name: create_organization(conn, name, "hourly", INGESTED_AT).id for name in logs}
        for name, log in logs.items():
            ingest(conn, orgs[name], log, CATALOG, INGESTED_AT)
    migrate.downgrade(database, "0010")
    with database.engine.connect() as conn:
        assert "events_subject_time" in {i["name"] for i in inspect(conn).get_indexes("events")}
    migrate.upgrade(database, "0011")
    with database.engine.connect() as conn:
        indexes = {i["name"]: i["column_names"] for i in inspect(conn).get_indexes("events")}
    assert indexes["events_by_subject"] == ["subject", "time"] and "events_subject_time" not in indexes
    migrate.upgrade(database)
    late = event("user.logout", "ann", "2026-10-02T10:00:00Z", id="a4")  # before a3: walked from the log
    with database.write() as conn:
        ingest(conn, orgs["one"], [late], CATALOG, INGESTED_AT + 1_000)
    logs["one"].append(late)
    october = Period.parse("2026-10-01", "2026-11-01")
    for name, log in logs.items():
        expected = reference_report(validate_events(log, CATALOG, INGESTED_AT), CATALOG, LicensingModel.HOURLY,
                                    october, INGESTED_AT + 9_000)
        with database.read() as conn:
            org = get_organization(conn, orgs[name])
            assert billable_usage_report(conn, org, october, CATALOG, INGESTED_AT + 9_000) == expected
            listed = events_page(conn, org.id, EventFilter(subject="ann"), None, 10).events
        assert sorted(e.event_id for e in listed) == sorted(e["id"] for e in log)
    database.dispose()


def test_events_of_0011_keep_their_sources_by_number(empty_url: str) -> None:
    """0012 numbers each organization's sources by their first event and keys the log by the
    number: an upgraded log lists and voids its events by source as before, refuses them
    sent again as duplicates, takes a new source, and goes back to 0011 with its sources."""
    from conftest import CATALOG, INGESTED_AT, event
    from sqlalchemy import text

    from billable.rules.voids import VoidRequest
    from billable.service.event_log import events_page
    from billable.service.ingestion import ingest
    from billable.service.organizations import create_organization
    from billable.service.voids import void_events
    from billable.store.events import EventFilter

    database = Database(empty_url)
    migrate.upgrade(database)
    old = [event("user.login", "ann", "2026-10-02T08:00:00Z", id="e1", source="urn:b"),
           event("user.login", "bob", "2026-10-02T08:00:00Z", id="e1", source="urn:a"),
           event("user.logout", "ann", "2026-10-02T09:00:00Z", id="e2", source="urn:b")]
    with database.write() as conn:
        org = create_organization(conn, "old", "named", INGESTED_AT).id
        other = create_organization(conn, "other", "named", INGESTED_AT).id
        ingest(conn, org, old, CATALOG, INGESTED_AT)
        ingest(conn, other, old[1:2], CATALOG, INGESTED_AT)
    migrate.downgrade(database, "0011")
    migrate.upgrade(database)

    def listing() -> list[tuple[str, str, bool]]:
        with database.read() as conn:
            return [(e.source, e.event_id, e.void is not None)
                    for e in events_page(conn, org, EventFilter(), None, 10).events]

    with database.read() as conn:
        numbered = conn.execute(select(event_sources.c.org_id, event_sources.c.id, event_sources.c.source)).all()
    assert sorted(numbered) == sorted([(org, 1, "urn:b"), (org, 2, "urn:a"), (other, 1, "urn:a")])
    assert listing() == [("urn:b", "e2", False), ("urn:a", "e1", False), ("urn:b", "e1", False)]
    with database.write() as conn:
        again = ingest(conn, org, [*old, event("user.login", "cy", "2026-10-03T08:00:00Z", id="e1", source="urn:c")],
                       CATALOG, INGESTED_AT + 1)
        void_events(conn, org, [VoidRequest("urn:a", "e1", "test")], "tester", INGESTED_AT + 2)
    assert (again.accepted, again.duplicates) == (1, 3)
    assert listing() == [("urn:c", "e1", False), ("urn:b", "e2", False), ("urn:a", "e1", True), ("urn:b", "e1", False)]
    migrate.downgrade(database, "0011")
    with database.read() as conn:
        assert conn.execute(text("SELECT source, event_id FROM events WHERE org_id = :org ORDER BY seq"),
                            {"org": org}).all() == [("urn:b", "e1"), ("urn:a", "e1"), ("urn:b", "e2"), ("urn:c", "e1")]
    database.dispose()


def test_sessions_of_0012_are_packed_per_week(empty_url: str) -> None:
    """0013 packs every organization's sessions per user and week from the sessions table,
    for the weeks its latest event has passed: after a downgrade and an upgrade the packed
    weeks are those ingestion kept (late events and an open session included), and an
    upgraded log changes them."""
    from conftest import CATALOG, INGESTED_AT, event

    from billable.service.ingestion import ingest
    from billable.service.organizations import create_organization

    database = Database(empty_url)
    migrate.upgrade(database)
    days = [f"2026-10-{day:02}" for day in (1, 3, 7, 8, 15)]
    log = [event(kind, user, f"{day}T{hour}:00:00Z") for day in days for user in ("ann", "bob")
           for kind, hour in (("user.login", "08"), ("user.logout", "17"))]
    with database.write() as conn:
        orgs = [create_organization(conn, name, "concurrent", INGESTED_AT).id for name in ("one", "two")]
        for org_id in orgs:
            ingest(conn, org_id, log[1::2] + [event("user.login", "cy", "2026-10-02T08:00:00Z")], CATALOG, INGESTED_AT)
            ingest(conn, org_id, log[0::2], CATALOG, INGESTED_AT)  # the logins late

    def packed() -> list[tuple[str, str, int, bytes]]:
        with database.read() as conn:
            w = session_weeks.c
            return sorted((o, u, week, bytes(b)) for o, u, week, b in conn.execute(select(w.org_id, w.user_id, w.week, w.bounds)))

    kept = packed()
    # Per organization, the weeks before the latest event's (October 15): ann's and bob's two, cy's one.
    assert len(kept) == 2 * (2 * 2 + 1)
    migrate.downgrade(database, "0012")
    with database.engine.connect() as conn:
        assert "session_weeks" not in inspect(conn).get_table_names()
    migrate.upgrade(database)
    assert packed() == kept
    with database.write() as conn:
        ingest(conn, orgs[0], [event("user.logout", "cy", "2026-10-16T08:00:00Z")], CATALOG, INGESTED_AT)
    assert len(packed()) == len(kept) and packed() != kept  # cy's open session closed in its week
    database.dispose()


def test_logs_of_0013_are_found_by_day(empty_url: str) -> None:
    """0014 files the log's subject index by day (each event's day written, one before the
    epoch counted down) and gives each organization the earliest event time of its log (a
    late event's, here): an upgraded log bills as the reference,
    walks a late logout, lists and explains a subject's whole history and finds a voided
    email's successor as before, and goes back to 0013."""
    from conftest import CATALOG, INGESTED_AT, event, stored_sql
    from reference import reference_report

    from billable.rules.catalog import LicensingModel
    from billable.rules.events import validate_events
    from billable.rules.explanation import UNKNOWN_USER
    from billable.rules.instants import Period, parse_instant
    from billable.rules.voids import VoidRequest
    from billable.service.event_log import events_page
    from billable.service.explanations import explain_user
    from billable.service.ingestion import ingest
    from billable.service.organizations import create_organization
    from billable.service.reports import billable_usage_report
    from billable.service.voids import void_events
    from billable.store.events import EventFilter
    from billable.store.organizations import get_organization

    database = Database(empty_url)
    migrate.upgrade(database)
    log = [event("license.assigned", "ann", "2026-09-20T00:00:00Z", id="a1", product="cx1", email="ann@old"),
           event("user.login", "ann", "2026-10-02T08:00:00Z", id="a2", email="ann@new"),
           event("user.login", "ann", "2026-10-09T08:00:00Z", id="a3"),
           event("license.assigned", "ann", "2026-09-01T00:00:00Z", id="a0", product="cx2"),  # the earliest, late
           event("user.updated", "old", "1969-12-31T23:00:00Z", id="o1", email="old@x")]
    with database.write() as conn:
        org = create_organization(conn, "old", "hourly", INGESTED_AT).id
        empty = create_organization(conn, "empty", "named", INGESTED_AT).id
        ingest(conn, org, log[:3], CATALOG, INGESTED_AT)
        ingest(conn, org, log[3:], CATALOG, INGESTED_AT)
        days_before = conn.execute(stored_sql("SELECT event_id, event_day FROM events WHERE org_id = :org ORDER BY seq"),
                                   {"org": org}).all()
    migrate.downgrade(database, "0013")
    with database.engine.connect() as conn:
        assert "earliest_event_time" not in {c["name"] for c in inspect(conn).get_columns("organizations")}
        assert "event_day" not in {c["name"] for c in inspect(conn).get_columns("events")}
        assert "events_by_subject" in {i["name"] for i in inspect(conn).get_indexes("events")}
    migrate.upgrade(database)
    late = event("user.logout", "ann", "2026-10-02T10:00:00Z", id="a4")  # before a3: walked from the log
    with database.write() as conn:
        assert conn.execute(stored_sql("SELECT event_id, event_day FROM events WHERE org_id = :org ORDER BY seq"),
                            {"org": org}).all() == days_before
        assert days_before[-1] == ("o1", -1)
        assert get_organization(conn, org).earliest_event_time == parse_instant("1969-12-31T23:00:00Z")
        assert get_organization(conn, empty).earliest_event_time is None
        ingest(conn, org, [late], CATALOG, INGESTED_AT + 1_000)
        void_events(conn, org, [VoidRequest("urn:test", "a2", "test")], "tester", INGESTED_AT + 2_000)
    october = Period.parse("2026-10-01", "2026-11-01")
    expected = reference_report(validate_events([*log, late], CATALOG, INGESTED_AT), CATALOG, LicensingModel.HOURLY,
                                october, INGESTED_AT + 9_000, frozenset({("urn:test", "a2")}))
    with database.read() as conn:
        found = billable_usage_report(conn, get_organization(conn, org), october, CATALOG, INGESTED_AT + 9_000)
        listed = events_page(conn, org, EventFilter(subject="ann"), None, 10).events
        before_epoch = events_page(conn, org, EventFilter(subject="old"), None, 10).events
        explained = explain_user(conn, org, "ann", october, CATALOG, INGESTED_AT + 9_000)
        unknown = explain_user(conn, org, "bob", october, CATALOG, INGESTED_AT + 9_000)
    assert found == expected and found.usages
    assert sorted(e.event_id for e in listed) == ["a0", "a1", "a2", "a3", "a4"]
    assert [e.event_id for e in before_epoch] == ["o1"]
    # The voided login's email gone, the one before it is found again.
    assert (explained.display_name, explained.reason) == ("ann@old", None)
    assert unknown.reason == UNKNOWN_USER
    migrate.downgrade(database, "0013")
    with database.engine.connect() as conn:
        assert "events_by_day" not in {i["name"] for i in inspect(conn).get_indexes("events")}
    database.dispose()


def test_closed_periods_of_0014_keep_their_figures_in_the_stores_form(empty_url: str) -> None:
    """0015 keeps a closed period's figures in the store's own form instead of the API's body:
    a body kept by 0014 is served byte for byte as before, amends as before, and goes back
    to 0014 as the body it was."""
    from conftest import CATALOG, INGESTED_AT, event
    from sqlalchemy import text

    from billable.rules.instants import Period
    from billable.service.ingestion import ingest
    from billable.service.organizations import create_organization
    from billable.service.periods import amendments, close_period
    from billable.service.report_desk import ReportStatus
    from billable.service.report_requests import BILLABLE_USAGE, answer_report
    from billable.store.organizations import get_organization
    from billable.wire.writers import billable_usage_body

    october, september = Period.parse("2026-10-01", "2026-11-01"), Period.parse("2026-09-01", "2026-10-01")
    database = Database(empty_url)
    migrate.upgrade(database)
    with database.write() as conn:
        org = create_organization(conn, "old", "named", INGESTED_AT).id
        ingest(conn, org, [event("license.assigned", user, "2026-09-01T00:00:00Z", id=f"l{user}", product=product)
                           for user, product in (("ann", "cx1"), ("bob", "cx1"), ("cy", "cx2"))]
               + [event("user.login", "ann", "2026-10-02T08:00:00.125Z", id="a1", email="ann@x.com"),
                  event("user.login", "bob", "2026-10-01T07:00:00Z", id="b1"),
                  event("user.login", "cy", "2026-10-09T00:00:00Z", id="c1")], CATALOG, INGESTED_AT)
        close_period(conn, org, october, CATALOG, INGESTED_AT, "finance")

    def served(period: Period) -> bytes:
        with database.read() as conn:
            found = answer_report(conn, BILLABLE_USAGE, get_organization(conn, org), period, CATALOG, INGESTED_AT)
        assert found.closed is not None
        return billable_usage_body(org, found, ReportStatus.COMPLETE)

    october_body = served(october)
    assert b'"name":"ann@x.com","date":"2026-10-02T08:00:00.125Z"' in october_body
    migrate.downgrade(database, "0014")
    # What 0014 kept: the body as served, the one it wrote itself (September's, empty) too.
    september_body = ('{"id":"x","name":"Billable usage","startDate":"2026-09-01T00:00:00.000Z",'
                      '"endDate":"2026-10-01T00:00:00.000Z","status":"Complete","usages":[],"selfUri":"/s",'
                      '"closed":{"closedAt":"2026-11-02T00:00:00.000Z","closedBy":"me","sequence":6}}')
    with database.write() as conn:
        assert conn.execute(text("SELECT body FROM closed_periods")).scalar() == october_body.decode()
        conn.execute(text("INSERT INTO closed_periods VALUES (:org, :start, :end, 1, 'me', 6, 'x', :body)"),
                     {"org": org, "start": september.start, "end": september.end, "body": september_body})
    migrate.upgrade(database)
    with database.write() as conn:
        ingest(conn, org, [event("user.login", "dan", "2026-10-03T00:00:00Z", id="d1")], CATALOG, INGESTED_AT)
        ingest(conn, org, [event("license.assigned", "dan", "2026-09-01T00:00:00Z", id="ldan", product="cx1")],
               CATALOG, INGESTED_AT)
        kept = conn.execute(text("SELECT kept FROM closed_periods WHERE period_start = :s"),
                            {"s": september.start}).scalar()
        changes = amendments(conn, org, october, CATALOG, INGESTED_AT)
    assert served(october) == october_body
    assert kept == '{"form":1,"usages":[]}'
    assert [(u.name, u.closed_total, u.current_total, [r.name for r in u.resources]) for u in changes.usages] == [
        ("cx1", "2", "3", ["dan"])]
    migrate.downgrade(database, "0014")
    with database.read() as conn:
        assert conn.execute(text("SELECT body FROM closed_periods WHERE period_start = :s"),
                            {"s": october.start}).scalar() == october_body.decode()
    database.dispose()


def test_clients_of_0015_are_unnamed_and_named_from_0016_on(empty_url: str) -> None:
    """0016 gives clients a name: those made before are unnamed (''); a void
    by a named client is listed with its name; back to 0015, the column goes."""
    from conftest import CATALOG, INGESTED_AT, event
    from sqlalchemy import text

    from billable.rules.voids import VoidRequest
    from billable.service.ingestion import ingest
    from billable.service.organizations import create_client
    from billable.service.voids import void_events
    from billable.store.events import EventFilter, list_events
    from billable.store.organizations import list_clients

    database = Database(empty_url)
    migrate.upgrade(database)
    migrate.downgrade(database, "0015")
    org = str(uuid.uuid4())
    with database.write() as conn:  # as 0015's code made them: ids as text
        conn.execute(text("INSERT INTO organizations (id, name, model, last_seq, created_at) "
                          "VALUES (:org, 'old', 'named', 0, 1)"), {"org": org})
        conn.execute(text("INSERT INTO oauth_clients (client_id, org_id, secret_hash, permissions, created_at) "
                          "VALUES ('old-client', :org, 'x', 'billing:events:void', 1)"), {"org": org})
    migrate.upgrade(database)
    with database.write() as conn:
        named = create_client(conn, org, ["billing:events:void"], INGESTED_AT, "Finance desk")
        ingest(conn, org, [event("user.login", "ann", "2026-10-02T08:00:00Z", id="a1"),
                           event("user.login", "bob", "2026-10-02T08:00:00Z", id="b1")], CATALOG, INGESTED_AT)
        void_events(conn, org, [VoidRequest("urn:test", "a1", "wrong")], named.client_id, INGESTED_AT)
        void_events(conn, org, [VoidRequest("urn:test", "b1", "wrong")], "old-client", INGESTED_AT)
        assert [(c.client_id, c.name) for c in list_clients(conn, org)] == [("old-client", ""),
                                                                             (named.client_id, "Finance desk")]
        voids = {e.event_id: (e.void.by, e.void.by_name) for e in list_events(conn, org, EventFilter(), None, 10)
                 if e.void is not None}
    assert voids == {"a1": (named.client_id, "Finance desk"), "b1": ("old-client", "")}
    migrate.downgrade(database, "0015")
    with database.engine.connect() as conn:
        assert "name" not in {c["name"] for c in inspect(conn).get_columns("oauth_clients")}
    database.dispose()


def test_organizations_of_0016_keep_everything_with_ids_of_sixteen_bytes(empty_url: str) -> None:
    """0017 stores each organization's id as its 16 bytes in every table: a database of 0016
    (two organizations: late events, a void, a closed period, a client with a token, a
    stored report) upgrades with every report at every instant, the closed period, the
    listing, the client and its token as before, and goes back to 0016 as it was."""
    from conftest import CATALOG, INGESTED_AT, event
    from sqlalchemy import text

    from billable.rules.instants import Period
    from billable.rules.voids import VoidRequest
    from billable.service.access import grant_of, issue_token
    from billable.service.ingestion import ingest
    from billable.service.organizations import create_client, create_organization
    from billable.service.report_requests import BILLABLE_USAGE, answer_report
    from billable.service.reports import billable_usage_report, concurrent_usage_report
    from billable.service.periods import close_period
    from billable.service.voids import void_events
    from billable.store.events import EventFilter, list_events
    from billable.store.organizations import get_client, get_organization

    october, september = Period.parse("2026-10-01", "2026-11-01"), Period.parse("2026-09-01", "2026-10-01")
    database = Database(empty_url)
    migrate.upgrade(database)
    with database.write() as conn:
        orgs = [create_organization(conn, name, "concurrent", INGESTED_AT).id for name in ("one", "two")]
        for number, org in enumerate(orgs):
            ingest(conn, org, [event("license.assigned", "ann", "2026-09-01T00:00:00Z", id="l1", product="cx1"),
                               event("user.login", "ann", "2026-09-20T08:00:00Z", id="s1", email=f"ann@{number}"),
                               event("user.login", "ann", "2026-10-02T08:00:00Z", id="a1"),
                               event("user.login", "bob", "2026-10-02T09:00:00Z", id="b1")], CATALOG, INGESTED_AT)
            ingest(conn, org, [event("user.logout", "ann", "2026-10-02T07:00:00Z", id="a0"),  # late
                               event("device.active", "d1", "2026-10-03T00:00:00Z", id="d1", deviceType="phone"),
                               event("license.assigned", "bob", "2026-09-15T00:00:00Z", id="l2", product="cx2")],
                   CATALOG, INGESTED_AT + 1_000)
        close_period(conn, orgs[0], september, CATALOG, INGESTED_AT + 1_500, "finance")
        void_events(conn, orgs[0], [VoidRequest("urn:test", "b1", "wrong")], "tester", INGESTED_AT + 2_000)
        client = create_client(conn, orgs[1], ["billing:subscription:view"], INGESTED_AT, "reader")
        issued = issue_token(conn, get_client(conn, client.client_id), INGESTED_AT, 3_600)  # type: ignore[arg-type]
        answer_report(conn, BILLABLE_USAGE, get_organization(conn, orgs[1]), october, CATALOG, INGESTED_AT)

    def seen() -> list[object]:
        with database.read() as conn:
            found: list[object] = []
            for org in orgs:
                organization = get_organization(conn, org)
                found.append((organization.id, organization.name, organization.last_seq))
                for as_of in range(INGESTED_AT - 500, INGESTED_AT + 2_500, 500):
                    found.append(billable_usage_report(conn, organization, october, CATALOG, INGESTED_AT + 9_000,
                                                       as_of=as_of))
                    found.append(concurrent_usage_report(conn, organization, october, CATALOG, INGESTED_AT + 9_000,
                                                         as_of=as_of))
                found.append(answer_report(conn, BILLABLE_USAGE, organization, september, CATALOG, INGESTED_AT))
                found.append(list_events(conn, org, EventFilter(), None, 20))
            grant = grant_of(conn, issued.access_token, INGESTED_AT + 1)
            found.append((get_client(conn, client.client_id), grant))
            return found

    def raw() -> list[tuple[object, ...]]:
        with database.read() as conn:
            return [tuple(row) for table in ("organizations", "events", "sessions", "users", "closed_periods",
                                             "access_tokens", "computed_reports", "sessions_retired")
                    for row in conn.execute(text(f"SELECT * FROM {table} ORDER BY 1, 2, 3"))]

    before = seen()
    assert before[-1][1] is not None and before[-1][1].org_id == orgs[1]  # type: ignore[index]
    migrate.downgrade(database, "0016")
    stored = raw()
    assert {row[0] for row in stored if len(row) == 8} >= set(orgs)  # the organizations' rows: ids as text
    migrate.upgrade(database)
    assert seen() == before
    with database.read() as conn:
        if conn.dialect.name == "sqlite":
            assert conn.execute(text("SELECT DISTINCT length(org_id), typeof(org_id) FROM closed_periods")).all() == [
                (16, "blob")]
            # the log keeps the organization's number from 0023 on
            assert conn.execute(text("SELECT DISTINCT typeof(org_id) FROM events")).all() == [("integer",)]
        else:
            assert conn.execute(text("SELECT DISTINCT pg_typeof(org_id)::text FROM events")).all() == [("uuid",)]
    migrate.downgrade(database, "0016")
    assert raw() == stored
    migrate.upgrade(database)
    with database.write() as conn:  # the upgraded log goes on: a duplicate refused, a new event taken
        again = ingest(conn, orgs[0], [event("user.login", "ann", "2026-10-02T08:00:00Z", id="a1"),
                                       event("user.logout", "ann", "2026-10-02T10:00:00Z", id="a2")],
                       CATALOG, INGESTED_AT + 3_000)
    assert (again.accepted, again.duplicates) == (1, 1)
    database.dispose()


def test_a_database_of_0017_gains_subscriptions_and_trusts_and_keeps_its_reports(empty_url: str) -> None:
    """0018 and 0019 add what was bought and who trusts whom: a database taken back to 0017
    upgrades with its reports as they were, takes a subscription and a trust, and goes back
    to 0017 and up again with its reports still as they were. (Its log is written at the
    head: today's code writes the log of 0022 on.)"""
    import json

    from conftest import CATALOG, INGESTED_AT, event

    from billable.rules.instants import Period
    from billable.service.billing import Billing
    from billable.service.organizations import READ_REPORTS
    from billable.service.report_requests import BILLABLE_USAGE

    october = Period.parse("2026-10-01", "2026-11-01")
    database = Database(empty_url)
    migrate.upgrade(database)
    billing = Billing(database, CATALOG, lambda: INGESTED_AT)
    trustor, trustee = (billing.create_organization(name, "named") for name in ("trustor", "trustee"))
    billing.ingest(trustor.id, json.dumps([
        event("license.assigned", "ann", "2026-09-01T00:00:00Z", id="l1", product="cx1"),
        event("user.login", "ann", "2026-10-02T08:00:00Z", id="a1")]).encode(), 10)
    before = billing.report(BILLABLE_USAGE, trustor.id, october).figures
    migrate.downgrade(database, "0017")
    with database.engine.connect() as conn:
        assert not {"subscriptions", "trusts"} & set(inspect(conn).get_table_names())
    migrate.upgrade(database)
    assert billing.report(BILLABLE_USAGE, trustor.id, october).figures == before
    billing.set_subscription(trustor.id, json.dumps({
        "currency": "EUR", "subscriptionType": "MONTH_TO_MONTH", "contractEffectiveDate": "2026-01-01",
        "usages": [{"name": "cx1", "partNumber": "cx1", "overagePrice": "10"}]}).encode(), "test")
    assert billing.trust(trustor.id, trustee.id, "test")
    overview = billing.overview(trustee.id, ("affiliateOrganization:clientBilling:view",), trustor.id, 1)
    assert overview.usage == {"cx1": 1}
    assert billing.overview(trustor.id, READ_REPORTS, trustor.id, 1).usage == overview.usage
    migrate.downgrade(database, "0017")
    migrate.upgrade(database)
    assert billing.report(BILLABLE_USAGE, trustor.id, october).figures == before
    database.dispose()


def test_packed_weeks_of_0020_are_filed_by_week_and_read_as_before(empty_url: str) -> None:
    """0021 files ``session_weeks`` by week, then user: every packed week of a database taken
    back to 0020 is kept, reports read the same figures, ingestion repacks the new key's rows,
    and the downgrade keeps them. (The log is written at the head: today's code writes the
    log of 0022 on.)"""
    import json

    from conftest import CATALOG, INGESTED_AT, event, stored_sql

    from billable.rules.instants import Period
    from billable.service.billing import Billing
    from billable.service.report_requests import BILLABLE_USAGE, CONCURRENT_USAGE

    october = Period.parse("2026-10-01", "2026-11-01")
    database = Database(empty_url)
    migrate.upgrade(database)
    billing = Billing(database, CATALOG, lambda: INGESTED_AT)
    org = billing.create_organization("weeks", "concurrent")
    log = [event("license.assigned", user, "2026-09-01T00:00:00Z", product=product)
           for user, product in (("ann", "cx1"), ("bob", "cx2"), ("cy", "cx1"))]
    log += [event(kind, user, f"2026-10-{day:02}T{hour}:00:00Z") for day in (1, 3, 8, 15, 16) for user in ("ann", "bob")
            for kind, hour in (("user.login", "08"), ("user.logout", "17"))]
    log += [event("user.login", "cy", "2026-10-02T08:00:00Z")]  # open across the weeks
    billing.ingest(org.id, json.dumps(log).encode(), len(log))

    def packed() -> set[tuple[str, int, bytes]]:
        with database.read() as conn:
            return {(u, w, bytes(b)) for u, w, b in conn.execute(stored_sql("SELECT user_id, week, bounds FROM session_weeks"))}

    def key() -> list[str]:
        with database.engine.connect() as conn:
            return list(inspect(conn).get_pk_constraint("session_weeks")["constrained_columns"])

    def reports() -> tuple[object, object]:
        return (billing.report(BILLABLE_USAGE, org.id, october).figures,
                billing.report(CONCURRENT_USAGE, org.id, october).figures)

    before = reports()
    migrate.downgrade(database, "0020")
    kept = packed()
    assert len(kept) == 2 * 2 + 1  # ann's and bob's weeks of October 1 and 8, cy's of the 1st
    assert key() == ["org_id", "user_id", "week"]
    migrate.upgrade(database)
    assert key() == ["org_id", "week", "user_id"]
    assert packed() == kept and reports() == before
    late = [event("user.logout", "cy", "2026-10-09T08:00:00Z")]  # late: cy's packed week is repacked
    billing.ingest(org.id, json.dumps(late).encode(), 1)
    repacked, after = packed(), reports()
    assert repacked != kept and after != before
    migrate.downgrade(database, "0020")
    assert key() == ["org_id", "user_id", "week"]
    assert packed() == repacked
    migrate.upgrade(database)
    assert reports() == after
    database.dispose()


@dataclass
class _TwoLogs:
    """Two organizations' logs at the head (late events, an email seen again, a void, a closed
    period), and everything a reader sees of them."""

    orgs: dict[str, str]
    logs: dict[str, list[dict[str, Any]]]
    late: list[dict[str, Any]]
    seen: Callable[[], list[object]]


def _two_logs(database: Database) -> _TwoLogs:
    from conftest import CATALOG, INGESTED_AT, event

    from billable.rules.instants import Period
    from billable.rules.voids import VoidRequest
    from billable.service.explanations import explain_user
    from billable.service.ingestion import ingest
    from billable.service.organizations import create_organization
    from billable.service.periods import amendments, close_period
    from billable.service.reports import billable_usage_report, concurrent_usage_report
    from billable.service.voids import void_events
    from billable.store.events import EventFilter, list_events
    from billable.store.organizations import get_organization

    october, september = Period.parse("2026-10-01", "2026-11-01"), Period.parse("2026-09-01", "2026-10-01")
    logs = {
        "one": [event("license.assigned", "ann", "2026-09-01T00:00:00Z", id="l1", product="cx1", email="zoë@x"),
                event("user.login", "ann", "2026-09-20T08:00:00Z", id="s1", email="o'neil@x"),
                event("user.login", "bob", "2026-10-02T09:00:00Z", id="b1", email="bob@x"),
                event("user.updated", "ann", "2026-10-02T10:00:00Z", id="u1", email="ann@x")],
        "two": [event("user.login", "bob", "2026-10-02T09:00:00Z", id="b1", email="ann@x"),
                event("device.active", "d1", "2026-10-03T00:00:00Z", id="d1", deviceType="phone"),
                event("license.unassigned", "bob", "2026-10-05T00:00:00Z", id="l2", product="cx2")],
    }
    late = [event("user.logout", "ann", "2026-09-20T07:00:00Z", id="s0", email="ann@x"),  # late, an email seen
            event("license.assigned", "bob", "2026-09-15T00:00:00Z", id="l3", product="cx2")]
    with database.write() as conn:
        orgs = {name: create_organization(conn, name, "concurrent", INGESTED_AT).id for name in logs}
        for name, org in orgs.items():
            ingest(conn, org, logs[name], CATALOG, INGESTED_AT)
            ingest(conn, org, late, CATALOG, INGESTED_AT + 1_000)
        close_period(conn, orgs["one"], september, CATALOG, INGESTED_AT + 1_500, "finance")
        void_events(conn, orgs["one"], [VoidRequest("urn:test", "u1", "wrong")], "tester", INGESTED_AT + 2_000)

    def seen() -> list[object]:
        with database.read() as conn:
            found: list[object] = []
            for org in orgs.values():
                organization = get_organization(conn, org)
                for as_of in range(INGESTED_AT - 500, INGESTED_AT + 2_500, 500):
                    found.append(billable_usage_report(conn, organization, october, CATALOG, INGESTED_AT + 9_000,
                                                       as_of=as_of))
                    found.append(concurrent_usage_report(conn, organization, october, CATALOG, INGESTED_AT + 9_000,
                                                         as_of=as_of))
                found.append(list_events(conn, org, EventFilter(), None, 20))
                found.append(explain_user(conn, org, "ann", october, CATALOG, INGESTED_AT + 9_000))
            found.append(amendments(conn, orgs["one"], september, CATALOG, INGESTED_AT + 9_000))
            return found

    return _TwoLogs(orgs, logs, late, seen)


def test_a_log_of_0021_keeps_every_event_with_types_numbered_and_emails_once(empty_url: str) -> None:
    """0022 keeps an event's type as a number and its email by its number in ``event_emails``,
    where 0021 kept the type's name and the data as JSON text. A log taken back to 0021 (its
    data compact JSON, product, device type and email in that order, as 0021's code wrote it)
    upgrades with every report at every instant, the listing, a closed period's changes and
    an explanation as before; each organization numbers its own emails by their first event;
    the subject index loses the time; the downgrade gives 0021's rows and index again, and
    the upgraded log goes on."""
    import json
    from typing import Any

    from conftest import CATALOG, INGESTED_AT, event, stored_sql

    from billable.service.ingestion import ingest
    from sqlalchemy import text

    database = Database(empty_url)
    migrate.upgrade(database)
    two = _two_logs(database)
    orgs, logs, late, seen = two.orgs, two.logs, two.late, two.seen

    def raw(columns: str) -> list[tuple[object, ...]]:
        with database.read() as conn:
            return [tuple(row) for row in conn.execute(
                stored_sql(f"SELECT org_id, seq, {columns} FROM events ORDER BY org_id, seq", numbered=False))]  # at 0021

    def by_day() -> list[str | None]:  # the subject index's columns
        with database.engine.connect() as conn:
            return next(i["column_names"] for i in inspect(conn).get_indexes("events") if i["name"] == "events_by_day")

    before = seen()
    explained = before[13]  # organization one's: after its 12 reports and its listing
    assert explained.display_name == "o'neil@x"  # type: ignore[attr-defined]  # the void of u1 found the one before
    migrate.downgrade(database, "0021")
    stored = raw("event_id, type, data, void_seq")
    def as_0021(e: dict[str, Any]) -> tuple[str, str]:  # (type, data) as 0021's code kept them
        data = e.get("data", {})
        return e["type"], json.dumps({name: data[name] for name in ("product", "deviceType", "email") if name in data},
                                     separators=(",", ":"), ensure_ascii=False)

    assert {(org, event_id, kind, data) for org, _, event_id, kind, data, _ in stored} == {
        (org, e["id"], *as_0021(e)) for name, org in orgs.items() for e in [*logs[name], *late]}
    migrate.upgrade(database)
    assert seen() == before
    with database.read() as conn:
        numbered = conn.execute(select(event_emails.c.org_id, event_emails.c.id, event_emails.c.email)).all()
        types = {tuple(row) for row in conn.execute(text("SELECT DISTINCT type FROM events"))}
    assert sorted((org, number, email) for org, number, email in numbered) == sorted(
        [(orgs["one"], n, email) for n, email in enumerate(["zoë@x", "o'neil@x", "bob@x", "ann@x"], start=1)]
        + [(orgs["two"], n, email) for n, email in enumerate(["ann@x"], start=1)])
    assert types == {(code,) for code in TYPE_CODES.values()}  # every type, each by its number
    assert by_day() == ["event_day", "subject"]
    migrate.downgrade(database, "0021")
    assert raw("event_id, type, data, void_seq") == stored
    assert by_day() == ["event_day", "subject", "time"]
    migrate.upgrade(database)
    with database.write() as conn:  # the upgraded log goes on: a duplicate refused, a new email numbered next
        again = ingest(conn, orgs["two"], [event("user.login", "bob", "2026-10-02T09:00:00Z", id="b1"),
                                           event("user.logout", "bob", "2026-10-02T10:00:00Z", id="b2", email="b@y")],
                       CATALOG, INGESTED_AT + 3_000)
        assert conn.execute(stored_sql("SELECT id FROM event_emails WHERE org_id = :org AND email = 'b@y'"),
                            {"org": orgs["two"]}).scalar_one() == 2
    assert (again.accepted, again.duplicates) == (1, 1)
    database.dispose()


def test_a_database_of_0022_keeps_every_row_with_organizations_numbered_on_sqlite(empty_url: str) -> None:
    """0023 keeps, on SQLite, an organization's number where the tables that grow with its
    events kept its 16-byte id, and files the log by its key. A database taken back to 0022
    (the ids in every row, the log with rowids) upgrades with every report at every instant,
    the listings, explanations and a closed period's changes as before; the organizations are
    numbered in the order they were made, and one made after is numbered next; the downgrade
    gives 0022's rows again, and the upgraded log goes on. PostgreSQL gains the column only."""
    from conftest import CATALOG, INGESTED_AT, event
    from sqlalchemy import Connection, text

    from billable.service.ingestion import ingest
    from billable.service.organizations import create_organization

    database = Database(empty_url)
    migrate.upgrade(database)
    two = _two_logs(database)
    # A session closed, a license ended (each before the log's latest event, so not in place:
    # 0025), a device seen earlier: each retires a row.
    with database.write() as conn:
        for org in two.orgs.values():
            ingest(conn, org, [event("user.logout", "ann", "2026-09-20T17:00:00Z", id="s2"),
                               event("license.unassigned", "ann", "2026-10-01T00:00:00Z", id="l4", product="cx1"),
                               event("device.active", "d9", "2026-10-04T10:00:00Z", id="d2", deviceType="edge")],
                   CATALOG, INGESTED_AT + 2_500)
            ingest(conn, org, [event("device.active", "d9", "2026-10-04T09:00:00Z", id="d3", deviceType="edge")],
                   CATALOG, INGESTED_AT + 2_600)
    sqlite = database.engine.dialect.name == "sqlite"
    keyed = ("events", "event_sources", "event_emails", "users", "sessions", "session_weeks", "holdings",
             "device_days", "users_retired", "sessions_retired", "holdings_retired", "device_days_retired")

    def rows() -> dict[str, list[tuple[object, ...]]]:  # each led by its organization's id, however kept
        with database.read() as conn:
            ids: dict[object, object] = {}
            if numbered(conn):
                ids.update((number, id) for number, id in conn.execute(text("SELECT number, id FROM organizations")))
            return {table: sorted((ids.get(org, org), *rest) for org, *rest in conn.execute(text(f"SELECT * FROM {table}")))
                    for table in keyed}

    def numbered(conn: Connection) -> bool:
        return "number" in {c["name"] for c in inspect(conn).get_columns("organizations")}

    def stored_as() -> set[tuple[object, ...]]:  # how each table keeps the organization
        typed = "typeof(org_id), length(org_id)" if sqlite else "pg_typeof(org_id)::text, 0"
        with database.read() as conn:
            return {tuple(row) for table in keyed for row in conn.execute(text(f"SELECT DISTINCT {typed} FROM {table}"))}

    def with_rowid() -> bool:
        with database.read() as conn:
            ddl = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'events'")).scalar_one()
        return "WITHOUT ROWID" not in ddl

    before, head = two.seen(), rows()
    assert [table for table in keyed if not head[table]] == []  # every table has rows to carry
    migrate.downgrade(database, "0022")
    old = rows()
    assert stored_as() == ({("blob", 16)} if sqlite else {("uuid", 0)})
    if sqlite:
        assert with_rowid()
    migrate.upgrade(database)
    assert two.seen() == before and rows() == head
    with database.read() as conn:
        numbers = {name: number for number, name in conn.execute(text("SELECT number, name FROM organizations"))}
    assert numbers == ({"one": 1, "two": 2} if sqlite else {"one": None, "two": None})
    assert stored_as() == ({("integer", 1)} if sqlite else {("uuid", 0)})
    if sqlite:
        assert not with_rowid()
    migrate.downgrade(database, "0022")
    assert rows() == old
    migrate.upgrade(database)
    with database.write() as conn:  # the upgraded log goes on: a duplicate refused, a new organization numbered next
        again = ingest(conn, two.orgs["two"], [event("user.login", "bob", "2026-10-02T09:00:00Z", id="b1"),
                                               event("user.logout", "bob", "2026-10-02T10:00:00Z", id="b2")],
                       CATALOG, INGESTED_AT + 3_000)
        three = create_organization(conn, "three", "named", INGESTED_AT + 3_000).id
        ingest(conn, three, two.logs["one"], CATALOG, INGESTED_AT + 3_000)
        number = conn.execute(text("SELECT number FROM organizations WHERE name = 'three'")).scalar_one()
    assert (again.accepted, again.duplicates) == (1, 1)
    assert number == (3 if sqlite else None)
    database.dispose()


def test_a_log_of_0023_keeps_its_voids_apart(empty_url: str) -> None:
    """0024 keeps a void's instant, client and reason in ``event_voids``, and a logout's type as
    0. A log taken back to 0023 (the details in each row, a logout 2) upgrades with every
    report at every instant, the listings, explanations and a closed period's changes as
    before, and the same voids; the downgrade gives 0023's rows again; the upgraded log voids
    on, and a report as of an instant between two voids sees the first only."""
    from conftest import CATALOG, INGESTED_AT
    from sqlalchemy import text

    from billable.rules.instants import Period
    from billable.rules.voids import VoidRequest
    from billable.service.reports import billable_usage_report
    from billable.service.voids import void_events
    from billable.store.events import EventFilter, list_events
    from billable.store.organizations import get_organization

    database = Database(empty_url)
    migrate.upgrade(database)
    two = _two_logs(database)
    one, other = two.orgs["one"], two.orgs["two"]
    with database.write() as conn:
        void_events(conn, other, [VoidRequest("urn:test", "d1", "a test device"), VoidRequest("urn:test", "l3", "é")],
                    "cleaner", INGESTED_AT + 2_200)

    def voids() -> list[tuple[object, ...]]:  # (organization, event id, void's sequence, instant, client, reason)
        with database.read() as conn:
            return sorted((org, e.event_id, e.void.seq, e.void.at, e.void.by, e.void.reason)
                          for org in two.orgs.values() for e in list_events(conn, org, EventFilter(), None, 50)
                          if e.void is not None)

    def details_at_0023() -> set[tuple[object, ...]]:  # each event's void, as 0023 keeps it in the row
        with database.read() as conn:
            return {tuple(row) for row in conn.execute(text(
                "SELECT event_id, void_seq, voided_at, voided_by, void_reason FROM events"))}

    before, voided = two.seen(), voids()
    assert [(org, event_id, by) for org, event_id, _, _, by, _ in voided] == sorted(
        [(one, "u1", "tester"), (other, "d1", "cleaner"), (other, "l3", "cleaner")])
    migrate.downgrade(database, "0023")
    stored = details_at_0023()
    with database.read() as conn:
        assert "event_voids" not in inspect(conn).get_table_names()
        types_then = set(conn.execute(text("SELECT DISTINCT type FROM events")).scalars())
    assert {row for row in stored if row[1] is not None} == {row[1:] for row in voided}
    migrate.upgrade(database)
    assert two.seen() == before and voids() == voided
    with database.read() as conn:
        types_now = set(conn.execute(text("SELECT DISTINCT type FROM events")).scalars())
    assert (2 in types_then, 0 in types_then, 0 in types_now, 2 in types_now) == (True, False, True, False)
    assert types_now == {0 if code == 2 else code for code in types_then}
    with database.engine.connect() as conn:
        assert not {"voided_at", "voided_by", "void_reason"} & {c["name"] for c in inspect(conn).get_columns("events")}
    migrate.downgrade(database, "0023")
    assert details_at_0023() == stored
    migrate.upgrade(database)
    october = Period.parse("2026-10-01", "2026-11-01")
    with database.write() as conn:  # the upgraded log voids on
        void_events(conn, one, [VoidRequest("urn:test", "b1", "twice")], "tester", INGESTED_AT + 4_000)
    with database.read() as conn:
        organization = get_organization(conn, one)
        between = billable_usage_report(conn, organization, october, CATALOG, INGESTED_AT + 9_000,
                                        as_of=INGESTED_AT + 3_000)
        now = billable_usage_report(conn, organization, october, CATALOG, INGESTED_AT + 9_000)
    assert between == before[10]  # organization one's named report as of INGESTED_AT + 2_000, its last in seen()
    assert now != between
    assert [(by, why) for _, event_id, _, _, by, why in voids() if event_id == "b1"] == [("tester", "twice")]
    database.dispose()


def test_intervals_closed_in_place_from_0025_go_back_to_retired_rows(empty_url: str) -> None:
    """0025 closes an interval in place (``open_seq``). The logs of ``_two_logs`` go on in time
    order, a session and a holding closed in place; downgraded to 0024, each open version is
    a retired row again, and upgraded once more, every report as of every instant, listing,
    explanation and a closed period's changes read as before."""
    from conftest import CATALOG, INGESTED_AT, event
    from sqlalchemy import text

    from billable.rules.instants import Period
    from billable.service.ingestion import ingest
    from billable.service.reports import billable_usage_report, concurrent_usage_report
    from billable.store.organizations import get_organization

    database = Database(empty_url)
    migrate.upgrade(database)
    two = _two_logs(database)
    one = two.orgs["one"]
    with database.write() as conn:
        for instant, batch in (
            (3_000, [event("user.login", "cy", "2026-10-20T08:00:00Z", id="c1"),
                     event("license.assigned", "eve", "2026-10-20T09:00:00Z", id="e1", product="cx1")]),
            (4_000, [event("user.logout", "cy", "2026-10-20T17:00:00Z", id="c2"),
                     event("user.login", "eve", "2026-10-21T08:00:00Z", id="e2")]),
            (5_000, [event("license.unassigned", "eve", "2026-10-25T00:00:00Z", id="e3", product="cx1")]),
        ):
            ingest(conn, one, batch, CATALOG, INGESTED_AT + instant)
    later = Period.parse("2026-10-21", "2026-11-01")

    def seen() -> list[object]:
        with database.read() as conn:
            organization = get_organization(conn, one)
            return [*two.seen(), *(
                report(conn, organization, period, CATALOG, INGESTED_AT + 9_000, as_of=INGESTED_AT + as_of)
                for report in (billable_usage_report, concurrent_usage_report)
                for period in (Period.parse("2026-10-01", "2026-11-01"), later)
                for as_of in range(2_500, 6_000, 500))]

    def in_place() -> set[tuple[object, ...]]:
        with database.read() as conn:
            return {tuple(row) for row in conn.execute(text(
                "SELECT user_id, '' AS product, started_at, open_seq FROM sessions WHERE open_seq IS NOT NULL "
                "UNION ALL SELECT user_id, product, started_at, open_seq FROM holdings WHERE open_seq IS NOT NULL"))}

    def open_retired() -> set[tuple[object, ...]]:
        with database.read() as conn:
            return {tuple(row) for row in conn.execute(text(
                f"SELECT user_id, '' AS product, started_at, created_seq FROM sessions_retired WHERE ended_at = {2**63 - 1} "
                f"UNION ALL SELECT user_id, product, started_at, created_seq FROM holdings_retired "
                f"WHERE ended_at = {2**63 - 1}"))}

    before, closed, retired = seen(), in_place(), open_retired()
    assert {(user, product) for user, product, _, _ in closed} == {("cy", ""), ("eve", "cx1")}
    migrate.downgrade(database, "0024")
    with database.engine.connect() as conn:
        for table in ("sessions", "sessions_retired", "holdings", "holdings_retired"):
            assert "open_seq" not in {c["name"] for c in inspect(conn).get_columns(table)}
    assert open_retired() == retired | closed
    migrate.upgrade(database)
    assert in_place() == set() and seen() == before
    database.dispose()


def test_a_log_of_0025_keeps_when_each_event_was_received(empty_url: str) -> None:
    """0026 keeps the instant a commit was received once, in ``arrivals``. A log taken back to
    0025 (the instant in every event) upgrades with each event received when it was, every
    report as of every instant, listing, explanation and a closed period's changes as before;
    the downgrade gives 0025's instants again. A commit of duplicates alone arrives nowhere."""
    from conftest import CATALOG, INGESTED_AT, event
    from sqlalchemy import text

    from billable.service.ingestion import ingest
    from billable.store.events import EventFilter, list_events
    from billable.store.tables import organizations

    database = Database(empty_url)
    migrate.upgrade(database)
    two = _two_logs(database)
    one = two.orgs["one"]
    with database.write() as conn:
        assert ingest(conn, one, two.logs["one"][:2], CATALOG, INGESTED_AT + 2_100).accepted == 0  # sent again
        ingest(conn, one, [event("user.logout", "bob", "2026-10-02T17:00:00Z", id="b2")], CATALOG, INGESTED_AT + 2_200)

    def received() -> list[tuple[object, ...]]:
        with database.read() as conn:
            return sorted((org, e.seq, e.event_id, e.received_at) for org in two.orgs.values()
                          for e in list_events(conn, org, EventFilter(), None, 50))

    def arrivals() -> list[tuple[object, ...]]:
        with database.read() as conn:
            return sorted(tuple(row) for row in conn.execute(text("SELECT org_id, seq, received_at FROM arrivals")))

    before, when, arrived = two.seen(), received(), arrivals()
    assert {instant for *_, instant in when} == {INGESTED_AT, INGESTED_AT + 1_000, INGESTED_AT + 2_200}
    assert len(arrived) == 5  # two commits for each organization, and the logout's
    migrate.downgrade(database, "0025")
    with database.read() as conn:
        assert "arrivals" not in inspect(conn).get_table_names()
        numbers = {org: number for org, number in conn.execute(select(organizations.c.id, organizations.c.number))}
        kept = sorted((org, seq, event_id, instant) for org in two.orgs.values()
                      for seq, event_id, instant in conn.execute(
                          text("SELECT seq, event_id, received_at FROM events WHERE org_id = :org"),
                          {"org": numbers[org] if numbers[org] is not None else org}))
    assert kept == when
    migrate.upgrade(database)
    assert received() == when and arrivals() == arrived and two.seen() == before
    with database.engine.connect() as conn:
        assert "received_at" not in {c["name"] for c in inspect(conn).get_columns("events")}
    database.dispose()


def test_open_sessions_of_0026_are_continued_from_the_index_of_0027(empty_url: str) -> None:
    """0027 indexes the sessions still open apart (``sessions_open``), where a batch later
    than the log seeks what it continues. A database taken back to 0026 and upgraded again
    builds it over the sessions open then: every report as of every instant as before, and
    a logout later than the log closes the open session it finds there, leaving none open."""
    from conftest import CATALOG, INGESTED_AT, event

    from billable.rules.instants import parse_instant
    from billable.rules.intervals import OPEN
    from billable.service.ingestion import ingest
    from billable.store.tables import sessions

    database = Database(empty_url)
    migrate.upgrade(database)
    two = _two_logs(database)
    one = two.orgs["one"]
    before = two.seen()

    def indexes() -> set[str]:
        with database.engine.connect() as conn:
            return {i["name"] for i in inspect(conn).get_indexes("sessions") if i["name"]}

    def bobs() -> list[tuple[int, int]]:
        with database.read() as conn:
            s = sessions.c
            return sorted((started, ended) for started, ended in conn.execute(
                select(s.started_at, s.ended_at).where(s.org_id == one, s.user_id == "bob")))

    login = parse_instant("2026-10-02T09:00:00Z")
    assert bobs() == [(login, OPEN)]
    migrate.downgrade(database, "0026")
    assert "sessions_open" not in indexes()
    migrate.upgrade(database)
    assert "sessions_open" in indexes() and two.seen() == before
    with database.write() as conn:
        ingest(conn, one, [event("user.logout", "bob", "2026-10-09T17:00:00Z", id="b9")], CATALOG, INGESTED_AT + 3_000)
    assert bobs() == [(login, parse_instant("2026-10-09T17:00:00Z"))]
    database.dispose()


def test_a_log_of_0027_is_found_by_arrival_through_blocks_from_0028(empty_url: str) -> None:
    """0028 finds PostgreSQL's log by arrival through ``events_arrival``, one entry per block of
    sequences, in place of the primary key ``(org_id, seq)``; SQLite's log is filed by that key
    and unchanged. A database taken back to 0027 upgrades with every report as of every
    instant, the listings, explanations and a closed period's changes as before, and voids on;
    the downgrade gives the primary key back."""
    from conftest import INGESTED_AT

    from billable.rules.voids import VoidRequest
    from billable.service.voids import void_events
    from billable.store.events import EventFilter, list_events

    database = Database(empty_url)
    migrate.upgrade(database)
    two = _two_logs(database)
    one = two.orgs["one"]
    before = two.seen()
    postgresql = database.engine.dialect.name == "postgresql"

    def keys() -> tuple[str | None, set[str]]:
        with database.engine.connect() as conn:
            found = inspect(conn)
            return found.get_pk_constraint("events").get("name"), {i["name"] for i in found.get_indexes("events") if i["name"]}

    migrate.downgrade(database, "0027")
    pk, indexes = keys()
    assert "events_arrival" not in indexes and (pk == "events_pkey" or not postgresql)
    migrate.upgrade(database)
    pk, indexes = keys()
    assert ("events_arrival" in indexes, pk) == ((True, None) if postgresql else (False, pk))
    assert two.seen() == before
    with database.write() as conn:
        void_events(conn, one, [VoidRequest("urn:test", "b1", "twice")], "tester", INGESTED_AT + 4_000)
    with database.read() as conn:
        assert [e.event_id for e in list_events(conn, one, EventFilter(), None, 20) if e.void] == ["u1", "b1"]
    migrate.downgrade(database, "0027")
    assert keys()[0] == ("events_pkey" if postgresql else pk)
    database.dispose()


def test_sessions_of_0028_are_found_by_start_day_from_0029(empty_url: str) -> None:
    """0029 indexes PostgreSQL's sessions by the day of their start (``sessions_by_start_day``),
    where a concurrent report reads the days after the packed weeks. A database taken back to
    0028 upgrades with every report as of every instant as before; SQLite is unchanged."""
    database = Database(empty_url)
    migrate.upgrade(database)
    two = _two_logs(database)
    before = two.seen()

    migrate.downgrade(database, "0028")
    assert "sessions_by_start_day" not in _index_names(database, "sessions")
    migrate.upgrade(database)
    assert ("sessions_by_start_day" in _index_names(database, "sessions")) == (database.engine.dialect.name == "postgresql")
    assert two.seen() == before
    database.dispose()


def test_leases_of_0029_hold_back_any_computation_and_name_theirs_from_0030(empty_url: str) -> None:
    """0030 names what a stored report's lease is computing under (``computing_under``). A
    lease taken before it has none and holds back every computation of its version, as
    before; the reports stored are served as before, and the downgrade drops the column."""
    from conftest import INGESTED_AT

    from billable.store import stored_reports
    from billable.store.stored_reports import ReportKey
    from billable.store.tables import computed_reports

    database = Database(empty_url)
    migrate.upgrade(database)
    two = _two_logs(database)
    one = two.orgs["one"]
    before = two.seen()
    key = ReportKey(one, "billableusage", 0, 1)
    migrate.downgrade(database, "0029")
    with database.write() as conn:  # a lease of 0029's code, on the organization's current version
        conn.exec_driver_sql(
            "INSERT INTO computed_reports (org_id, kind, period_start, period_end, subject, computing_version, "
            f"computing_since) VALUES ({'%s' if conn.dialect.name == 'postgresql' else '?'}, 'billableusage', 0, 1, '', "
            f"100, {INGESTED_AT})", (one if conn.dialect.name == "postgresql" else uuid.UUID(one).bytes,))
    migrate.upgrade(database)
    with database.write() as conn:
        assert conn.execute(select(computed_reports.c.computing_under).where(computed_reports.c.org_id == one)
                            ).scalar_one() is None
        assert not stored_reports.claim(conn, key, 100, "any", INGESTED_AT + 1, 60_000)  # held back, as before
        assert stored_reports.claim(conn, key, 100, "any", INGESTED_AT + 60_000, 60_000)  # once it has run out
    assert two.seen() == before
    migrate.downgrade(database, "0029")
    with database.engine.connect() as conn:
        assert "computing_under" not in {c["name"] for c in inspect(conn).get_columns("computed_reports")}
    database.dispose()


def test_names_of_0030_compare_by_their_bytes_from_0031(empty_url: str) -> None:
    """0031 gives PostgreSQL's names (ids, subjects, users, products, devices, sources, emails,
    non-ASCII ones included) the collation ``"C"``, as the tables module declares them; a
    database taken back to 0030 has the database's collation, and upgrades with every report as
    of every instant, the listings, explanations and a closed period's changes as before; SQLite
    is unchanged."""
    database = Database(empty_url)
    migrate.upgrade(database)
    two = _two_logs(database)
    before = two.seen()
    with database.engine.connect() as conn:
        declared = _declared_collated(conn.dialect)
    assert bool(declared) == (database.engine.dialect.name == "postgresql")
    migrate.downgrade(database, "0030")
    with database.engine.connect() as conn:
        assert _collated(conn) == set()
    migrate.upgrade(database)
    with database.engine.connect() as conn:
        assert _collated(conn) == declared
    assert two.seen() == before
    database.dispose()


def test_the_log_of_0031_loses_its_index_of_device_activity_in_0032(empty_url: str) -> None:
    """0032 drops ``events_device_activity`` (a device's first activity in a period's part days
    comes from ``device_days`` and the subject index); a database taken back to 0031 has it
    again, and upgrades with every report as of every instant, the listings, explanations and a
    closed period's changes as before."""
    database = Database(empty_url)
    migrate.upgrade(database)
    two = _two_logs(database)
    before = two.seen()

    assert "events_device_activity" not in _index_names(database, "events")
    assert "events_by_day" in _index_names(database, "events")
    migrate.downgrade(database, "0031")
    assert "events_device_activity" in _index_names(database, "events")
    migrate.upgrade(database)
    assert "events_device_activity" not in _index_names(database, "events")
    assert two.seen() == before
    database.dispose()


def test_sessions_of_0032_are_found_by_week_from_0033(empty_url: str) -> None:
    """0033 files PostgreSQL's sessions by user and week of their end (``sessions_by_week``) in
    place of the key ``(org_id, user_id, ended_at)``, and lets logical replication identify a
    row by all its columns; SQLite's sessions are filed by that key and unchanged. A database
    taken back to 0032 upgrades with every report as of every instant as before, and its
    sessions go on: a void takes a login's session out, a late logout closes one; the
    downgrade gives the key back with its ``INCLUDE``d columns."""
    from conftest import CATALOG, INGESTED_AT, event

    from billable.rules.instants import parse_instant
    from billable.rules.voids import VoidRequest
    from billable.service.ingestion import ingest
    from billable.service.voids import void_events
    from billable.store import tables

    database = Database(empty_url)
    migrate.upgrade(database)
    two = _two_logs(database)
    one = two.orgs["one"]
    before = two.seen()
    postgresql = database.engine.dialect.name == "postgresql"

    def filed() -> tuple[tuple[str, ...], bool, str | None]:
        with database.engine.connect() as conn:
            key = tuple(inspect(conn).get_pk_constraint("sessions")["constrained_columns"])
            identity = conn.exec_driver_sql("SELECT relreplident FROM pg_class WHERE relname = 'sessions'").scalar() \
                if postgresql else None
        return key, "sessions_by_week" in _index_names(database, "sessions"), identity

    migrate.downgrade(database, "0032")
    assert filed() == (("org_id", "user_id", "ended_at"), False, "d" if postgresql else None)
    migrate.upgrade(database)
    assert filed() == (((), True, "f") if postgresql else (("org_id", "user_id", "ended_at"), False, None))
    assert two.seen() == before

    def sessions(user: str) -> list[tuple[int, int]]:
        c = tables.sessions.c
        with database.read() as conn:
            return [tuple(row) for row in conn.execute(
                select(c.started_at, c.ended_at).where(c.org_id == one, c.user_id == user).order_by(c.ended_at))]

    with database.write() as conn:
        void_events(conn, one, [VoidRequest("urn:test", "b1", "twice")], "tester", INGESTED_AT + 4_000)
        ingest(conn, one, [event("user.logout", "ann", "2026-09-21T08:00:00Z", id="s2", email="ann@x")], CATALOG,
               INGESTED_AT + 5_000)
    assert sessions("bob") == []
    assert sessions("ann") == [(parse_instant("2026-09-20T08:00:00Z"), parse_instant("2026-09-21T08:00:00Z"))]
    migrate.downgrade(database, "0032")
    assert sessions("ann") == [(parse_instant("2026-09-20T08:00:00Z"), parse_instant("2026-09-21T08:00:00Z"))]
    assert filed()[0] == ("org_id", "user_id", "ended_at")
    if postgresql:  # the key carries its start and sequence again
        with database.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT indnatts, indnkeyatts FROM pg_index "
                                        "WHERE indexrelid = 'sessions_pkey'::regclass").one() == (5, 3)
    database.dispose()


def _index_names(database: Database, table: str) -> set[str]:
    with database.engine.connect() as conn:
        return {index["name"] for index in inspect(conn).get_indexes(table) if index["name"]}
