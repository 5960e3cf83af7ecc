"""The pure rules: instants, periods, catalog, event validation, intervals, totals."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import CATALOG, event
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import concurrent_peak as reference_peak
from reference import time_at_least as reference_time_at_least

from billable.rules.catalog import Catalog, LicensingModel
from billable.rules.errors import InvalidEvents, InvalidPeriod
from billable.rules.events import first_occurrences, validate_events
from billable.rules.instants import DAY_MS, MINUTE_MS, Period, format_instant, format_instants, parse_instant
from billable.rules.intervals import OPEN, intervals
from billable.rules.report import hours_total
from billable.service.concurrency import LevelCurve

OCT1 = parse_instant("2026-10-01T00:00:00Z")
NOW = parse_instant("2026-11-20T00:00:00Z")


@pytest.mark.parametrize(
    "text",
    [
        "2026-10-01T00:00:00Z",
        "2026-10-01T00:00:00.000Z",
        "2026-10-01T02:00:00+02:00",
        "2026-10-01T00:00:00",
        "2026-09-30T19:00:00-05:00",
        "2026-10-01T00:00:00.000999999Z",
    ],
)
def test_every_accepted_form_of_one_instant(text: str) -> None:
    assert parse_instant(text) == OCT1


def test_finer_precision_is_truncated_not_rounded() -> None:
    assert format_instant(parse_instant("2026-10-01T08:00:00.123987654Z")) == "2026-10-01T08:00:00.123Z"


def test_plain_date_only_where_allowed() -> None:
    assert parse_instant("2026-10-01", allow_date=True) == OCT1
    with pytest.raises(ValueError):
        parse_instant("2026-10-01")


@pytest.mark.parametrize("bad", ["", "yesterday", "2026-13-01T00:00:00Z", "2026-10-01T25:00:00Z", "10/01/2026 00:00"])
def test_malformed_instants(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_instant(bad)


def test_format_is_the_wire_format() -> None:
    assert format_instant(OCT1 + 8 * 3_600_000 + 5) == "2026-10-01T08:00:00.005Z"


# From year 1 to the last millisecond of 9999: four-digit years; an instant repeated, as a
# report's dates are (each distinct one is formatted once).
@given(st.lists(st.integers(min_value=-62_135_596_800_000, max_value=253_402_300_799_999), max_size=50),
       st.lists(st.integers(0, 49), max_size=20))
def test_instants_formatted_at_once_read_as_one_by_one(instants: list[int], repeated: list[int]) -> None:
    instants += [instants[index] for index in repeated if index < len(instants)]
    assert format_instants(instants) == [format_instant(instant) for instant in instants]


def test_instants_are_taken_from_year_1_to_9999_in_utc() -> None:
    from billable.rules.instants import EARLIEST_INSTANT, LATEST_INSTANT, InstantOutOfRange

    assert parse_instant("0001-01-01T00:00:00Z") == EARLIEST_INSTANT
    assert parse_instant("0001-01-01T01:00:00+01:00") == EARLIEST_INSTANT
    assert parse_instant("9999-12-31T23:59:59.999Z") == LATEST_INSTANT
    for outside in ("0001-01-01T00:00:00+01:00", "0001-01-01T00:59:59.999+01:00", "9999-12-31T23:59:59-01:00",
                    "9999-12-31T23:00:00-01:00"):
        with pytest.raises(InstantOutOfRange):
            parse_instant(outside)
    # Any instant the store can hold is written, outside the range with a six-digit year.
    assert format_instant(LATEST_INSTANT + 1) == "+010000-01-01T00:00:00.000Z"
    assert format_instant(EARLIEST_INSTANT - 1) == "+000000-12-31T23:59:59.999Z"
    assert format_instant(2**63 - 1) == "+292278994-08-17T07:12:55.807Z"  # the store's largest
    assert format_instant(-2**63 + 1) == "-292275055-05-16T16:47:04.193Z"
    assert format_instants([0, LATEST_INSTANT + 1]) == ["1970-01-01T00:00:00.000Z", "+010000-01-01T00:00:00.000Z"]


def test_period_bounds() -> None:
    with pytest.raises(InvalidPeriod) as reversed_period:
        Period.parse("2026-11-01", "2026-10-01")
    assert reversed_period.value.problems[0].field_name == "endDate"
    with pytest.raises(InvalidPeriod):
        Period(OCT1, OCT1)
    Period(OCT1, OCT1 + 366 * DAY_MS)
    with pytest.raises(InvalidPeriod):
        Period(OCT1, OCT1 + 366 * DAY_MS + 1)
    with pytest.raises(InvalidPeriod) as malformed:
        Period.parse("soon", "2026-10-01")
    assert malformed.value.problems[0].field_name == "startDate"


def test_period_cut_off() -> None:
    period = Period(OCT1, OCT1 + DAY_MS)
    assert period.cut_off(OCT1 + 5) == OCT1 + 5
    assert period.cut_off(OCT1 + 2 * DAY_MS) == OCT1 + DAY_MS


def test_default_catalog_is_the_spec_table() -> None:
    products = {p.name: (p.family, p.rank, p.concurrent) for p in CATALOG.user_products}
    assert products == {
        "collaborate": ("base", 1, False),
        "communicate": ("base", 2, False),
        "cx1": ("base", 3, True),
        "cx2": ("base", 4, True),
        "cx3": ("base", 5, True),
        "wem1": ("wem", 1, False),
        "wem2": ("wem", 2, False),
    }
    assert CATALOG.device_type_names == {"edge", "virtual-edge", "phone"}
    assert CATALOG.products_by_name["wem1"].model_under(LicensingModel.CONCURRENT) is LicensingModel.NAMED
    assert CATALOG.products_by_name["cx1"].model_under(LicensingModel.HOURLY) is LicensingModel.HOURLY


def test_catalog_rejects_shared_ranks() -> None:
    with pytest.raises(ValueError):
        Catalog.from_toml(
            '[[user_product]]\nname="a"\nfamily="f"\nrank=1\nconcurrent=false\n'
            '[[user_product]]\nname="b"\nfamily="f"\nrank=1\nconcurrent=false\n'
        )


def test_catalog_names_are_printable() -> None:
    """The store lists a user's products joined by a control character (store/reports.py)."""
    with pytest.raises(ValueError, match="printable"):
        Catalog.from_toml('[[user_product]]\nname="a\\u001fb"\nfamily="f"\nrank=1\nconcurrent=false\n')
    assert Catalog.from_toml('[[user_product]]\nname="a b"\nfamily="f"\nrank=1\nconcurrent=false\n')


