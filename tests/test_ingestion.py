"""Ingestion: all or nothing, duplicates skipped forever, late events take their place."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from conftest import CATALOG, INGESTED_AT, MakeOrg, Org, empty_postgresql, event, maintenance_counts
from sqlalchemy import Connection, func, select

from billable.rules.errors import InvalidEvents, NotFound
from billable.rules.instants import DAY_MS, Period, parse_instant
from billable.rules.intervals import OPEN
from billable.service.ingestion import IngestResult, ingest
from billable.service.organizations import create_organization
from billable.service.reports import billable_usage_report
from billable.store.database import Database
from billable.store.organizations import get_organization
from billable.store.tables import events, sessions, users

OCTOBER = Period.parse("2026-10-01", "2026-11-01")
AFTER = parse_instant("2026-11-15T00:00:00Z")


def stored_count(org: Org) -> int:
    with org.database.read() as conn:
        return conn.execute(select(func.count()).select_from(events).where(events.c.org_id == org.id)).scalar_one()


def session_rows(org: Org, user: str) -> list[tuple[int, int]]:
    with org.database.read() as conn:
        query = select(sessions.c.started_at, sessions.c.ended_at).where(
            sessions.c.org_id == org.id, sessions.c.user_id == user
        ).order_by(sessions.c.ended_at)
        return [tuple(row) for row in conn.execute(query)]


def t(text: str) -> int:
    return parse_instant(text)


def test_a_bad_event_stores_nothing(make_org: MakeOrg) -> None:
    org = make_org()
    batch = [event("user.login", "ann", "2026-10-01T08:00:00Z"), event("user.login", "ann", "not a time")]
    with pytest.raises(InvalidEvents) as invalid:
        org.ingest(batch)
    assert [p.index for p in invalid.value.problems] == [1]
    assert stored_count(org) == 0
    assert session_rows(org, "ann") == []


def test_duplicates_inside_and_across_batches(make_org: MakeOrg) -> None:
    org = make_org()
    login = event("user.login", "ann", "2026-10-01T08:00:00Z", id="a")
    logout = event("user.logout", "ann", "2026-10-01T09:00:00Z", id="b")
    assert org.ingest([login, login, logout]) == IngestResult(2, 1)
    assert org.ingest([login, logout]) == IngestResult(0, 2)
    # Same id from another source is another event.
    assert org.ingest([{**login, "source": "urn:other"}]) == IngestResult(1, 0)
    assert stored_count(org) == 3


def test_a_batch_partly_stored_appends_the_rest_in_unbroken_sequence(make_org: MakeOrg) -> None:
    """The log's unique key refuses the whole batch once; the stored key is then looked up
    and only the new events appended, numbered on from the last without a gap."""
    org = make_org()
    first = event("user.login", "ann", "2026-10-01T08:00:00Z", id="a")
    assert org.ingest([first]) == IngestResult(1, 0)
    later = [event("user.logout", "ann", "2026-10-01T09:00:00Z", id="b"),
             event("user.login", "bob", "2026-10-01T09:00:00Z", id="c")]
    assert org.ingest([later[0], first, later[1]]) == IngestResult(2, 1)
    with org.database.read() as conn:
        stored = conn.execute(select(events.c.seq, events.c.event_id).where(events.c.org_id == org.id)
                              .order_by(events.c.seq)).all()
        assert get_organization(conn, org.id).last_seq == 3
    assert [tuple(row) for row in stored] == [(1, "a"), (2, "b"), (3, "c")]
    assert session_rows(org, "ann") == [(t("2026-10-01T08:00Z"), t("2026-10-01T09:00Z"))]


def test_a_batch_partly_stored_among_others_of_its_transaction_derives_only_what_was_stored(make_org: MakeOrg
                                                                                            ) -> None:
    """What a transaction's batches touch is classified while each is stored; a batch that
    repeats a stored key (here with other content, a logout that would end the session
    early) is stored without it, and the intervals come from what was stored, the batches
    before it included."""
    from billable.rules.events import validate_events
    from billable.service.ingestion import store_batches

    org = make_org()
    login = event("user.login", "ann", "2026-10-01T08:00:00Z", id="a")
    batches = [[login, event("user.login", "bob", "2026-10-01T08:00:00Z", id="c")],
               [event("user.logout", "bob", "2026-10-01T10:00:00Z", id="d"),
                {**login, "type": "user.logout", "time": "2026-10-01T08:30:00Z"},
                event("user.logout", "ann", "2026-10-01T09:00:00Z", id="b")],
               [event("user.login", "ann", "2026-10-01T11:00:00Z", id="e")]]
    with org.database.write() as conn:
        assert store_batches(conn, org.id, [validate_events(batch, CATALOG, INGESTED_AT) for batch in batches],
                             INGESTED_AT) == IngestResult(5, 1)
    assert session_rows(org, "ann") == [(t("2026-10-01T08:00Z"), t("2026-10-01T09:00Z")), (t("2026-10-01T11:00Z"), OPEN)]
    assert session_rows(org, "bob") == [(t("2026-10-01T08:00Z"), t("2026-10-01T10:00Z"))]


def test_a_duplicate_with_other_content_changes_nothing(make_org: MakeOrg) -> None:
    org = make_org()
    org.ingest([event("user.login", "ann", "2026-10-01T08:00:00Z", id="a", email="ann@x.com")])
    result = org.ingest([event("user.login", "ann", "2026-10-01T07:00:00Z", id="a", email="other@x.com")])
    assert result == IngestResult(0, 1)
    assert session_rows(org, "ann") == [(t("2026-10-01T08:00Z"), OPEN)]
    with org.database.read() as conn:
        assert conn.execute(select(users.c.email).where(users.c.org_id == org.id)).scalar_one() == "ann@x.com"


def test_a_batch_with_a_stored_key_among_new_events_is_derived_from_what_was_stored(make_org: MakeOrg) -> None:
    """When the log's unique key refuses a batch (a stored key, here a logout that would close
    the session early), its intervals come from what was stored, written at the sequence the
    log reached. (Planning a batch's intervals while the log stores it was tried: a plan of
    the whole batch, kept after the key refused it, closes the session at 08:30;
    docs/performance.md.)"""
    org = make_org()
    login = event("user.login", "ann", "2026-10-01T08:00:00Z", id="a")
    org.ingest([login])
    assert org.ingest([{**login, "type": "user.logout", "time": "2026-10-01T08:30:00Z"},
                       event("user.logout", "ann", "2026-10-01T09:00:00Z", id="b")]) == IngestResult(1, 1)
    assert session_rows(org, "ann") == [(t("2026-10-01T08:00Z"), t("2026-10-01T09:00Z"))]
    with org.database.read() as conn:
        written = conn.execute(select(sessions.c.created_seq, sessions.c.open_seq).where(sessions.c.org_id == org.id))
        assert [tuple(row) for row in written] == [(2, 1)]


def test_a_batch_sent_again_after_a_crash_adds_nothing(make_org: MakeOrg) -> None:
    org = make_org()
    batch = [event("license.assigned", "ann", "2026-09-01T00:00:00Z", product="cx1")]
    batch += [event("user.login", "ann", f"2026-10-0{d}T08:00:00Z") for d in range(1, 8)]
    batch += [event("user.logout", "ann", f"2026-10-0{d}T17:00:00Z") for d in range(1, 8)]
    org.ingest(batch)
    with org.database.read() as conn:
        before = billable_usage_report(conn, get_organization(conn, org.id), OCTOBER, CATALOG, AFTER)
    # The client never saw the answer and sends everything again, in another order.
    assert org.ingest(list(reversed(batch))) == IngestResult(0, len(batch))
    with org.database.read() as conn:
        assert billable_usage_report(conn, get_organization(conn, org.id), OCTOBER, CATALOG, AFTER) == before
    assert stored_count(org) == len(batch)


def test_a_late_event_takes_its_place_by_time(make_org: MakeOrg) -> None:
    org = make_org()
    org.ingest([event("user.login", "ann", "2026-10-01T08:00:00Z"), event("user.logout", "ann", "2026-10-01T12:00:00Z")])
    org.ingest([event("user.login", "ann", "2026-10-01T14:00:00Z")])
    assert session_rows(org, "ann") == [(t("2026-10-01T08:00Z"), t("2026-10-01T12:00Z")), (t("2026-10-01T14:00Z"), OPEN)]
    # A logout from 10:00 arrives late: the first session now ends then.
    org.ingest([event("user.logout", "ann", "2026-10-01T10:00:00Z")])
    assert session_rows(org, "ann")[0] == (t("2026-10-01T08:00Z"), t("2026-10-01T10:00Z"))
    # A login from 06:00 arrives late: the first session now starts then.
    org.ingest([event("user.login", "ann", "2026-10-01T06:00:00Z")])
    assert session_rows(org, "ann") == [
        (t("2026-10-01T06:00Z"), t("2026-10-01T10:00Z")),
        (t("2026-10-01T14:00Z"), OPEN),
    ]


def test_equal_times_keep_arrival_order(make_org: MakeOrg) -> None:
    org = make_org()
    at = "2026-10-01T08:00:00Z"
    org.ingest([event("user.login", "ann", "2026-10-01T07:00:00Z"), event("user.logout", "ann", at)])
    org.ingest([event("user.login", "ann", at)])  # arrived after the logout at the same instant: reopens
    assert session_rows(org, "ann") == [(t("2026-10-01T07:00Z"), t(at)), (t(at), OPEN)]


@contextmanager
def statements_run(database: Database) -> Iterator[list[str]]:
    """The statements run through SQLAlchemy on ``database`` meanwhile: whitespace collapsed,
    their first 60 characters."""
    from sqlalchemy import event as sql_event

    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:  # SQLAlchemy's hook
        statements.append(" ".join(statement.split())[:60])

    sql_event.listen(database.engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        sql_event.remove(database.engine, "before_cursor_execute", seen)


def log_walks(org: Org, batch: list) -> int:
    """How many statements walking the log ingesting ``batch`` ran."""
    with statements_run(org.database) as statements:
        org.ingest(batch)
    return sum(statement.startswith("SELECT events.subject") for statement in statements)


def test_events_after_the_log_extend_their_intervals_without_walking_it(make_org: MakeOrg) -> None:
    org = make_org()
    assert log_walks(org, [event("license.assigned", "ann", "2026-09-01T00:00:00Z", product="cx1"),
                           event("user.login", "ann", "2026-10-01T08:00:00Z")]) == 0
    # At the latest instant stored and after it: the open session continues and closes.
    assert log_walks(org, [event("user.login", "ann", "2026-10-01T08:00:00Z"),
                           event("user.logout", "ann", "2026-10-01T12:00:00Z"),
                           event("license.unassigned", "ann", "2026-10-02T00:00:00Z", product="cx1")]) == 0
    assert session_rows(org, "ann") == [(t("2026-10-01T08:00Z"), t("2026-10-01T12:00Z"))]
    # Before the latest event stored, if only another user's: walked again from the log.
    assert log_walks(org, [event("user.login", "bob", "2026-10-01T09:00:00Z")]) == 1
    assert session_rows(org, "bob") == [(t("2026-10-01T09:00Z"), OPEN)]


def test_a_late_event_meets_a_stored_event_that_changed_nothing(make_org: MakeOrg) -> None:
    """A logout with nothing open changes no interval, yet a login arriving later from before
    it is closed by it: the latest event time counts every event, not only the intervals'."""
    org = make_org()
    org.ingest([event("user.logout", "ann", "2026-10-01T10:00:00Z")])
    assert session_rows(org, "ann") == []
    org.ingest([event("user.login", "ann", "2026-10-01T09:00:00Z")])
    assert session_rows(org, "ann") == [(t("2026-10-01T09:00Z"), t("2026-10-01T10:00Z"))]


