"""JSON in and out, by orjson: every event and every report passes through here.

What billable reads is UTF-8 JSON as RFC 8259 writes it, and nothing more lenient: a
document in another encoding, with ``NaN`` or infinities, a lone surrogate (no text can
store one), a number beyond a double, or nested more than ``MAX_DEPTH`` deep is refused,
never half-read. An integer beyond 64 bits comes back as a float (no field of an event is
a number).
"""

from __future__ import annotations

from typing import Any

import orjson

from billable.rules.errors import FieldProblem, InvalidInput

MAX_DEPTH = 1024  # orjson's own limit: arrays and objects nested deeper are refused


def parse_json(text: str | bytes) -> Any:
    """The document in ``text``; ``json.JSONDecodeError`` (orjson's, a subclass) with the
    reason and its position if it is not JSON as this module reads it."""
    return orjson.loads(text)


def compact_json(document: Any) -> bytes:
    """``document`` as compact UTF-8 JSON (keys in their order, no spaces)."""
    return orjson.dumps(document)


def parse_body(body: bytes, field: str = "body") -> Any:
    """The document a request (or a line of a file, named by ``field``) holds; else
    ``InvalidInput`` saying why, with the position."""
    try:
        return parse_json(body)
    except orjson.JSONDecodeError as error:
        message = f"{field}: not valid JSON in UTF-8 ({error})"
        raise InvalidInput(message, [FieldProblem(field, "invalid.json", message)]) from None
