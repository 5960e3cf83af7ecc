"""Reports as of an earlier instant: exactly the report of the log's prefix acknowledged by
then, without the voids that came later; against the reference, on both databases."""

from __future__ import annotations

from conftest import CATALOG, INGESTED_AT, event
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from reference import reference_report
from sqlalchemy import update
from test_engine_properties import LATER, across_weeks, load_scenario, scenarios

from billable.rules.catalog import LicensingModel
from billable.rules.events import validate_events
from billable.rules.instants import DAY_MS, HOUR_MS, Period, parse_instant
from billable.rules.voids import VoidRequest
from billable.service.ingestion import ingest
from billable.service.reports import billable_usage_report
from billable.service.voids import void_events
from billable.store.organizations import get_organization
from billable.store.tables import organizations

STEP = 1_000  # ms between arrivals


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(scenario=scenarios(), choices=st.data())
def test_a_report_as_of_an_instant_is_the_report_of_what_had_arrived(database, scenario, choices):
    _as_of_is_the_report_of_what_had_arrived(database, scenario, choices, INGESTED_AT)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(scenario=across_weeks(), choices=st.data())
def test_a_report_as_of_an_instant_across_packed_weeks_is_the_report_of_what_had_arrived(database, scenario, choices):
    """As above, over weeks the log has passed: their sessions are packed, and a report as of
    an instant reads those that no batch or void changed since from the packed weeks
    (store/session_weeks.py: ``unchanged_before``), late events and voids among them."""
    _as_of_is_the_report_of_what_had_arrived(database, scenario, choices, LATER)


def _as_of_is_the_report_of_what_had_arrived(database, scenario, choices, received_from):
    model, period, batches, now = scenario
    org, _, _, _, _ = load_scenario(database, (model, period, [], now))
    arrived: list[tuple[int, list[dict]]] = []  # (instant, batch)
    voids: list[tuple[int, tuple[str, str]]] = []  # (instant, key)
    stored: dict[tuple[str, str], None] = {}
    clock = received_from
    for batch in batches:
        clock += STEP
        with database.write() as conn:
            ingest(conn, org.id, batch, CATALOG, clock)
        arrived.append((clock, batch))
        for e in batch:
            stored.setdefault((e["source"], e["id"]), None)
        open_keys = [key for key in stored if key not in {k for _, k in voids}]
        if open_keys and choices.draw(st.booleans()):
            clock += STEP
            chosen = choices.draw(st.lists(st.sampled_from(open_keys), min_size=1, max_size=3, unique=True))
            with database.write() as conn:
                void_events(conn, org.id, [VoidRequest(s, i, "drawn") for s, i in chosen], "tester", clock)
            voids += [(clock, key) for key in chosen]
    as_of = choices.draw(st.integers(received_from - STEP, clock + STEP))
    # The history of the derived state starts at an organization's upgrade to 0009: before
    # it, a report as of an instant walks the log again. Drawn here as if upgraded then.
    with database.write() as conn:
        last = get_organization(conn, org.id).last_seq
        history_since = choices.draw(st.integers(0, last))
        conn.execute(update(organizations).where(organizations.c.id == org.id).values(history_since=history_since))
    note(f"as_of={as_of} arrivals={[t for t, _ in arrived]} voids={voids} history_since={history_since}")
    prefix = [e for instant, batch in arrived if instant <= as_of for e in batch]
    voided = frozenset(key for instant, key in voids if instant <= as_of)
    expected = reference_report(validate_events(prefix, CATALOG, received_from), CATALOG, LicensingModel(model), period,
                                min(now, as_of), voided)
    with database.read() as conn:
        engine = billable_usage_report(conn, get_organization(conn, org.id), period, CATALOG, now, as_of=as_of)
    assert engine == expected


