"""Reports computed once across processes, served from the store until an event arrives."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

import pytest
from conftest import CATALOG, INGESTED_AT, Clock, MakeClient, MakeOrg, bearer, event, new_client

from billable.rules.instants import Period
from billable.rules.json_text import compact_json
from billable.rules.report import BillableUsageReport
from billable.service.report_desk import DeskSettings, ReportDesk
from billable.service.report_requests import BILLABLE_USAGE
from billable.wire.writers import REPORT_WRITERS, api_body

OCTOBER = Period.parse("2026-10-01", "2026-11-01")


def wait_complete(desk: ReportDesk, org_id: str) -> str:
    for _ in range(200):
        answer = desk.billable_usage(org_id, OCTOBER)
        if answer.status == "Complete":
            return answer.body.text
        time.sleep(0.02)
    raise AssertionError("never completed")


def wait_stored(database: Any, org_id: str, body: str) -> None:
    """Until ``body`` is in the store: a computed body is stored after it is answered."""
    from sqlalchemy import select

    from billable.store.tables import computed_reports

    for _ in range(200):
        with database.read() as conn:
            if conn.execute(select(computed_reports.c.body).where(computed_reports.c.org_id == org_id)).scalar() == body:
                return
        time.sleep(0.02)
    raise AssertionError("never stored")


def test_one_computation_for_identical_requests(make_org: MakeOrg) -> None:
    org = make_org()
    org.ingest([event("license.assigned", "ann", "2026-09-01T00:00:00Z", product="cx1"),
                event("user.login", "ann", "2026-10-02T08:00:00Z")])
    # Two desks on one database stand for two server processes.
    first, second = (ReportDesk(org.database, CATALOG, Clock(INGESTED_AT), DeskSettings(budget_seconds=0),
                                REPORT_WRITERS)
                     for _ in range(2))
    answers = []
    threads = [threading.Thread(target=lambda d=desk: answers.append(d.billable_usage(org.id, OCTOBER)))
               for desk in (first, second, first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    body = wait_complete(second, org.id)
    assert wait_complete(first, org.id) == body
    # Four answers, each the finished report or the InProgress body of the same report.
    pending = compact_json(api_body(org.id, BillableUsageReport(OCTOBER, ()), "InProgress")).decode()
    assert len(answers) == 4
    for answer in answers:
        assert (answer.status, answer.body.text) in {("Complete", body), ("InProgress", pending)}
    assert first.computations + second.computations == 1
    # A new event makes the stored report stale: exactly one more computation.
    org.ingest([event("license.assigned", "bob", "2026-09-01T00:00:00Z", product="cx2"),
                event("user.login", "bob", "2026-10-03T08:00:00Z")])
    assert '"cx2"' in wait_complete(first, org.id) and '"cx2"' not in body
    assert '"cx2"' in wait_complete(second, org.id)
    assert first.computations + second.computations == 2
    first.close()
    second.close()


class Inline(Executor):
    """Runs each task before ``submit`` returns: a report computed before the desk looks again."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        done: Future[Any] = Future()
        try:
            done.set_result(fn(*args, **kwargs))
        except BaseException as error:
            done.set_exception(error)
        return done


def test_a_report_computed_at_once_is_answered(make_org: MakeOrg) -> None:
    """A computation can end before its start is over (a small report, an idle worker): it
    was then forgotten under the lock that started it, and that request and every later one
    waited for good (CI, 2026-12-05: a request past 60 s, a server that would not stop)."""
    org = make_org()
    org.ingest([event("license.assigned", "ann", "2026-09-01T00:00:00Z", product="cx1"),
                event("user.login", "ann", "2026-10-02T08:00:00Z")])
    desk = ReportDesk(org.database, CATALOG, Clock(INGESTED_AT), DeskSettings(), REPORT_WRITERS)
    desk._executor = Inline()  # the stdlib's executor contract, at its fastest
    answers: list[str] = []
    asking = threading.Thread(target=lambda: answers.extend(desk.billable_usage(org.id, OCTOBER).status
                                                            for _ in range(2)), daemon=True)
    asking.start()
    asking.join(timeout=10)
    assert not asking.is_alive() and answers == ["Complete", "Complete"]
    assert desk.computations == 1


def test_a_period_not_over_is_recomputed_as_time_passes(make_org: MakeOrg) -> None:
    org = make_org("hourly")
    org.ingest([event("license.assigned", "ann", "2026-09-01T00:00:00Z", product="cx1"),
                event("user.login", "ann", "2026-10-02T08:00:00Z")])
    clock = Clock(Period.parse("2026-10-02T09:00:00Z", "2026-10-03").start)
    desk = ReportDesk(org.database, CATALOG, clock, DeskSettings(live_max_age_seconds=10), REPORT_WRITERS)
    hours = lambda: desk.billable_usage(org.id, OCTOBER).body.text.split('"totalUsage":"')[1].split('"')[0]  # noqa: E731
    assert hours() == "1.00"
    clock.now += 5_000
    assert hours() == "1.00"  # served from the store: younger than 10 s
    clock.now += 30 * 60_000
    assert hours() == "1.50"  # stale by age: recomputed with the open session grown
    desk.close()