def test_latest_email_by_time_names_the_user(make_org: MakeOrg) -> None:
    org = make_org()
    org.ingest([event("user.updated", "ann", "2026-10-05T00:00:00Z", email="new@x.com")])
    org.ingest([event("user.login", "ann", "2026-10-01T00:00:00Z", email="old@x.com")])  # late, older
    with org.database.read() as conn:
        assert conn.execute(select(users.c.email).where(users.c.org_id == org.id)).scalar_one() == "new@x.com"


def test_a_late_email_loses_to_a_later_repeat_of_the_stored_one(make_org: MakeOrg) -> None:
    """The same email again writes nothing, so the stored mark stays at its first event; a
    late email between the two loses all the same (the log has a later one), and one with
    no later email event in the log wins, though the log has later events without one."""
    org = make_org()

    def email() -> str:
        with org.database.read() as conn:
            return conn.execute(select(users.c.email).where(users.c.org_id == org.id)).scalar_one()

    org.ingest([event("user.login", "ann", "2026-10-01T00:00:00Z", email="a@x.com")])
    org.ingest([event("user.login", "ann", "2026-10-03T00:00:00Z", email="a@x.com")])
    org.ingest([event("user.updated", "ann", "2026-10-02T00:00:00Z", email="b@x.com")])  # late, before the repeat
    assert email() == "a@x.com"
    org.ingest([event("user.logout", "ann", "2026-10-06T00:00:00Z")])  # no email
    org.ingest([event("user.updated", "ann", "2026-10-04T00:00:00Z", email="c@x.com")])  # late, latest with one
    assert email() == "c@x.com"