def test_validation_names_every_bad_event_and_field() -> None:
    batch = [
        event("user.login", "ann", "2026-10-01T08:00:00Z"),
        {**event("user.login", "ann", "2026-10-01T08:00:00Z"), "specversion": "0.3", "time": "noon"},
        event("license.assigned", "ann", "2026-10-01T08:00:00Z", product="platinum"),
        event("device.active", "d", "2026-10-01T08:00:00Z"),
        {**event("user.logout", "", "2026-10-01T08:00:00Z"), "id": 7},
        event("user.updated", "ann", "2026-10-01T08:00:00Z"),
        event("user.login", "ann", "2026-11-20T00:05:01Z"),
        {**event("user.login", "ann", "2026-10-01T08:00:00Z"), "type": "user.lgoin"},
        "not an object",
    ]
    with pytest.raises(InvalidEvents) as invalid:
        validate_events(batch, CATALOG, NOW)
    found = {(p.index, p.field_name, p.error_code) for p in invalid.value.problems}
    assert found == {
        (1, "events[1].specversion", "invalid.value"),
        (1, "events[1].time", "invalid.date"),
        (2, "events[2].data.product", "unknown.product"),
        (3, "events[3].data.deviceType", "required"),
        (4, "events[4].id", "required"),
        (4, "events[4].subject", "required"),
        (5, "events[5].data.email", "required"),
        (6, "events[6].time", "in.future"),
        (7, "events[7].type", "invalid.value"),
        (8, "events[8]", "invalid.event"),
    }
    assert str(invalid.value) == "8 invalid event(s); nothing was stored"


