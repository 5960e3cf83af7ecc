"""JSON in and out, by orjson: every event and every report passes through here.

What billable reads is UTF-8 JSON as RFC 8259 writes it, and nothing more lenient: a
document in another encoding, with ``NaN`` or infinities, a lone surrogate (no text can
store one), a number beyond a double, or nested more than 1,024 deep (orjson's own limit)
is refused, never half-read. A request's body (or a line of a file) may be nested at most
``MAX_BODY_DEPTH`` deep: an event is three (the batch, the event, its data). An integer
beyond 64 bits comes back as a float (no field of an event is a number).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from billable.rules.errors import FieldProblem, InvalidInput

MAX_DEPTH = 1024  # orjson's own limit: arrays and objects nested deeper are refused
MAX_BODY_DEPTH = 32


def parse_json(text: str | bytes) -> Any:
    """The document in ``text``; ``json.JSONDecodeError`` (orjson's, a subclass) with the
    reason and its position if it is not JSON as this module reads it."""
    return orjson.loads(text)


def compact_json(document: Any) -> bytes:
    """``document`` as compact UTF-8 JSON (keys in their order, no spaces)."""
    return orjson.dumps(document)


def json_decimal(value: Any) -> Decimal | None:
    """A JSON value as a finite ``Decimal``: a decimal string (``"12.50"``, as quantities and
    prices travel) or a number (not ``true``/``false``); None for anything else."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    try:
        found = Decimal(value if isinstance(value, str) else repr(value))
    except InvalidOperation:
        return None
    return found if found.is_finite() else None


def parse_body(body: bytes, field: str = "body") -> Any:
    """The document a request (or a line of a file, named by ``field``) holds, nested at most
    ``MAX_BODY_DEPTH`` deep; else ``InvalidInput`` saying why."""
    try:
        document = parse_json(body)
    except orjson.JSONDecodeError as error:
        message = f"{field}: not valid JSON in UTF-8 ({error})"
        raise InvalidInput(message, [FieldProblem(field, "invalid.json", message)]) from None
    if _deeper_than(document, MAX_BODY_DEPTH):
        message = f"{field}: arrays and objects may be nested at most {MAX_BODY_DEPTH} deep"
        raise InvalidInput(message, [FieldProblem(field, "too.deep", message)])
    return document


def _deeper_than(document: Any, limit: int) -> bool:
    """Whether arrays and objects nest in ``document`` more than ``limit`` deep (walked
    without recursion: it may be 1,024 deep)."""
    pending = [(document, 1)] if isinstance(document, (dict, list)) else []
    while pending:
        value, depth = pending.pop()
        if depth > limit:
            return True
        children = value.values() if isinstance(value, dict) else value
        pending += [(child, depth + 1) for child in children if isinstance(child, (dict, list))]
    return False