def test_access_log_has_one_line_per_request(make_org: MakeOrg, make_client: MakeClient, caplog: pytest.LogCaptureFixture) -> None:
    import json

    org = make_org()
    client = make_client()
    headers = bearer(client, *new_client(org.database, org.id))
    with caplog.at_level(logging.INFO, logger="billable.access"):
        client.get("/api/v2/billing/reports/billableusage", params={"startDate": "2026-10-01", "endDate": "2026-11-01"},
                   headers={**headers, "ININ-Correlation-Id": "abc-123"})
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "billable.access"]
    assert len(lines) == 1
    line = lines[0]
    assert line["org"] == org.id and line["status"] == 200 and line["correlationId"] == "abc-123"
    assert line["route"] == "/api/v2/billing/reports/billableusage" and line["method"] == "GET"
    assert line["durationMs"] > 0


def test_a_body_is_read_from_the_store_only_when_it_changed(make_org: MakeOrg) -> None:
    from sqlalchemy import update

    from billable.store.tables import computed_reports

    org = make_org()
    org.ingest([event("license.assigned", "ann", "2026-09-01T00:00:00Z", product="cx1"),
                event("user.login", "ann", "2026-10-02T08:00:00Z")])
    holder, other = (ReportDesk(org.database, CATALOG, Clock(INGESTED_AT), DeskSettings(), REPORT_WRITERS)
                     for _ in range(2))
    body = wait_complete(holder, org.id)
    wait_stored(org.database, org.id, body)
    # The stored text changes under the same stamp: a desk holding the body does not read it again …
    with org.database.write() as conn:
        conn.execute(update(computed_reports).where(computed_reports.c.org_id == org.id).values(body="{}"))
    assert holder.billable_usage(org.id, OCTOBER).body.text == body
    assert other.billable_usage(org.id, OCTOBER).body.text == "{}"  # … a desk that holds none reads it
    # A new event: both compute or read the new version, never the held one.
    org.ingest([event("user.login", "bob", "2026-10-03T08:00:00Z"),
                event("license.assigned", "bob", "2026-09-01T00:00:00Z", product="cx2")])
    assert '"cx2"' in wait_complete(holder, org.id) and '"cx2"' in wait_complete(other, org.id)
    assert holder.computations + other.computations == 2
    holder.close()
    other.close()


def test_bodies_held_in_memory_stay_within_the_budget(make_org: MakeOrg) -> None:
    org = make_org()
    org.ingest([event("license.assigned", "ann", "2026-09-01T00:00:00Z", product="cx1"),
                event("user.login", "ann", "2026-10-02T08:00:00Z")])
    desk = ReportDesk(org.database, CATALOG, Clock(INGESTED_AT), DeskSettings(memory_bytes=1_000), REPORT_WRITERS)
    days = [Period.parse(f"2026-10-{d:02d}", f"2026-10-{d + 1:02d}") for d in range(1, 21)]
    for day in days:
        assert desk.answer(BILLABLE_USAGE, org.id, day).status == "Complete"
    assert 0 < desk.held_bytes() <= 1_000 and len(desk._bodies) < len(days)
    desk.close()


def test_a_lease_under_the_old_licensing_model_holds_back_no_computation_under_the_new(make_org: MakeOrg) -> None:
    """A report computed under the organization's licensing model, while another process still
    holds the lease of its computation under the model before (the benchmark's first requests
    waited for it, a poll at a time), is computed at once; and that older computation, once
    stored, leaves the newer one's lease alone."""
    from sqlalchemy import select

    from billable.service.organizations import change_model
    from billable.store import stored_reports
    from billable.store.organizations import get_organization
    from billable.store.stored_reports import ReportKey, Stamp
    from billable.store.tables import computed_reports

    org = make_org("named")
    org.ingest([event("license.assigned", "ann", "2026-09-01T00:00:00Z", product="cx1"),
                event("user.login", "ann", "2026-10-02T08:00:00Z")])
    desk = ReportDesk(org.database, CATALOG, Clock(INGESTED_AT), DeskSettings(budget_seconds=0), REPORT_WRITERS)
    desk._executor = Inline()
    key, under = ReportKey(org.id, BILLABLE_USAGE.name, OCTOBER.start, OCTOBER.end), desk._under[BILLABLE_USAGE.name]
    with org.database.read() as conn:
        version = get_organization(conn, org.id).last_seq
    assert version == 2
    with org.database.write() as conn:  # another process computes the named report, and goes on doing so
        assert stored_reports.claim(conn, key, version, under["named"], INGESTED_AT, desk.lease_ms)
        assert not stored_reports.claim(conn, key, version, under["named"], INGESTED_AT, desk.lease_ms)
        change_model(conn, org.id, "concurrent")
    answer = desk.billable_usage(org.id, OCTOBER)
    assert answer.status == "Complete" and desk.computations == 1

    def lease() -> tuple[object, ...]:
        with org.database.read() as conn:
            c = computed_reports.c
            return tuple(conn.execute(select(c.computing_version, c.computing_under).where(c.org_id == org.id)).one())

    with org.database.write() as conn:  # the concurrent report leased again, then the named one stored
        assert stored_reports.claim(conn, key, version + 1, under["concurrent"], INGESTED_AT, desk.lease_ms)
        stored_reports.store_body(conn, key, Stamp(version, None, under["named"]), "{}", under["named"])
    assert lease() == (version + 1, under["concurrent"])  # still the concurrent report's
    desk.close()
