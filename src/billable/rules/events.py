"""Usage events (CloudEvents 1.0) and their validation (billing-rules.md, section 3)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from billable.rules.catalog import Catalog
from billable.rules.errors import FieldProblem, InvalidEvents
from billable.rules.instants import MINUTE_MS, RANGE_TEXT, InstantOutOfRange, parse_instant

LOGIN = "user.login"
LOGOUT = "user.logout"
ASSIGNED = "license.assigned"
UNASSIGNED = "license.unassigned"
DEVICE_ACTIVE = "device.active"
USER_UPDATED = "user.updated"

MAX_FUTURE_MS = 5 * MINUTE_MS
MAX_TEXT = 256
MAX_EMAIL = 320


@dataclass(frozen=True)
class DataField:
    """A field of an event's ``data``: its name there, the ``UsageEvent`` attribute it
    fills, its longest text, and, when the catalog names what it may be, those names (in
    the catalog's order), the code of a name not among them and what they are."""

    name: str
    attribute: str
    max_length: int = MAX_TEXT
    catalog_names: Callable[[Catalog], Sequence[str]] | None = None
    unknown_code: str = ""
    unknown_text: str = ""


PRODUCT = DataField("product", "product", catalog_names=lambda catalog: [p.name for p in catalog.user_products],
                    unknown_code="unknown.product", unknown_text="a user product of the catalog")
DEVICE_TYPE = DataField("deviceType", "device_type", catalog_names=lambda catalog: [d.name for d in catalog.device_types],
                        unknown_code="unknown.device.type", unknown_text="a device type of the catalog")
EMAIL = DataField("email", "email", max_length=MAX_EMAIL)  # the user's display name in reports


@dataclass(frozen=True)
class EventType:
    """An event type billable takes, and the fields of its ``data`` it reads: ``required``
    ones, and ``optional`` ones (absent or null: none). Any other field is ignored."""

    name: str
    required: tuple[DataField, ...] = ()
    optional: tuple[DataField, ...] = ()

    @property
    def fields(self) -> tuple[DataField, ...]:
        return self.required + self.optional


class EventContract:
    """The event types billable takes, declared once: the checker below, the decoder
    (rules/decoding.py), the ingestion body's JSON schema (server/models.py) and the type
    names of the API (server/routes.py) are derived from it."""

    def __init__(self, types: Sequence[EventType]):
        self.types = tuple(types)
        self.by_name = {kind.name: kind for kind in self.types}
        self.names = tuple(self.by_name)
        self.fields = tuple(dict.fromkeys(field for kind in self.types for field in kind.fields))  # each once
        # The types whose data may name the user's email (the display name in reports).
        self.email_types = frozenset(kind.name for kind in self.types if EMAIL in kind.fields)

    def catalog_names(self, catalog: Catalog) -> dict[DataField, frozenset[str]]:
        """The names each field the catalog constrains may hold: looked up once a batch."""
        return {field: frozenset(field.catalog_names(catalog)) for field in self.fields
                if field.catalog_names is not None}


EVENTS = EventContract((
    EventType(LOGIN, optional=(EMAIL,)),
    EventType(LOGOUT, optional=(EMAIL,)),
    EventType(ASSIGNED, required=(PRODUCT,), optional=(EMAIL,)),
    EventType(UNASSIGNED, required=(PRODUCT,)),
    EventType(DEVICE_ACTIVE, required=(DEVICE_TYPE,)),
    EventType(USER_UPDATED, required=(EMAIL,)),
))
EVENT_TYPES = EVENTS.names
EMAIL_TYPES = EVENTS.email_types
# What the derived state makes of them (billing-rules.md): sessions and holdings.
SESSION_TYPES = (LOGIN, LOGOUT)
HOLDING_TYPES = (ASSIGNED, UNASSIGNED)


class UsageEvent(msgspec.Struct, frozen=True, gc=False):
    """A validated event; ``time`` is epoch milliseconds, truncated.

    A msgspec struct: made several times faster than a frozen dataclass (ingestion makes
    one per event), left alone by the garbage collector (it holds only text and numbers),
    and written to and read from the command line's spool as MessagePack in one call."""

    source: str
    id: str
    type: str
    subject: str
    time: int
    product: str | None = None
    device_type: str | None = None
    email: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        """What makes an event unique in its organization, forever."""
        return (self.source, self.id)


def first_occurrences(events: Iterable[UsageEvent], seen: set[tuple[str, str]] | None = None) -> list[UsageEvent]:
    """The events whose ``(source, id)`` was not seen before, in order; the rest are duplicates."""
    seen = set() if seen is None else seen
    fresh = []
    for event in events:
        if event.key not in seen:
            seen.add(event.key)
            fresh.append(event)
    return fresh


def event_data(product: str | None, device_type: str | None, email: str | None) -> dict[str, str]:
    """An event's ``data`` as billable keeps it: the fields it reads (it ignores any other)."""
    data = {}
    for field, value in ((PRODUCT, product), (DEVICE_TYPE, device_type), (EMAIL, email)):
        if value is not None:
            data[field.name] = value
    return data


class ItemChecker:
    """Checks one item of a request's list (an event, a void), collecting every problem
    with its field name (``events[3].subject``)."""

    def __init__(self, index: int, raw: dict[str, Any], problems: list[FieldProblem], list_name: str = "events"):
        self.index = index
        self.raw = raw
        self.problems = problems
        self.list_name = list_name
        self.ok = True

    def problem(self, field: str, code: str, message: str) -> None:
        self.ok = False
        self.problems.append(FieldProblem(f"{self.list_name}[{self.index}].{field}", code, message, self.index))

    def text(self, container: dict[str, Any], field: str, path: str, limit: int = MAX_TEXT) -> str | None:
        value = container.get(field)
        found = text_problem(value, path, limit)
        if found is not None:
            self.problem(path, *found)
            return None
        return value  # checked: a str


def text_problem(value: Any, path: str, limit: int) -> tuple[str, str] | None:
    """What is wrong with ``value`` as a text field at ``path`` (``(code, message)``): not a
    non-empty string, longer than ``limit``, or holding NUL; None if nothing is."""
    if not isinstance(value, str) or not value.strip():
        return "required", f"{path} must be a non-empty string"
    if len(value) > limit:
        return "too.long", f"{path} may have at most {limit} characters"
    if "\x00" in value:  # PostgreSQL text cannot hold it, and no id or email needs it
        return "invalid.value", f"{path} may not contain the NUL character"
    return None


def _check_event(index: int, raw: Any, now: int, problems: list[FieldProblem], contract: EventContract,
                 allowed: dict[DataField, frozenset[str]]) -> UsageEvent | None:
    if not isinstance(raw, dict):
        problems.append(FieldProblem(f"events[{index}]", "invalid.event", "an event must be a JSON object", index))
        return None
    check = ItemChecker(index, raw, problems)
    if raw.get("specversion") != "1.0":
        check.problem("specversion", "invalid.value", 'specversion must be "1.0"')
    event_id = check.text(raw, "id", "id")
    source = check.text(raw, "source", "source")
    subject = check.text(raw, "subject", "subject")
    kind = raw.get("type")
    declared = contract.by_name.get(kind) if isinstance(kind, str) else None  # any JSON value, hashable or not
    if declared is None:
        check.problem("type", "invalid.value", f"type must be one of {', '.join(contract.names)}")
    time = None
    try:
        time = parse_instant(raw.get("time"))  # type: ignore[arg-type]  # any JSON value: a non-text one raises TypeError
    except InstantOutOfRange:
        check.problem("time", "out.of.range", f"time must be from {RANGE_TEXT}")
    except (ValueError, TypeError):
        check.problem("time", "invalid.date", "time must be an ISO-8601 date-time")
    if time is not None and time > now + MAX_FUTURE_MS:
        check.problem("time", "in.future", "time may not be later than now plus 5 minutes")
    data = raw.get("data", {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        check.problem("data", "invalid.value", "data must be a JSON object")
        data = {}
    values: dict[str, str | None] = {}
    required, optional = (declared.required, declared.optional) if declared is not None else ((), ())
    for field in required + optional:
        if field in optional and data.get(field.name) is None:
            continue
        path = f"data.{field.name}"
        value = values[field.attribute] = check.text(data, field.name, path, field.max_length)
        if value is not None and field in allowed and value not in allowed[field]:
            check.problem(path, field.unknown_code, f"{value!r} is not {field.unknown_text}")
    if not check.ok:
        return None
    # The checks above left no field None where the event is valid (check.ok).
    return UsageEvent(source, event_id, kind, subject, time, **values)  # type: ignore[arg-type]  # see above


def validate_events(raw_events: list[Any], catalog: Catalog, now: int, contract: EventContract = EVENTS
                    ) -> list[UsageEvent]:
    """Validate a whole batch: every event, or raise ``InvalidEvents`` naming each bad one."""
    problems: list[FieldProblem] = []
    allowed = contract.catalog_names(catalog)
    events = [_check_event(index, raw, now, problems, contract, allowed) for index, raw in enumerate(raw_events)]
    if problems:
        raise InvalidEvents(problems)
    return events  # type: ignore[return-value]  # without problems, no event is None
