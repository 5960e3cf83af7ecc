"""The engine equals the reference on random event logs, on SQLite and on PostgreSQL.

Logs are drawn around a period: equal timestamps, sessions and holdings crossing the
period's bounds, repeated logins and logouts, periods shorter than 30 minutes, a cut-off
inside or before the period, all three models, devices, duplicates (some with different
content under the same key), arrival out of time order, and any split into batches.
"""

from __future__ import annotations

import uuid

import pytest
from conftest import CATALOG, event
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import reference_report

from billable.rules.catalog import LicensingModel
from billable.rules.events import validate_events
from billable.rules.instants import DAY_MS, HOUR_MS, MINUTE_MS, WEEK_MS, Period, parse_instant
from billable.service.ingestion import ingest, store_batches
from billable.service.organizations import create_organization
from billable.service.reports import billable_usage_report
from billable.store.database import Database
from billable.store.organizations import get_organization
from billable.store.session_weeks import packed_now

P0 = parse_instant("2026-10-01T00:00:00Z")
INGESTED_AT = P0 + 10 * DAY_MS
LENGTHS = [10 * MINUTE_MS, 29 * MINUTE_MS, 30 * MINUTE_MS, 45 * MINUTE_MS, 2 * HOUR_MS, DAY_MS, 3 * DAY_MS]
USERS = ["ann", "bob", "cid"]
DEVICES = [("e-1", "edge"), ("p-1", "phone"), ("v-1", "virtual-edge")]
PRODUCTS = [p.name for p in CATALOG.user_products]


