"""JSON in and out: orjson's speed, the standard library's reading.

Every event and every report passes through here, and the standard library's JSON was
the largest single cost of ingesting an event. The same documents are read and refused
as by ``json.loads``: what orjson refuses (``NaN``, infinities, lone surrogates) is
read by ``json.loads``, which also words the error of a document that is not JSON. One
difference: an integer beyond 64 bits comes back as a float (no field of an event is a
number).
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def parse_json(text: str | bytes) -> Any:
    """The document in ``text``; ``json.JSONDecodeError`` if it is not JSON."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def compact_json(document: Any) -> bytes:
    """``document`` as compact UTF-8 JSON (keys in their order, no spaces)."""
    return orjson.dumps(document)