def test_event_up_to_five_minutes_ahead_is_accepted() -> None:
    (accepted,) = validate_events([event("user.login", "ann", "2026-11-20T00:05:00Z")], CATALOG, NOW)
    assert accepted.time == NOW + 5 * MINUTE_MS


def test_first_occurrence_of_a_key_wins() -> None:
    a = validate_events([event("user.login", "ann", OCT1, id="1")], CATALOG, NOW)[0]
    b = validate_events([event("user.logout", "ann", OCT1 + 5, id="1")], CATALOG, NOW)[0]
    c = validate_events([event("user.logout", "ann", OCT1 + 5, id="1", source="other")], CATALOG, NOW)[0]
    assert first_occurrences([a, b, c]) == [a, c]


def test_interval_state_machine() -> None:
    walk = [(1, True), (2, True), (3, False), (4, False), (5, True), (5, False), (6, True)]
    assert intervals(walk) == [(1, 3), (6, OPEN)]


@pytest.mark.parametrize(
    ("milliseconds", "text"),
    [(0, "0.00"), (18_000, "0.01"), (17_999, "0.00"), (30_600_000, "8.50"), (3_600_000 * 12 + 1_800_000, "12.50")],
)
def test_hours_round_half_up_to_two_decimals(milliseconds: int, text: str) -> None:
    assert hours_total(milliseconds) == text


def test_peak_needs_thirty_minutes() -> None:
    start, cut = OCT1, OCT1 + DAY_MS
    sessions = [(start, start + 30 * MINUTE_MS), (start, start + 30 * MINUTE_MS - 1)]
    def engine_peak(spans: list[tuple[int, int]], lo: int, hi: int) -> int:
        started, ended = np.array(spans).T.reshape(2, -1)
        return LevelCurve.of(started, ended, lo, hi).peak()

    for peak in (reference_peak, engine_peak):
        assert peak(sessions, start, cut) == 1
        assert peak(sessions, start, start + 29 * MINUTE_MS) == 0


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 40), st.integers(1, 20)), max_size=12),
    st.integers(0, 10),
    st.integers(1, 60),
)
@pytest.mark.parametrize("step", [5 * MINUTE_MS, DAY_MS + 5 * MINUTE_MS], ids=["minutes", "days"])  # days: past 2**32 ms
def test_vectorized_peak_equals_reference(step, spans, start_step, length_steps) -> None:
    start, cut = OCT1 + start_step * step, OCT1 + (start_step + length_steps) * step
    clipped = [
        (max(OCT1 + a * step, start), min(OCT1 + (a + b) * step, cut))
        for a, b in spans
        if OCT1 + a * step < cut and OCT1 + (a + b) * step > start
    ]
    starts = np.array([s for s, _ in clipped], dtype=np.int64)
    ends = np.array([e for _, e in clipped], dtype=np.int64)
    assert LevelCurve.of(starts, ends, start, cut).peak() == reference_peak(clipped, start, cut)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 40), st.integers(0, 20)), max_size=12),
    st.integers(0, 59),
    st.integers(1, 60),
)
def test_a_window_read_from_a_wider_curve_equals_its_own(spans, lo_step, length_steps) -> None:
    """A day's figures read from the period's curve (``within``) are those of the day's
    sessions alone: its peak, its time at that peak and its logged-in time, as the
    reference computes them; windows starting or ending on a session's bound included."""
    step = 10 * MINUTE_MS
    start, cut = OCT1, OCT1 + 60 * step
    lo, hi = OCT1 + lo_step * step, min(OCT1 + (lo_step + length_steps) * step, cut)
    sessions = [(OCT1 + a * step, OCT1 + (a + b) * step) for a, b in spans]
    starts = np.array([s for s, _ in sessions], dtype=np.int64)
    ends = np.array([e for _, e in sessions], dtype=np.int64)
    day = LevelCurve.of(starts, ends, start, cut).within(lo, hi)
    peak = reference_peak(sessions, lo, hi)
    assert day.peak() == peak
    assert day.time_at_least(peak) == reference_time_at_least(sessions, lo, hi, peak)
    assert day.logged_in() == sum(max(0, min(e, hi) - max(s, lo)) for s, e in sessions)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