def test_unknown_organization(database: Database) -> None:
    with pytest.raises(NotFound):
        with database.write() as conn:
            ingest(conn, "no-such-org", [event("user.login", "ann", "2026-10-01T08:00:00Z")], CATALOG, AFTER)


def test_organizations_do_not_see_each_other(make_org: MakeOrg) -> None:
    first, second = make_org(), make_org()
    shared = [event("license.assigned", "ann", "2026-09-01T00:00:00Z", product="cx1", id="x"),
              event("user.login", "ann", "2026-10-02T08:00:00Z", id="y")]
    assert first.ingest(shared) == IngestResult(2, 0)
    assert second.ingest(shared) == IngestResult(2, 0)  # same keys in another organization are not duplicates
    second.ingest([event("license.assigned", "ann", "2026-09-01T00:00:00Z", product="cx3")])
    with first.database.read() as conn:
        report = billable_usage_report(conn, get_organization(conn, first.id), OCTOBER, CATALOG, AFTER)
    assert [u.name for u in report.usages] == ["cx1"]


def test_statistics_and_vacuum_follow_the_growth_of_the_log(make_org: MakeOrg, database: Database) -> None:
    """Crossing a doubling point refreshes planner statistics; on PostgreSQL the derived
    tables are then vacuumed after the commit (index-only scans need it)."""
    from sqlalchemy import text

    before = maintenance_counts(database, "sessions")[1] if database.is_postgresql else 0
    org = make_org()
    events = [event("user.login" if n % 2 == 0 else "user.logout", f"u{n % 50}", INGESTED_AT - 10 * DAY_MS + n * 1000)
              for n in range(9_000)]
    with database.write() as conn:  # two doubling points (4,096 and 8,192) in one transaction, as the CLI does
        for batch in (events[:5_000], events[5_000:]):
            ingest(conn, org.id, batch, CATALOG, INGESTED_AT)
    if database.is_postgresql:
        assert maintenance_counts(database, "sessions", lambda _, vacuumed: vacuumed > before)[1] > before
    else:
        with database.read() as conn:
            assert conn.execute(text("SELECT count(*) FROM main.sqlite_stat1 WHERE tbl = 'events'")).scalar_one() > 0


