"""Sessions packed per user and week (store/session_weeks.py): kept equal to the sessions
through late events and voids, and read by reports over periods that cross weeks."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from typing import Any

import pytest
from conftest import CATALOG, INGESTED_AT, MakeOrg, event, stored_sql
from hypothesis import given
from hypothesis import strategies as st
from reference import reference_concurrent_usage, reference_report

from billable.rules.catalog import LicensingModel
from billable.rules.events import validate_events
from billable.rules.instants import DAY_MS, HOUR_MS, WEEK_MS, Period, parse_instant
from billable.rules.voids import VoidRequest
from billable.service.reports import billable_usage_report, concurrent_usage_report
from billable.service.voids import void_events
from billable.store import direct, session_weeks, sql
from billable.store.database import Database
from billable.store.organizations import get_organization
from billable.store.session_weeks import _changed, pack, unpack, week_of

WEEK = parse_instant("2026-10-01T00:00:00Z")  # a Thursday: weeks from the epoch start on Thursdays


def test_weeks_start_on_the_epochs_weekday() -> None:
    assert week_of(WEEK) == WEEK and week_of(WEEK - 1) == WEEK - WEEK_MS and week_of(WEEK + WEEK_MS - 1) == WEEK


pairs = st.lists(st.tuples(st.integers(0, 50), st.integers(1, 10)), max_size=8).map(
    lambda drawn: sorted({(WEEK + 100 * at, WEEK + 100 * at + length) for at, length in drawn}))


@given(stored=pairs, data=st.data())
def test_changed_bounds_are_the_stored_without_the_gone_with_the_new(stored: list[tuple[int, int]],
                                                                      data: st.DataObject) -> None:
    """Whether by the cut-and-extend of a batch in time order or by unpacking: the same bytes."""
    gone = set(data.draw(st.lists(st.sampled_from(stored), max_size=2) if stored else st.just([])))
    later = max((ended for _, ended in stored), default=WEEK)
    new = data.draw(st.lists(st.tuples(st.integers(-3_000, 3_000), st.integers(1, 5)), max_size=3).map(
        lambda drawn: sorted({(later + at, later + at + length) for at, length in drawn})))
    assert unpack(_changed(pack(stored), gone, new)) == sorted(set(stored) - gone | set(new))


def _packed(database: Database, org_id: str) -> dict[tuple[str, int], list[tuple[int, int]]]:
    with database.read() as conn:
        rows = conn.execute(stored_sql("SELECT user_id, week, bounds FROM session_weeks WHERE org_id = :org"),
                            {"org": org_id}).all()
    return {(user_id, week): unpack(bytes(bounds)) for user_id, week, bounds in rows}


def _sessions_by_week(database: Database, org_id: str, before: int) -> dict[tuple[str, int], list[tuple[int, int]]]:
    found: dict[tuple[str, int], list[tuple[int, int]]] = defaultdict(list)
    with database.read() as conn:
        for user_id, started, ended in conn.execute(stored_sql(
                "SELECT user_id, started_at, ended_at FROM sessions WHERE org_id = :org AND started_at < :before "
                "ORDER BY user_id, ended_at"), {"org": org_id, "before": before}):
            found[(user_id, week_of(started))].append((started, ended))
    return dict(found)


def test_packed_weeks_follow_the_sessions_and_reports_read_them(make_org: MakeOrg, database: Database) -> None:
    """A log over four weeks taken in batches out of order, then a void: the weeks the log's
    latest event has passed hold exactly their sessions, and reports over periods that
    begin mid-week (a session crossing into them from the week before) or reach past the
    packed weeks equal the reference."""
    org = make_org("concurrent")
    log = [event("license.assigned", user, WEEK - 20 * DAY_MS, product="cx1") for user in ("ann", "bob", "cy")]
    for day in range(-3, 17):
        at = WEEK + day * DAY_MS
        log += [event("user.login", "ann", at + 8 * HOUR_MS), event("user.logout", "ann", at + 17 * HOUR_MS),
                event("user.login", "bob", at + 9 * HOUR_MS), event("user.logout", "bob", at + 12 * HOUR_MS)]
    log += [event("user.login", "cy", WEEK - 2 * HOUR_MS), event("user.logout", "cy", WEEK + 9 * DAY_MS)]
    log.append(event("user.login", "cy", WEEK + 12 * DAY_MS))  # still open
    in_order, late = log[::2] + log[-3:], log[1:-3:2]
    org.ingest(in_order[:40])
    org.ingest(in_order[40:])
    org.ingest(late)
    with database.write() as conn:
        void_events(conn, org.id, [VoidRequest("urn:test", log[5]["id"], "test"),
                                   VoidRequest("urn:test", log[30]["id"], "test")], "tester", INGESTED_AT + 1)
    packed = _packed(database, org.id)
    # The weeks the latest event (day 16) has passed: the week before WEEK, and two from it.
    assert packed == _sessions_by_week(database, org.id, WEEK + 2 * WEEK_MS)
    assert {week for _, week in packed} == {WEEK - WEEK_MS, WEEK, WEEK + WEEK_MS}
    valid = [e for e in validate_events(log, CATALOG, INGESTED_AT)
              if e.id not in {log[5]["id"], log[30]["id"]}]
    for start, end in (("2026-10-03T12:00:00Z", "2026-10-13T00:00:00Z"), ("2026-10-09T10:00:00Z", "2026-10-09T11:00:00Z"),
                       ("2026-09-01", "2026-11-01")):
        period = Period.parse(start, end)
        for model in (LicensingModel.CONCURRENT, LicensingModel.HOURLY):
            with database.read() as conn:
                organization = replace(get_organization(conn, org.id), model=model)
                assert billable_usage_report(conn, organization, period, CATALOG, INGESTED_AT + 2) == reference_report(
                    valid, CATALOG, model, period, INGESTED_AT + 2)
                if model is LicensingModel.CONCURRENT:
                    assert concurrent_usage_report(conn, organization, period, CATALOG, INGESTED_AT + 2) == \
                        reference_concurrent_usage(valid, CATALOG, model, period, INGESTED_AT + 2)


def test_the_days_after_the_packed_weeks_count_from_their_first_instant(make_org: MakeOrg, database: Database,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The sessions after the packed weeks are read from the first instant of the running
    week on: one started at that very instant, one from the week before crossing into it,
    and users charged products of two families, each counted in its product's peak as the
    reference counts them."""
    org = make_org("concurrent")
    running = WEEK + WEEK_MS
    log = [event("license.assigned", user, WEEK - DAY_MS, product=product)
           for user, product in (("ann", "cx1"), ("bob", "cx1"), ("cy", "cx1"), ("bob", "wem1"), ("dee", "wem1"))]
    log += [event("user.login", "ann", running), event("user.logout", "ann", running + 2 * HOUR_MS),
            event("user.login", "bob", running + HOUR_MS), event("user.logout", "bob", running + 90 * 60_000),
            event("user.login", "cy", running - HOUR_MS), event("user.logout", "cy", running + 3 * HOUR_MS),
            event("user.login", "dee", running), event("user.logout", "dee", running + 61 * 60_000),
            event("user.login", "dee", running - DAY_MS), event("user.logout", "dee", running - DAY_MS + HOUR_MS)]
    org.ingest(log)
    assert {week for _, week in _packed(database, org.id)} == {WEEK}  # the running week is not packed
    valid = validate_events(log, CATALOG, INGESTED_AT)
    period = Period.parse("2026-10-07T00:00:00Z", "2026-10-10T00:00:00Z")
    expected = reference_report(valid, CATALOG, LicensingModel.CONCURRENT, period, INGESTED_AT + 2)
    # The reference's peaks, so that the comparisons below have something to miss.
    assert {usage.name: usage.total_usage for usage in expected.usages} == {"cx1": "3", "wem1": "2"}
    run: list[tuple[str, Any]] = []
    read_rows = direct.driver_rows

    def recorded(conn: Any, statement: str, parameters: Any, **options: Any) -> Any:  # and run as they are
        run.append((statement, parameters))
        return read_rows(conn, statement, parameters, **options)

    monkeypatch.setattr(sql, "driver_rows", recorded)
    with database.read() as conn:
        organization = get_organization(conn, org.id)
        report = concurrent_usage_report(conn, organization, period, CATALOG, INGESTED_AT + 2)
        assert report == reference_concurrent_usage(valid, CATALOG, LicensingModel.CONCURRENT, period, INGESTED_AT + 2)
        assert billable_usage_report(conn, organization, period, CATALOG, INGESTED_AT + 2) == expected
    if database.engine.dialect.name == "postgresql":  # those days read in one range of the sessions by start day
        by_day = [(statement, parameters) for statement, parameters in run if "sessions.started_at / 86400000" in statement]
        assert by_day
        # Planned as for a history: the organization's sessions of the weeks before, which the
        # key holds in front of the running week's, are thousands (added here, rolled back).
        with database.engine.connect() as conn, conn.begin() as planning:
            conn.exec_driver_sql(
                "INSERT INTO sessions (org_id, user_id, ended_at, started_at) SELECT %s, 'u' || mod(n, 500), "
                f"{WEEK} - n * 60000 + 1000, {WEEK} - n * 60000 FROM generate_series(1, 5000) AS n", (org.id,))
            conn.exec_driver_sql("ANALYZE sessions")
            for statement, parameters in by_day:
                plan = "\n".join(conn.exec_driver_sql(f"EXPLAIN {statement}", parameters).scalars())
                assert "sessions_by_start_day" in plan, plan
            planning.rollback()




def test_a_seal_reads_and_writes_a_few_rows_at_a_time(make_org: MakeOrg, database: Database,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A seal reads the sessions and writes the packed weeks a bounded number at a time
    (the first week sealed holds every session of an organization's first week): a user's
    week whose sessions span two readings is packed whole, and every week is written."""
    monkeypatch.setattr(session_weeks, "_SEALED_AT_ONCE", 3)
    org = make_org("concurrent")
    log = [event(kind, f"u{user}", WEEK + day * DAY_MS + hour * HOUR_MS)
           for user in range(4) for day in range(-9, 9) for hour, kind in ((8 + user, "user.login"), (9 + user, "user.logout"))]
    org.ingest(log[:len(log) // 2])
    org.ingest(log[len(log) // 2:])  # passes three weeks at once: 4 users x 3 weeks, of 2 to 7 sessions each
    packed = _packed(database, org.id)
    assert packed == _sessions_by_week(database, org.id, week_of(WEEK + 8 * DAY_MS))
    assert len(packed) == 4 * 3 and max(len(bounds) for bounds in packed.values()) > 3