FIELDS = st.sampled_from(["specversion", "id", "source", "type", "time", "subject", "data"])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(JSON, st.dictionaries(FIELDS, JSON), st.builds(
    lambda base, changes: {**base, **changes},
    st.just(event("license.assigned", "ann", "2026-10-01T08:00:00Z", product="cx1")),
    st.dictionaries(FIELDS, JSON, max_size=2),
)), max_size=6))
def test_validation_never_fails_on_any_json(batch) -> None:
    """Any JSON batch is either valid or refused with its problems, never a crash."""
    try:
        events = validate_events(batch, CATALOG, NOW)
    except InvalidEvents as invalid:
        assert invalid.problems and all(p.index is not None and 0 <= p.index < len(batch) for p in invalid.problems)
    else:
        assert len(events) == len(batch)


def test_a_type_of_any_json_kind_is_a_problem_not_a_crash() -> None:
    kind: object
    for kind in ({}, [], 3, None):
        with pytest.raises(InvalidEvents) as invalid:
            validate_events([{**event("user.login", "ann", "2026-10-01T08:00:00Z"), "type": kind}], CATALOG, NOW)
        assert [p.field_name for p in invalid.value.problems] == ["events[0].type"]


def test_json_is_read_strictly() -> None:
    """UTF-8 JSON as RFC 8259 writes it, and nothing more lenient: the standard library's
    reading where both read a document, a refusal where only it would."""
    import json

    from billable.rules.json_text import MAX_DEPTH, compact_json, parse_json

    for text in ('{"a": [1, 2.5, "x\\u00e9", "\\ud83d\\ude00", null, true]}', b'{"b": 1}', "[1e300]"):
        assert repr(parse_json(text)) == repr(json.loads(text))
    assert parse_json('{"n": 123456789012345678901234567890}') == {"n": 1.2345678901234568e+29}  # the one difference
    assert parse_json("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    for broken in ("{", '{"a": 1,}', "[1] x", "", "[NaN]", "[Infinity]", '["\\ud800"]', "[1e400]", "[" + "9" * 4301 + "]",
                   "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "[1]".encode("utf-16"), b'["\xff"]'):
        with pytest.raises(json.JSONDecodeError):
            parse_json(broken)
    assert compact_json({"product": "cx1", "email": "é@x"}) == '{"product":"cx1","email":"é@x"}'.encode()


def test_resources_of_one_name_and_date_are_ordered_by_their_hours_whatever_order_they_come_in() -> None:
    """Two users may share a display name (an email): their order may not depend on which the
    engine found first (the reference and the engine found them in opposite orders)."""
    from billable.rules.report import Resource, Usage

    ann, bob = Resource("a@x.com", 1_000, "0.17"), Resource("a@x.com", 1_000, "0.00")
    assert Usage.of("cx3", "0.17", [ann, bob]) == Usage.of("cx3", "0.17", [bob, ann])
    assert Usage.of("cx3", "0.17", [ann, bob]).resources == (bob, ann)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a@x.com", "b@x.com", "B@x.com", "é@x.com"]), st.integers(0, 3),
                          st.one_of(st.none(), st.sampled_from(["0.00", "0.17", "1.50"]))), max_size=12))
def test_resources_are_ordered_by_date_then_name_then_hours(found) -> None:
    """The order of a usage's resources is the one of the key (date, name, hours), ties in the
    order they came, however it is computed."""
    from billable.rules.report import Resource, Usage

    resources = [Resource(name, date, hours) for name, date, hours in found]
    expected = tuple(sorted(resources, key=lambda r: (r.date, r.name, r.hours or "")))
    assert Usage.of("cx3", "1", resources).resources == expected
    assert [id(r) for r in Usage.of("cx3", "1", resources).resources] == [id(r) for r in expected]