def test_the_packed_weeks_statistics_follow_their_first_seal() -> None:
    """On PostgreSQL a seal that writes more packed weeks than the planner believes
    ``session_weeks`` holds refreshes its statistics (a table planned as empty was scanned
    once for each key a repack seeks); one that writes fewer leaves them."""
    from sqlalchemy import text

    from billable.store import migrate
    from billable.rules.instants import WEEK_MS
    from billable.store.session_weeks import week_of

    week = week_of(INGESTED_AT) - 4 * WEEK_MS

    def worked(users: range, weeks: int) -> list[dict[str, object]]:
        at = week + weeks * WEEK_MS
        return [event(kind, f"u{user}", at + hour * 3_600_000)
                for user in users for hour, kind in ((8, "user.login"), (9, "user.logout"))]

    with empty_postgresql(plain=True) as url:
        database = Database(url)
        try:
            migrate.upgrade(database)
            with database.write() as conn:
                org = Org(database, create_organization(conn, "weeks", "concurrent", INGESTED_AT))

            def believed() -> float:
                with database.read() as conn:
                    return float(conn.execute(text(
                        "SELECT reltuples FROM pg_class WHERE oid = 'session_weeks'::regclass")).scalar_one())

            org.ingest(worked(range(3), 0))
            assert believed() == -1  # nothing sealed yet: never analyzed
            org.ingest(worked(range(2), 1))  # seals the first week: three users' packed weeks
            assert believed() == 3
            org.ingest(worked(range(2), 2))  # seals the second: two, fewer than believed: left as they are
            assert believed() == 3
            with database.read() as conn:
                assert conn.execute(text("SELECT count(*) FROM session_weeks")).scalar_one() == 5
        finally:
            database.dispose()


