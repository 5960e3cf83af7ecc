"""Events decoded and checked in one pass by msgspec, straight from the bytes received.

The fast path of ``validate_events``: a batch that decodes here is valid by the same rules
(billing-rules.md, section 3) and gives the same ``UsageEvent``s; one that does not (any
problem at all, or a form these types do not cover) returns None, and the caller checks
it field by field with ``validate_events``, which names every problem. The types are made
from the event contract (rules/events.py), as the checker is.

The types are closed: an attribute they do not know (beyond CloudEvents' optional
``datacontenttype`` and ``dataschema``), or a field of ``data`` no type reads, sends the
batch the slow way, which ignores it once the body has passed ``parse_body``'s limits
(rules/wire.py). So a batch taken here is three levels deep, within every limit.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from billable.rules.catalog import Catalog
from billable.rules.events import EVENTS, MAX_FUTURE_MS, MAX_TEXT, EventContract, UsageEvent
from billable.rules.instants import parse_instant

# Lengths are checked while decoding; blank text, the NUL character (a raw line that holds
# an escaped NUL anywhere goes to the slow path) and what each type requires, after.
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_TEXT)]
_NUL = b"\\u0000"


class Decoder:
    """Decodes the events of ``contract`` (the events billable takes, unless a test says)."""

    def __init__(self, contract: EventContract = EVENTS):
        self.contract = contract
        data = msgspec.defstruct("Data", [
            (field.name, Annotated[str, msgspec.Meta(min_length=1, max_length=field.max_length)] | None, None)
            for field in contract.fields], gc=False, forbid_unknown_fields=True)
        event = msgspec.defstruct("Event", [
            ("specversion", Literal["1.0"]), ("id", Text), ("source", Text), ("type", str), ("subject", Text),
            ("time", str), ("data", data | None, None), ("datacontenttype", str | None, None),
            ("dataschema", str | None, None)], gc=False, forbid_unknown_fields=True)
        self._batch = msgspec.json.Decoder(list[event])  # type: ignore[valid-type]  # a type made here
        self._one = msgspec.json.Decoder(event)
        self._no_data = data()

    def decode_batch(self, body: bytes, catalog: Catalog, now: int) -> list[UsageEvent] | None:
        """The events of a JSON array of CloudEvents, if every one of them is valid."""
        if _NUL in body:
            return None
        try:
            decoded = self._batch.decode(body)
        except (msgspec.DecodeError, RecursionError):  # nested past Python's stack: parse_json decides
            return None
        return self._usage_events(decoded, catalog, now)

    def decode_lines(self, lines: list[bytes], catalog: Catalog, now: int) -> list[UsageEvent] | None:
        """The events of NDJSON lines (none blank), if every one of them is valid."""
        try:
            decoded = [self._one.decode(line) for line in lines if _NUL not in line]
        except (msgspec.DecodeError, RecursionError):
            return None
        return self._usage_events(decoded, catalog, now) if len(decoded) == len(lines) else None

    def _usage_events(self, decoded: list[Any], catalog: Catalog, now: int) -> list[UsageEvent] | None:
        plans = self._plans(catalog)
        latest = now + MAX_FUTURE_MS
        found = []
        for event in decoded:
            plan = plans.get(event.type)
            if plan is None or event.id.isspace() or event.source.isspace() or event.subject.isspace():
                return None
            try:
                time = parse_instant(event.time)
            except ValueError:
                return None
            if time > latest:
                return None
            data = event.data or self._no_data
            values: list[str | None] = [None] * len(_SLOTS)
            for name, slot, required, allowed in plan:
                value = getattr(data, name)
                if value is None:
                    if required:
                        return None
                elif value.isspace() or (allowed is not None and value not in allowed):
                    return None
                else:
                    values[slot] = value
            found.append(UsageEvent(event.source, event.id, event.type, event.subject, time, *values))
        return found

    def _plans(self, catalog: Catalog) -> dict[str, list[tuple[str, int, bool, frozenset[str] | None]]]:
        """Per type, what to check of each field of its data: its name, its place among the
        ``UsageEvent``'s optional attributes, whether it is required, the names it may be."""
        allowed = self.contract.catalog_names(catalog)
        return {kind.name: [(field.name, _SLOTS.index(field.attribute), field in kind.required, allowed.get(field))
                            for field in kind.fields] for kind in self.contract.types}


_SLOTS = UsageEvent.__struct_fields__[5:]  # its attributes after time: what an event's data fills
_EVENTS = Decoder()
decode_batch = _EVENTS.decode_batch
decode_lines = _EVENTS.decode_lines
