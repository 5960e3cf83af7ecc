"""The fast decoder of events agrees with the field-by-field validator: whatever it accepts
is valid and gives the same events, and it leaves a valid batch to the slow path only for a
field the event's type ignores."""

from __future__ import annotations

import json
from typing import Any

from conftest import CATALOG, INGESTED_AT
from hypothesis import given, settings
from hypothesis import strategies as st

from billable.rules.decoding import decode_batch, decode_lines
from billable.rules.errors import InvalidEvents
from billable.rules.events import EVENT_TYPES, validate_events

NOW = INGESTED_AT
# Text at the edges of the rules: blank in several ways, NUL, the longest allowed and one more.
TEXTS = st.sampled_from(["ann", " ann ", "", " ", "\t\n", "\u2003", "\x1c", "a\x00b", "\x00", "x" * 256, "x" * 257,
                         "é" * 256, "ann\n"]) | st.text(max_size=6)
EMAILS = TEXTS | st.sampled_from(["a@x.com", "e" * 320, "e" * 321, None, 5, ["a"]])
TIMES = st.sampled_from([
    "2026-10-01T08:00:00Z", "2026-10-01T08:00:00.123Z", "2026-10-01t08:00:00z", "2026-10-01 08:00:00",
    "2026-10-01T08:00:00+02:00", "2026-10-01T08:00", "2026-10-01", "2026-13-01T08:00:00Z", "yesterday", "",
    "2026-11-20T00:04:59.999Z", "2026-11-20T00:05:00.001Z", " 2026-10-01T08:00:00Z ", "2026-10-01T08:00:00.1234567Z",
]) | st.integers() | st.none()
PRODUCTS = st.sampled_from(["cx1", "wem2", "edge", "nope", "", None, 3])
DEVICES = st.sampled_from(["edge", "phone", "cx1", "nope", "", None])


VALID_DATA = {"user.login": {"email": "a@x.com"}, "user.logout": {}, "license.assigned": {"product": "cx1"},
              "license.unassigned": {"product": "wem2"}, "device.active": {"deviceType": "edge"},
              "user.updated": {"email": "a@x.com"}}


@st.composite
def events(draw: st.DrawFn) -> Any:
    """A valid event of any kind, then none, one or two of its fields changed to a value
    at the edge of the rules (or removed): about half of them stay valid."""
    kind = draw(st.sampled_from(EVENT_TYPES))
    raw: dict[str, Any] = {"specversion": "1.0", "id": "e1", "source": "urn:s", "type": kind,
                           "time": "2026-10-01T08:00:00Z", "subject": "ann", "data": dict(VALID_DATA[kind])}
    changes: dict[str, st.SearchStrategy[Any]] = {
        "specversion": st.sampled_from(["1", 1.0, None, "1.0 "]), "id": TEXTS, "source": TEXTS, "subject": TEXTS,
        "type": st.sampled_from([*EVENT_TYPES, "user.teleported", None, 3]), "time": TIMES,
        "data": st.sampled_from([None, "x", [], {}]), "data.product": PRODUCTS, "data.deviceType": DEVICES,
        "data.email": EMAILS, "data.other": st.integers(),
    }
    for field in draw(st.lists(st.sampled_from(sorted(changes)), max_size=2, unique=True)):
        value = draw(changes[field] | st.just(_REMOVED))
        container, name = (raw.get("data"), field[5:]) if field.startswith("data.") else (raw, field)
        if not isinstance(container, dict):
            continue
        if value is _REMOVED:
            container.pop(name, None)
        else:
            container[name] = value
    if draw(st.booleans()):
        raw = dict(reversed(list(raw.items())))  # the type after the other fields
    return raw


_REMOVED = object()
_READS = {"license.assigned": {"product", "email"}, "license.unassigned": {"product"}, "device.active": {"deviceType"},
          "user.login": {"email"}, "user.logout": {"email"}, "user.updated": {"email"}}


def _odd_ignored_field(raw: Any) -> bool:
    if "\\u0000" in json.dumps(raw):  # an escaped NUL anywhere sends a line to the slow path
        return True
    data = raw.get("data")
    if not isinstance(data, dict):
        return False
    limits = {"product": 256, "deviceType": 256, "email": 320}
    if set(data) - set(limits):  # a field no type reads: the decoder's types are closed
        return True
    return any(name not in _READS.get(raw.get("type"), set()) and value is not None
               and not (isinstance(value, str) and 1 <= len(value) <= limits[name])
               for name, value in data.items() if name in limits)


def valid(raw: Any) -> bool:
    try:
        validate_events([raw], CATALOG, NOW)
    except InvalidEvents:
        return False
    return True


@settings(max_examples=3000, deadline=None)
@given(st.lists(events(), min_size=1, max_size=3))
def test_what_the_fast_decoder_accepts_is_valid_and_the_same(batch: list[Any]) -> None:
    fast = decode_batch(json.dumps(batch).encode(), CATALOG, NOW)
    lines = decode_lines([json.dumps(raw).encode() for raw in batch], CATALOG, NOW)
    assert fast == lines
    try:
        slow = validate_events(batch, CATALOG, NOW)
    except InvalidEvents:
        assert fast is None
        return
    # A valid batch may be left to the slow path only for a field its type ignores whose
    # value the decoder's types refuse (a login's data.product of 3), a field of data no
    # type reads, or a NUL there: rare, and still right.
    assert fast == slow or (fast is None and any(_odd_ignored_field(raw) for raw in batch))


def test_every_valid_event_of_the_usual_forms_is_decoded() -> None:
    """The fast path serves the events a platform sends: one of each kind, data as it should be."""
    batch = [
        {"specversion": "1.0", "id": "1", "source": "s", "type": "user.login", "time": "2026-10-01T08:00:00.000Z",
         "subject": "ann", "data": {"email": "ann@x.com"}},
        {"specversion": "1.0", "id": "2", "source": "s", "type": "user.logout", "time": "2026-10-01T09:00:00Z",
         "subject": "ann"},
        {"specversion": "1.0", "id": "3", "source": "s", "type": "license.assigned", "time": "2026-10-01T08:00:00Z",
         "subject": "ann", "data": {"product": "cx1", "email": "ann@x.com"}},
        {"specversion": "1.0", "id": "4", "source": "s", "type": "license.unassigned", "time": "2026-10-02T08:00:00Z",
         "subject": "ann", "data": {"product": "cx1"}},
        {"type": "device.active", "specversion": "1.0", "id": "5", "source": "s", "time": "2026-10-01T08:00:00+02:00",
         "subject": "e-1", "data": {"deviceType": "edge"}},
        {"specversion": "1.0", "id": "6", "source": "s", "type": "user.updated", "time": "2026-10-01T08:00:00Z",
         "subject": "ann", "data": {"email": "new@x.com"}, "datacontenttype": "application/json"},
    ]
    assert decode_batch(json.dumps(batch).encode(), CATALOG, NOW) == validate_events(batch, CATALOG, NOW)


def test_a_key_given_twice_is_read_as_the_parser_of_the_slow_path_reads_it() -> None:
    from billable.rules.json_text import parse_json

    body = ('[{"specversion":"1.0","id":"1","source":"s","type":"user.login","time":"2026-10-01T08:00:00Z",'
            '"subject":"ann","subject":"bob"}]').encode()
    fast = decode_batch(body, CATALOG, NOW)
    assert fast is None or fast == validate_events(parse_json(body), CATALOG, NOW)