def test_temporary_tables_do_not_grow_with_the_work_of_a_connection(make_org: MakeOrg, database: Database) -> None:
    """The keys a batch rebuilds, and the users a report reads sessions of, go on SQLite
    through temporary tables that live as long as the connection: what one batch or report
    leaves there must not be read by the next ones. On PostgreSQL they travel inside the
    statements (Citus cannot join a temporary table to a distributed one): no temporary
    table is made at all."""
    from sqlalchemy import text

    from billable.rules.catalog import LicensingModel
    from billable.service.reports import billable_usage_report

    org = make_org("concurrent")

    def size(conn: Connection, table: str) -> int:
        if database.is_postgresql:  # every temporary table of this connection
            return conn.execute(text("SELECT count(*) FROM pg_class WHERE relpersistence = 't'")).scalar_one()
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()

    with database.write() as conn:  # one connection, as the CLI loads a file and a server reuses its connections
        replay = []
        for batch in range(20):  # the same number of keys in every batch
            ingest(conn, org.id, [event(kind, f"u{batch}-{n}", OCTOBER.start + batch * DAY_MS + n, **extra)
                                  for n in range(150) for kind, extra in (("user.login", {}),
                                                                          ("license.assigned", {"product": "cx1"}))],
                   CATALOG, INGESTED_AT)
            replay.append(size(conn, "replay_keys"))
        organization = get_organization(conn, org.id)
        assert organization.model is LicensingModel.CONCURRENT
        charged = []
        for _ in range(5):  # the same report, the same users
            report = billable_usage_report(conn, organization, OCTOBER, CATALOG, INGESTED_AT)
            charged.append(size(conn, "user_keys"))
    assert report.usages and report.usages[0].resources  # users were charged: the tables were used
    if database.is_postgresql:
        assert set(replay) == {0} and set(charged) == {0}
    else:
        assert replay[0] > 0 and set(replay) == {replay[0]}, replay
        assert charged[0] > 0 and set(charged) == {charged[0]}, charged


def test_statistics_are_refreshed_as_soon_as_the_log_doubles(make_org: MakeOrg, database: Database) -> None:
    """Within one commit of several batches, the planner learns the log's size right after
    the batch that doubles it: before the next batch's duplicate check, its emails' look-up
    in the organization's dictionary and the rebuild's walks, which a planner that believes
    the log empty plans as scans of it (a never analyzed ``event_emails`` made PostgreSQL
    filter all of an organization's emails by each of a batch's: 1 s a batch)."""
    from billable.rules.events import validate_events
    from billable.service.ingestion import store_batches
    from billable.store.statistics import FIRST_REFRESH

    org = make_org()
    # A later event first: the logins are then walked from the log, not only extended.
    org.ingest([event("user.logout", "u0", "2026-10-05T08:00:00Z", id="later")])
    logins = [event("user.login", f"u{n}", "2026-10-02T08:00:00Z", id=f"s{n}", email=f"u{n}@x")
              for n in range(FIRST_REFRESH + 10)]
    # The second batch sends one of the first's again: its stored keys are looked up.
    batches = [validate_events(logins[:FIRST_REFRESH], CATALOG, INGESTED_AT),
               validate_events(logins[FIRST_REFRESH:] + logins[:1], CATALOG, INGESTED_AT)]
    with statements_run(database) as statements, database.write() as conn:
        assert store_batches(conn, org.id, batches, INGESTED_AT) == IngestResult(FIRST_REFRESH + 10, 1)
    analyzed = next(i for i, s in enumerate(statements) if s.startswith("ANALYZE"))
    checks = [i for i, s in enumerate(statements) if s.startswith("SELECT events.event_id")]
    walks = [i for i, s in enumerate(statements) if s.startswith("SELECT events.subject")]
    assert checks and analyzed < checks[0] and walks and analyzed < walks[0]
    emails = [i for i, s in enumerate(statements) if s.startswith("SELECT event_emails.email")]
    dictionary = next(i for i, s in enumerate(statements) if s in ("ANALYZE", "ANALYZE event_emails"))
    assert len(emails) == 2 and emails[0] < dictionary < emails[1]  # the second batch's new emails, with statistics


