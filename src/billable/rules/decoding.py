"""Events decoded and checked in one pass by msgspec, straight from the bytes received.

The fast path of ``validate_events``: a batch that decodes here is valid by the same rules
(billing-rules.md, section 3) and gives the same ``UsageEvent``s; one that does not (any
problem at all, or a form these types do not cover) returns None, and the caller checks
it field by field with ``validate_events``, which names every problem.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from billable.rules.catalog import Catalog
from billable.rules.events import (
    DEVICE_ACTIVE,
    EMAIL_TYPES,
    EVENT_TYPES,
    HOLDING_TYPES,
    MAX_EMAIL,
    MAX_FUTURE_MS,
    MAX_TEXT,
    USER_UPDATED,
    UsageEvent,
)
from billable.rules.instants import parse_instant

# Lengths are checked while decoding; blank text, the NUL character (a raw line that holds
# an escaped NUL anywhere goes to the slow path) and what each type requires, after.
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_TEXT)]
Email = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_EMAIL)]


class _Data(msgspec.Struct, gc=False):
    product: Text | None = None
    deviceType: Text | None = None
    email: Email | None = None


class _Event(msgspec.Struct, gc=False):
    specversion: Literal["1.0"]
    id: Text
    source: Text
    type: str
    subject: Text
    time: str
    data: _Data | None = None


_BATCH = msgspec.json.Decoder(list[_Event])
_ONE = msgspec.json.Decoder(_Event)
_NUL = b"\\u0000"


def decode_batch(body: bytes, catalog: Catalog, now: int) -> list[UsageEvent] | None:
    """The events of a JSON array of CloudEvents, if every one of them is valid."""
    if _NUL in body:
        return None
    try:
        decoded = _BATCH.decode(body)
    except (msgspec.DecodeError, RecursionError):  # nested past Python's stack: parse_json decides
        return None
    return _usage_events(decoded, catalog, now)


def decode_lines(lines: list[bytes], catalog: Catalog, now: int) -> list[UsageEvent] | None:
    """The events of NDJSON lines (none blank), if every one of them is valid."""
    try:
        decoded = [_ONE.decode(line) for line in lines if _NUL not in line]
    except (msgspec.DecodeError, RecursionError):
        return None
    return _usage_events(decoded, catalog, now) if len(decoded) == len(lines) else None


_NO_DATA = _Data()


def _usage_events(decoded: list[_Event], catalog: Catalog, now: int) -> list[UsageEvent] | None:
    products, device_types = catalog.products_by_name, catalog.device_type_names
    latest = now + MAX_FUTURE_MS
    found = []
    for event in decoded:
        kind = event.type
        if kind not in EVENT_TYPES or event.id.isspace() or event.source.isspace() or event.subject.isspace():
            return None
        try:
            time = parse_instant(event.time)
        except ValueError:
            return None
        if time > latest:
            return None
        data = event.data or _NO_DATA
        product = device_type = email = None
        if kind in HOLDING_TYPES:
            product = data.product
            if product is None or product not in products:
                return None
        elif kind == DEVICE_ACTIVE:
            device_type = data.deviceType
            if device_type is None or device_type not in device_types:
                return None
        if kind in EMAIL_TYPES:
            email = data.email
            if (email is None and kind == USER_UPDATED) or (email is not None and email.isspace()):
                return None
        found.append(UsageEvent(event.source, event.id, kind, event.subject, time, product, device_type, email))
    return found