def test_the_routes_sdk_and_command_line_read_a_report_as_of_an_instant(make_org, make_client, database, tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    from conftest import Clock, bearer, event, new_client

    from billable.rules.instants import HOUR_MS, format_instant

    org = make_org("concurrent")
    t1, t2, t3 = INGESTED_AT, INGESTED_AT + HOUR_MS, INGESTED_AT + 2 * HOUR_MS
    org.ingest([event("license.assigned", u, "2026-10-01T00:00:00Z", id=f"l-{u}", product="cx1") for u in ("ann", "bob")]
               + [event("user.login", "ann", "2026-10-02T08:00:00Z", id="a1", email="ann@x.com")], now=t1)
    org.ingest([event("user.login", "bob", "2026-10-02T09:00:00Z", id="b1")], now=t2)
    with database.write() as conn:
        void_events(conn, org.id, [VoidRequest("urn:test", "a1", "wrong")], "tester", t3)
    client = make_client(Clock(t3 + HOUR_MS))
    headers = bearer(client, *new_client(database, org.id))
    october = {"startDate": "2026-10-01T00:00:00Z", "endDate": "2026-11-01T00:00:00Z"}

    def cx1(path="/api/v2/billing/reports/billableusage", **params):
        answer = client.get(path, params={**october, **params}, headers=headers)
        assert answer.status_code == 200, answer.text
        return {u["name"]: sorted(r["name"] for r in u["resources"]) for u in answer.json()["usages"]}.get("cx1")

    assert cx1() == ["bob"]  # now: ann's login is voided
    assert cx1(asOf=format_instant(t1)) == ["ann@x.com"]  # only the first batch had arrived
    assert cx1(asOf=format_instant(t2 + 1)) == ["ann@x.com", "bob"]  # the void came later
    assert cx1(asOf=format_instant(t3)) == ["bob"]
    peaks = client.get("/api/v2/billing/reports/concurrentusage", params={**october, "asOf": format_instant(t2)},
                       headers=headers).json()
    assert [p["peak"] for p in peaks["products"] if p["name"] == "cx1"] == [2]
    explained = client.get("/api/v2/billing/reports/billableusage/explain",
                           params={**october, "userId": "ann", "asOf": format_instant(t1)}, headers=headers).json()
    assert explained["displayName"] == "ann@x.com" and explained["billed"] is True
    now_explained = client.get("/api/v2/billing/reports/billableusage/explain", params={**october, "userId": "ann"},
                               headers=headers).json()
    assert now_explained["billed"] is False  # her only login is voided now
    for bad, code in ((format_instant(t3 + 2 * HOUR_MS), "in.future"), ("2020-01-01T00:00:00Z", "before.organization"),
                      ("yesterday", None)):
        answer = client.get("/api/v2/billing/reports/billableusage", params={**october, "asOf": bad}, headers=headers)
        assert answer.status_code == 400, answer.text
        if code:
            assert [(d["fieldName"], d["errorCode"]) for d in answer.json()["details"]] == [("asOf", code)]
    program = str(Path(sys.executable).with_name("billable"))
    done = subprocess.run([program, "--database", database.url, "report", "--org", org.id, "--start", "2026-10-01",
                           "--end", "2026-11-01", "--as-of", format_instant(t1)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert [u["totalUsage"] for u in json.loads(done.stdout)["usages"] if u["name"] == "cx1"] == ["1"]


def test_the_sdk_asks_for_a_report_as_of_an_instant(make_org, database):
    from conftest import event, new_client, running_server

    from billable.client import ApiClient, BillingApi
    from billable.rules.instants import HOUR_MS, format_instant

    org = make_org()
    org.ingest([event("license.assigned", "ann", "2026-10-01T00:00:00Z", product="cx1"),
                event("user.login", "ann", "2026-10-02T08:00:00Z")], now=INGESTED_AT)
    org.ingest([event("license.assigned", "bob", "2026-10-01T00:00:00Z", product="cx1"),
                event("user.login", "bob", "2026-10-02T08:00:00Z")], now=INGESTED_AT + HOUR_MS)
    client_id, secret = new_client(database, org.id)
    with running_server(database.url) as base, ApiClient(host=base).login_client_credentials(client_id, secret) as api:
        billing = BillingApi(api)
        then = billing.get_billing_reports_billableusage("2026-10-01", "2026-11-01", as_of=format_instant(INGESTED_AT))
        now = billing.get_billing_reports_billableusage("2026-10-01", "2026-11-01")
    assert {u.name: int(u.total_usage) for u in then.usages}["cx1"] == 1
    assert {u.name: int(u.total_usage) for u in now.usages}["cx1"] == 2


def test_one_operation_answers_every_report_request(make_org):
    """``answer_report``, which the desk, the routes and the command line call: it refuses an
    asOf that no report was said at, answers a closed period with its kept report, and a
    closed period as of an instant with what was said then."""
    from typing import Any

    import pytest
    from conftest import event

    from billable.rules.errors import InvalidInput
    from billable.rules.instants import HOUR_MS, Period, parse_instant
    from billable.service.periods import close_period
    from billable.service.report_requests import BILLABLE_USAGE, CONCURRENT_USAGE, ReportKind, answer_report

    org = make_org("concurrent")
    org.ingest([event("license.assigned", "ann", "2026-09-01T00:00:00Z", product="cx1"),
                event("user.login", "ann", "2026-10-02T08:00:00Z")])
    october = Period(parse_instant("2026-10-01T00:00:00Z"), parse_instant("2026-11-01T00:00:00Z"))
    now = INGESTED_AT + HOUR_MS
    with org.database.write() as conn:
        close_period(conn, org.id, october, CATALOG, now, "test")
    org.ingest([event("license.assigned", "bob", "2026-09-01T00:00:00Z", product="cx1"),
                event("user.login", "bob", "2026-10-03T08:00:00Z")], now=now + HOUR_MS)
    with org.database.read() as conn:
        found = get_organization(conn, org.id)
        kinds: tuple[ReportKind[Any], ...] = (BILLABLE_USAGE, CONCURRENT_USAGE)
        for kind in kinds:
            for wrong in (now + 3 * HOUR_MS, found.created_at - 1):
                with pytest.raises(InvalidInput) as refused:
                    answer_report(conn, kind, found, october, CATALOG, now + 2 * HOUR_MS, wrong)
                assert refused.value.problems[0].field_name == "asOf"
        kept = answer_report(conn, BILLABLE_USAGE, found, october, CATALOG, now + 2 * HOUR_MS)
        assert kept.closed is not None and kept.closed.closed_by == "test"
        assert [u.total_usage for u in kept.figures.usages if u.name == "cx1"] == ["1"]
        then = answer_report(conn, BILLABLE_USAGE, found, october, CATALOG, now + 2 * HOUR_MS, now)
        assert then.closed is None
        assert [len(u.resources) for u in then.figures.usages if u.name == "cx1"] == [1]  # bob came later
        peaks = answer_report(conn, CONCURRENT_USAGE, found, october, CATALOG, now + 2 * HOUR_MS)
        assert peaks.closed is None and peaks.figures.products[0].peak == 2  # never kept: computed now


def test_a_session_closed_in_place_is_open_as_of_before_its_close(make_org, database):
    """A logout later than every event before its batch closes the open session in place: its
    row keeps the sequence it was open from and no retired row is written; a report as of
    between the two batches sees it open, for a period that starts after the logout too. A
    late logout (before the log's latest event) retires the open version as a row of its own."""
    from conftest import event
    from sqlalchemy import select

    from billable.rules.instants import HOUR_MS, Period, parse_instant
    from billable.store.tables import RETIRED, sessions

    org = make_org("concurrent")
    t1, t2, t3, t4 = (INGESTED_AT + n * HOUR_MS for n in range(4))
    products = [event("license.assigned", u, "2026-10-01T00:00:00Z", id=f"l-{u}", product="cx1") for u in ("ann", "bob")]
    org.ingest([*products, event("user.login", "ann", "2026-10-03T08:00:00Z", id="a1"),
                event("user.login", "bob", "2026-10-03T09:00:00Z", id="b1")], now=t1)
    org.ingest([event("user.login", "cy", "2026-10-05T09:00:00Z", id="c1")], now=t2)
    # Bob's logout is later than every event before its batch; ann's is late: before cy's login.
    org.ingest([event("user.logout", "ann", "2026-10-04T17:00:00Z", id="a2"),
                event("user.logout", "bob", "2026-10-06T17:00:00Z", id="b2")], now=t3)
    with database.read() as conn:
        rows = {user: (opened, created) for user, opened, created in conn.execute(
            select(sessions.c.user_id, sessions.c.open_seq, sessions.c.created_seq)
            .where(sessions.c.org_id == org.id, sessions.c.ended_at < 2**63 - 1))}
        retired = {user for user, in conn.execute(
            select(RETIRED[sessions].c.user_id).where(RETIRED[sessions].c.org_id == org.id))}
    assert rows["bob"][0] is not None and rows["bob"][0] < rows["bob"][1]  # open from batch 1, closed in batch 3
    assert rows["ann"][0] is None and retired == {"ann"}
    # As of each instant, for October and for a period after the logouts (Oct 10 to Nov 1).
    arrived = [(t1, ["a1", "b1"]), (t2, ["c1"]), (t3, ["a2", "b2"])]
    every = {e["id"]: e for e in [*products, *(event(k, u, t, id=i) for k, u, t, i in (
        ("user.login", "ann", "2026-10-03T08:00:00Z", "a1"), ("user.login", "bob", "2026-10-03T09:00:00Z", "b1"),
        ("user.login", "cy", "2026-10-05T09:00:00Z", "c1"), ("user.logout", "ann", "2026-10-04T17:00:00Z", "a2"),
        ("user.logout", "bob", "2026-10-06T17:00:00Z", "b2")))]}
    for as_of in (t1, t2, t3, t4):
        prefix = [*products, *(every[i] for instant, ids in arrived if instant <= as_of for i in ids)]
        for period in (Period(parse_instant("2026-10-01T00:00:00Z"), parse_instant("2026-11-01T00:00:00Z")),
                       Period(parse_instant("2026-10-10T00:00:00Z"), parse_instant("2026-11-01T00:00:00Z"))):
            expected = reference_report(validate_events(prefix, CATALOG, INGESTED_AT), CATALOG,
                                        LicensingModel.CONCURRENT, period, as_of, frozenset())
            with database.read() as conn:
                found = billable_usage_report(conn, get_organization(conn, org.id), period, CATALOG, t4, as_of=as_of)
            assert found == expected, (as_of, period)
    later = Period(parse_instant("2026-10-10T00:00:00Z"), parse_instant("2026-11-01T00:00:00Z"))

    def billed_later(as_of: int) -> set[str]:
        with database.read() as conn:
            report = billable_usage_report(conn, get_organization(conn, org.id), later, CATALOG, t4, as_of=as_of)
        return {r.name for u in report.usages if u.name == "cx1" for r in u.resources}

    assert billed_later(t2) == {"ann", "bob"}  # bob's from his row closed in place, ann's from her retired row
    assert billed_later(t3) == set()


def test_a_session_voided_since_is_read_as_it_was_not_from_the_packed_weeks(make_org, database):
    """A login in a week the log has passed (its sessions packed), voided after an instant:
    the report as of that instant still has its session, which no packed week holds any
    more and no session written since starts before (only its retired row says it changed),
    so the packed weeks are not read for it."""
    p0 = parse_instant("2026-10-01T00:00:00Z")  # a Thursday: a week's first instant
    org = make_org(model="concurrent")
    at = lambda days, hours: p0 + days * DAY_MS + hours * HOUR_MS  # noqa: E731
    log = [event("license.assigned", user, at(-1, 0), id=f"l-{user}", product="cx1") for user in ("ann", "bob")]
    log += [event("user.login", "ann", at(1, 9), id="ann-in"), event("user.logout", "ann", at(1, 17), id="ann-out"),
            event("user.login", "bob", at(1, 10), id="bob-in"), event("user.logout", "bob", at(1, 11), id="bob-out"),
            event("device.active", "e-1", at(21, 0), id="d", deviceType="edge")]  # seals weeks 0-2
    received = at(30, 0)
    with database.write() as conn:
        ingest(conn, org.id, log, CATALOG, received)
    with database.write() as conn:
        void_events(conn, org.id, [VoidRequest(log[2]["source"], "ann-in", "drawn")], "tester", received + STEP)
    period = Period(p0, at(10, 0))
    with database.read() as conn:
        organization = get_organization(conn, org.id)
        then = billable_usage_report(conn, organization, period, CATALOG, received + 2 * STEP, as_of=received)
        now = billable_usage_report(conn, organization, period, CATALOG, received + 2 * STEP)
    arrived = validate_events(log, CATALOG, received)
    assert then == reference_report(arrived, CATALOG, LicensingModel.CONCURRENT, period, received)
    peaks = [report.usage("cx1") for report in (then, now)]
    assert [usage.total_usage if usage else None for usage in peaks] == ["2", "1"]