def test_a_late_event_years_before_a_small_analyzed_log_is_walked_to_its_end(empty_url: str) -> None:
    """A walk looks a key's events up a day at a time, from the late event's day to the log's
    latest: here some 3,000 days of one user against a log of a dozen events whose size the
    planner knows. SQLite may then test each day's look-up against a Bloom filter of the log,
    which on 3.40 finds no row through an index on an expression (docs/architecture.md): the
    sessions after the late event must be found all the same."""
    from reference import reference_report

    from billable.rules.catalog import LicensingModel
    from billable.rules.events import validate_events
    from billable.service.organizations import create_organization
    from billable.store import migrate, statistics

    database = Database(empty_url)
    migrate.upgrade(database)
    log = [event("license.assigned", user, "2026-10-01T00:00:00Z", product="cx1") for user in ("ann", "bob")]
    log += [event(kind, user, f"2026-10-0{day}T{hour}:00:00Z") for user in ("ann", "bob") for day in (2, 3)
            for kind, hour in (("user.login", "08"), ("user.logout", "17"))]
    late = [event("user.logout", "ann", "2018-10-01T08:00:00Z"), event("user.login", "ann", "2018-10-01T07:00:00Z")]
    with database.write() as conn:
        org = create_organization(conn, "small", "hourly", INGESTED_AT)
        ingest(conn, org.id, log, CATALOG, INGESTED_AT)
        statistics.refresh(conn)
        ingest(conn, org.id, late, CATALOG, INGESTED_AT + 1_000)
    with database.read() as conn:
        found = billable_usage_report(conn, get_organization(conn, org.id), OCTOBER, CATALOG, AFTER)
    expected = reference_report(validate_events(log + late, CATALOG, INGESTED_AT), CATALOG, LicensingModel.HOURLY,
                                OCTOBER, AFTER, frozenset())
    assert found == expected and found.usages
    database.dispose()


def test_two_processes_keeping_the_numbers_of_emails_store_each_email_as_sent(database: Database, make_org: MakeOrg):
    """Each ``Billing`` (a server process) keeps the numbers its committed batches gave the
    log's sources and emails; another process's numbers are looked up, never guessed: every
    event lists the email it came with, whichever process stored it and in which order."""
    import json

    from billable.service.billing import Billing
    from billable.store.events import EventFilter, list_events

    org = make_org()
    first, second = Billing(database, CATALOG, lambda: INGESTED_AT), Billing(database, CATALOG, lambda: INGESTED_AT)
    sent = []
    for number, (billing, emails) in enumerate([(first, "ab"), (second, "bc"), (first, "cad"), (second, "da"),
                                                 (first, "e")]):
        batch = [event("user.login", f"u{email}", f"2026-10-0{number + 1}T08:00:00Z", id=f"{number}-{email}",
                       email=f"{email}@x.com", source=f"urn:process/{number % 2}") for email in emails]
        assert billing.ingest(org.id, json.dumps(batch).encode(), 100).accepted == len(batch)
        sent += [(e["source"], e["id"], e["data"]["email"]) for e in batch]
    with database.read() as conn:
        stored = [(e.source, e.event_id, e.email) for e in list_events(conn, org.id, EventFilter(), None, 50)]
    assert sorted(stored) == sorted(sent)
    kept = first.numbers.for_transaction(org.id)
    # The first process kept what its batches used, two of them given by the second.
    assert set(kept.emails) == {f"{email}@x.com" for email in "abcde"} and set(kept.sources) == {"urn:process/0"}


def test_the_numbers_kept_are_bounded_the_least_recent_organization_forgotten_first():
    from billable.store.events import CommittedNumbers, Numbered

    numbers = CommittedNumbers(at_most=3)
    numbers.committed("a", Numbered({"s": 1}, {"x@": 1}))
    numbers.committed("b", Numbered({"s": 1}, {"y@": 1}))
    assert numbers.for_transaction("a") == Numbered() and numbers.for_transaction("b") == Numbered({"s": 1}, {"y@": 1})
    copy = numbers.for_transaction("b")
    copy.emails["z@"] = 2  # a transaction's own until it commits
    assert numbers.for_transaction("b").emails == {"y@": 1}
    numbers.committed("c", Numbered({}, {f"{n}@": n for n in range(4)}))  # more than it keeps: none of it
    assert numbers.for_transaction("c") == Numbered()