def instants(length: int) -> list[int]:
    """Instants worth trying around ``[P0, P0 + length)``: its bounds, a millisecond either
    side, half-hour marks, and a grid across it."""
    end = P0 + length
    marks = {P0 - 6 * HOUR_MS, P0 - HOUR_MS, P0 - 1, P0, P0 + 1, end - 1, end, end + 1, end + HOUR_MS}
    marks |= {P0 + k * length // 8 for k in range(1, 8)}
    marks |= {P0 + 30 * MINUTE_MS, P0 + 30 * MINUTE_MS - 1, P0 + 30 * MINUTE_MS + 1, end - 30 * MINUTE_MS}
    return sorted(marks)


@st.composite
def scenarios(draw):
    model = draw(st.sampled_from(["named", "concurrent", "hourly"]))
    length = draw(st.sampled_from(LENGTHS))
    times = st.sampled_from(instants(length)) | st.integers(P0 - 2 * HOUR_MS, P0 + length + 2 * HOUR_MS)
    user_event = st.tuples(
        st.sampled_from(["user.login", "user.logout", "user.login", "user.logout", "license.assigned",
                         "license.unassigned", "user.updated"]),
        st.sampled_from(USERS),
        times,
        st.sampled_from(PRODUCTS),
        st.sampled_from([None, "a@x.com", "b@x.com"]),
    )
    device_event = st.tuples(st.just("device.active"), st.sampled_from(DEVICES), times, st.none(), st.none())
    drawn = draw(st.lists(st.one_of(user_event, user_event, user_event, device_event), min_size=4, max_size=40))
    events = []
    # Most users hold something from before the period, so that logins make them billable.
    for user in USERS:
        for product in draw(st.lists(st.sampled_from(PRODUCTS), max_size=2)):
            events.append(event("license.assigned", user, P0 - 6 * HOUR_MS, id=uuid.uuid4().hex, product=product))
    for kind, subject, time, product, email in drawn:
        if kind == "device.active":
            events.append(event(kind, subject[0], time, id=uuid.uuid4().hex, deviceType=subject[1]))
        elif kind in ("license.assigned", "license.unassigned"):
            extra = {"email": email} if email and kind == "license.assigned" else {}
            events.append(event(kind, subject, time, id=uuid.uuid4().hex, product=product, **extra))
        elif kind == "user.updated":
            events.append(event(kind, subject, time, id=uuid.uuid4().hex, email=email or "c@x.com"))
        else:
            events.append(event(kind, subject, time, id=uuid.uuid4().hex, **({"email": email} if email else {})))
    # Whole sessions too, so that users overlap for 30 minutes, or just under, or just over.
    durations = st.sampled_from([0, 1, 10 * MINUTE_MS, 30 * MINUTE_MS - 1, 30 * MINUTE_MS, 31 * MINUTE_MS, 2 * HOUR_MS, None])
    for user, login, duration in draw(st.lists(st.tuples(st.sampled_from(USERS), times, durations), max_size=8)):
        events.append(event("user.login", user, login, id=uuid.uuid4().hex))
        if duration is not None:
            events.append(event("user.logout", user, login + duration, id=uuid.uuid4().hex))
    # Duplicates: the same (source, id) again, sometimes with other content; the first stored wins.
    for index in draw(st.lists(st.integers(0, max(0, len(events) - 1)), max_size=5)) if events else []:
        copy = dict(events[index])
        if draw(st.booleans()):
            copy["time"] = event("user.login", "x", draw(times))["time"]
        events.append(copy)
    arrival = draw(st.permutations(events))
    if draw(st.booleans()):  # as most logs arrive: in time order, so that batches close the intervals left open
        arrival.sort(key=lambda e: parse_instant(e["time"]))
    cuts = sorted(draw(st.lists(st.integers(0, len(arrival)), max_size=4)))
    batches = [arrival[a:b] for a, b in zip([0, *cuts], [*cuts, len(arrival)])]
    now = draw(st.sampled_from([INGESTED_AT, INGESTED_AT, P0 + length // 2 + 7, P0 - HOUR_MS, P0 + 31 * MINUTE_MS]))
    # Sometimes the period starts off midnight: whole UTC days and partial days at both edges.
    start = P0 + draw(st.sampled_from([0, 0, 5 * HOUR_MS + 7]))
    return model, Period(start, start + length), batches, now


def load_scenario(database, scenario, ingested_at=INGESTED_AT):
    """Store a drawn scenario in a new organization, batch by batch; give back the
    organization, the events as validated (in arrival order), the model, period and now."""
    model, period, batches, now = scenario
    with database.write() as conn:
        org = create_organization(conn, "property", model, ingested_at)
    for batch in batches:
        with database.write() as conn:
            ingest(conn, org.id, batch, CATALOG, ingested_at)
    arrival = validate_events([e for batch in batches for e in batch], CATALOG, ingested_at)
    return org, arrival, LicensingModel(model), period, now


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios())
def test_engine_equals_reference(database, scenario):
    org, arrival, model, period, now = load_scenario(database, scenario)
    with database.read() as conn:
        engine = billable_usage_report(conn, get_organization(conn, org.id), period, CATALOG, now)
    assert engine == reference_report(arrival, CATALOG, model, period, now)


LATER = P0 + 8 * WEEK_MS  # when the logs across weeks are ingested


@st.composite
def across_weeks(draw):
    """Sessions over the weeks before a period and in it, the log reaching weeks past it, so
    that the period's first week and the week before are packed (store/session_weeks.py):
    sessions lasting more than a week or left open, a log that begins in the week before
    the period's or weeks earlier, a period from a week's first instant or from within one."""
    model = draw(st.sampled_from(["named", "named", "concurrent", "hourly"]))
    start = P0 + draw(st.sampled_from([0, 0, 3 * DAY_MS + 5 * HOUR_MS, WEEK_MS - 1]))
    length = draw(st.sampled_from([DAY_MS, 10 * DAY_MS]))
    begins = start - draw(st.sampled_from([WEEK_MS // 2, WEEK_MS + DAY_MS, 3 * WEEK_MS]))
    # A product the concurrent and hourly models meter, or one they do not: the packed weeks
    # answer the first sessions, the peaks and the hours.
    product = draw(st.sampled_from([PRODUCTS[0], "cx1"]))
    events = [event("license.assigned", user, begins, id=uuid.uuid4().hex, product=product) for user in USERS]
    marks = [begins, start - WEEK_MS - 1, start - WEEK_MS, start - HOUR_MS, start - 1, start, start + 1,
             start + length - 1, start + length + HOUR_MS]
    times = st.sampled_from(marks) | st.integers(begins, start + length + WEEK_MS)
    durations = st.sampled_from([1, HOUR_MS, 8 * HOUR_MS, 2 * DAY_MS, WEEK_MS + 1, 3 * WEEK_MS, None])
    for user, login, duration in draw(st.lists(st.tuples(st.sampled_from(USERS), times, durations), max_size=12)):
        events.append(event("user.login", user, login, id=uuid.uuid4().hex))
        if duration is not None:
            events.append(event("user.logout", user, login + duration, id=uuid.uuid4().hex))
    # The log reaches weeks past the period: its weeks are sealed.
    events.append(event("device.active", "e-1", start + length + 2 * WEEK_MS, id=uuid.uuid4().hex, deviceType="edge"))
    arrival = draw(st.permutations(events))
    if draw(st.booleans()):
        arrival.sort(key=lambda e: parse_instant(e["time"]))
    cuts = sorted(draw(st.lists(st.integers(0, len(arrival)), max_size=3)))
    batches = [arrival[a:b] for a, b in zip([0, *cuts], [*cuts, len(arrival)])]
    return model, Period(start, start + length), batches, LATER


@pytest.mark.parametrize("model", ["named", "concurrent", "hourly"])
def test_a_session_from_weeks_before_is_the_first(database: Database, model: str) -> None:
    """A session that began two weeks before the period and lasts into it is a holder's first,
    though the packed weeks of the period's start and the week before hold only a later one."""
    begins = P0 - 3 * WEEK_MS
    batch = [event("license.assigned", "ann", begins, id=uuid.uuid4().hex, product=PRODUCTS[0]),
             event("user.login", "bob", begins, id=uuid.uuid4().hex),
             event("user.logout", "bob", begins + HOUR_MS, id=uuid.uuid4().hex),
             event("user.login", "ann", P0 - 10 * DAY_MS, id=uuid.uuid4().hex),
             event("user.logout", "ann", P0 + 2 * DAY_MS, id=uuid.uuid4().hex),
             event("user.login", "ann", P0 + 3 * DAY_MS, id=uuid.uuid4().hex),
             event("user.logout", "ann", P0 + 3 * DAY_MS + HOUR_MS, id=uuid.uuid4().hex),
             event("device.active", "e-1", P0 + 4 * WEEK_MS, id=uuid.uuid4().hex, deviceType="edge")]
    period = Period(P0, P0 + 10 * DAY_MS)
    org, arrival, kind, period, now = load_scenario(database, (model, period, [batch], LATER), LATER)
    with database.read() as conn:
        engine = billable_usage_report(conn, get_organization(conn, org.id), period, CATALOG, now)
    assert engine == reference_report(arrival, CATALOG, kind, period, now)
    usage = engine.usage(PRODUCTS[0])
    assert usage is not None and [r.date for r in usage.resources] == [P0]  # from the period's start, not day 3


@pytest.mark.parametrize("ends", [17 * DAY_MS, 8 * DAY_MS + 12 * HOUR_MS, 3 * DAY_MS + 12 * HOUR_MS])
def test_hours_from_the_packed_weeks_and_the_days_after_them(database: Database, ends: int) -> None:
    """An hourly product's hours: a session from weeks before the period clipped to its start
    (and to its end, when the period ends within it), the packed weeks' sessions (none of
    those before the start or after the end, one clipped to the end when the period ends in
    them), and the days after the packed weeks, clipped to the end."""
    at = lambda days, hours=0: P0 + days * DAY_MS + hours * HOUR_MS  # noqa: E731
    spans = {"ann": [(at(-10), at(4)), (at(8, 9), at(8, 17)), (at(10, 9), at(10, 10)), (at(15, 9), at(15, 12)),
                     (at(16, 22), at(17, 2))],
             "bob": [(at(1, 9), at(1, 17)), (at(9, 9), at(9, 10))]}
    batch = [event("license.assigned", user, at(-20), id=uuid.uuid4().hex, product="cx1") for user in spans]
    for user, sessions in spans.items():
        for login, logout in sessions:
            batch += [event("user.login", user, login, id=uuid.uuid4().hex),
                      event("user.logout", user, logout, id=uuid.uuid4().hex)]
    period = Period(at(3), P0 + ends)
    org, arrival, model, period, now = load_scenario(database, ("hourly", period, [batch], LATER), LATER)
    with database.read() as conn:
        assert packed_now(conn, org.id) == at(14)  # the weeks of days 0-13 are packed, day 14 on is not
        engine = billable_usage_report(conn, get_organization(conn, org.id), period, CATALOG, now)
    assert engine == reference_report(arrival, CATALOG, model, period, now)
    usage = engine.usage("cx1")
    assert usage is not None and usage.total_usage == {17 * DAY_MS: "39.00", 8 * DAY_MS + 12 * HOUR_MS: "27.00",
                                                       3 * DAY_MS + 12 * HOUR_MS: "12.00"}[ends]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=across_weeks())
def test_first_sessions_across_packed_weeks_equal_reference(database, scenario):
    """A holder's first session in the period: from the packed weeks where they answer
    it (store/reports.py), sought otherwise; the same report as the reference's."""
    org, arrival, model, period, now = load_scenario(database, scenario, LATER)
    with database.read() as conn:
        engine = billable_usage_report(conn, get_organization(conn, org.id), period, CATALOG, now)
    assert engine == reference_report(arrival, CATALOG, model, period, now)


@pytest.mark.parametrize("hours", [(0, 72 + 5), (5, 72 + 5), (5, 20), (20, 28)])
@pytest.mark.parametrize("cut_hour", [72 + 5, 48])
def test_devices_in_whole_and_partial_days(database: Database, hours: tuple[int, int], cut_hour: int) -> None:
    """Every day of a period is read per device and day, and a device whose day began before
    the period's start is sought in the log: a device seen only at an edge, at a day's first
    instant, on several days, or again after the period began, is found once, first (periods
    of whole days and part days, within a day and across a midnight)."""
    at = lambda hours, ms=0: P0 + hours * HOUR_MS + ms  # noqa: E731
    seen = {"lead": [at(6)], "trail": [at(73)], "midnight": [at(24), at(24, 1)], "spread": [at(30), at(7), at(50)],
            "before": [at(4, 999), at(1)], "late": [at(47, 59 * MINUTE_MS), at(5)], "after": [at(77), at(80)],
            "resumed": [at(1), at(6), at(21), at(25)], "evening": [at(19), at(23)]}
    batch = [event("device.active", device, t, id=uuid.uuid4().hex, deviceType="edge")
             for device, times in seen.items() for t in times]
    period = Period(at(hours[0]), at(hours[1]))
    org, arrival, model, period, now = load_scenario(database, ("named", period, [batch[:7], batch[7:]], at(cut_hour)))
    with database.read() as conn:
        engine = billable_usage_report(conn, get_organization(conn, org.id), period, CATALOG, now)
    assert engine == reference_report(arrival, CATALOG, model, period, now)
    start, cut = period.start, period.cut_off(now)
    first = {device: min(t for t in times if start <= t < cut) for device, times in seen.items()
             if any(start <= t < cut for t in times)}
    edge = engine.usage("edge")
    assert edge is not None and {r.name: r.date for r in edge.resources} == first and len(first) >= 3


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios(), groups=st.integers(1, 3))
def test_batches_stored_together_equal_reference(database, scenario, groups):
    """The command line stores several batches in one transaction and derives once from
    all of them (store_batches): the same report as batch by batch."""
    model, period, batches, now = scenario
    with database.write() as conn:
        org = create_organization(conn, "together", model, INGESTED_AT)
    validated = [validate_events(batch, CATALOG, INGESTED_AT) for batch in batches]
    size = -(-len(validated) // groups)
    for start in range(0, len(validated), size):
        with database.write() as conn:
            store_batches(conn, org.id, validated[start:start + size], INGESTED_AT)
    arrival = [e for batch in validated for e in batch]
    with database.read() as conn:
        engine = billable_usage_report(conn, get_organization(conn, org.id), period, CATALOG, now)
    assert engine == reference_report(arrival, CATALOG, LicensingModel(model), period, now)
