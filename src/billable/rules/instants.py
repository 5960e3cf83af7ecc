"""Instants and periods: every time in billing is UTC epoch milliseconds (an ``int``).

Integers compare, subtract and store the same way in Python, SQLite and PostgreSQL,
so the rules, the store and the engine never disagree about an instant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import numpy as np

from billable.rules.errors import InvalidPeriod

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MILLISECOND = timedelta(milliseconds=1)
MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
WEEK_MS = 7 * DAY_MS  # a UTC week: weeks are counted from the epoch, a Thursday
MAX_PERIOD_DAYS = 366
# Every instant billable takes in (an event's time, a period's bounds, asOf, receivedAfter)
# lies in the years 1 to 9999 in UTC, the years every date we send can be written in.
EARLIEST_INSTANT = -62_135_596_800_000  # 0001-01-01T00:00:00.000Z
LATEST_INSTANT = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
RANGE_TEXT = "0001-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z"


class InstantOutOfRange(ValueError):
    """A well-formed date-time whose instant is outside the years 1 to 9999 in UTC."""

    def __init__(self) -> None:
        super().__init__(f"outside the instants billable takes: {RANGE_TEXT}")


def instant_from_datetime(moment: datetime) -> int:
    """Epoch milliseconds of ``moment``, truncated; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - EPOCH) // MILLISECOND


def parse_instant(text: str, *, allow_date: bool = False) -> int:
    """Parse an ISO-8601 date-time (any offset, ``Z``, or none meaning UTC).

    Finer precision than milliseconds is truncated. With ``allow_date`` a plain
    date (``2026-10-01``) means midnight UTC. Raises ``ValueError`` otherwise, and
    ``InstantOutOfRange`` (a ``ValueError``) for an instant outside the years 1 to 9999 in
    UTC (``0001-01-01T00:00:00+01:00`` is written in year 1 and is in year 0 in UTC).
    """
    if not isinstance(text, str):
        raise ValueError("not a string")
    text = text.strip()
    if len(text) == 10 and allow_date:
        instant = instant_from_datetime(datetime.combine(date.fromisoformat(text), datetime.min.time()))
    elif len(text) < 16 or text[10] not in "Tt ":
        raise ValueError("not an ISO-8601 date-time")
    else:
        instant = instant_from_datetime(datetime.fromisoformat(text))
    if not EARLIEST_INSTANT <= instant <= LATEST_INSTANT:
        raise InstantOutOfRange()
    return instant


def datetime_from_instant(instant: int) -> datetime:
    return EPOCH + timedelta(milliseconds=instant)


def format_instant(instant: int) -> str:
    """``yyyy-MM-ddTHH:mm:ss.SSSZ`` in UTC, the wire format of every date we send.

    It formats any instant the store can hold: one outside the years 1 to 9999 (stored
    before they were refused) with a signed six-digit year, as ISO 8601's expanded years and
    JavaScript's ``Date`` write it (``+010000-01-01T00:59:59.000Z``), rather than failing
    every listing and report that reaches it."""
    if EARLIEST_INSTANT <= instant <= LATEST_INSTANT:
        return datetime_from_instant(instant).isoformat(timespec="milliseconds")[:23] + "Z"
    return _expanded(instant)


def _expanded(instant: int) -> str:
    text = str(np.datetime_as_string(np.datetime64(instant, "ms"), unit="ms"))
    sign, unsigned = ("-", text[1:]) if text.startswith("-") else ("+", text)
    year, rest = unsigned.split("-", 1)
    return f"{sign}{int(year):06d}-{rest}Z"


def format_instants(instants: Sequence[int]) -> list[str]:
    """``format_instant`` of each, at once, each distinct instant formatted once (most of a
    report's dates are its period's start): 50,000 dates in 12 ms, where formatting each took
    44 (and one at a time, five times that)."""
    if not instants:
        return []
    if not EARLIEST_INSTANT <= min(instants) <= max(instants) <= LATEST_INSTANT:
        return [format_instant(instant) for instant in instants]
    distinct, each = np.unique(np.asarray(instants, dtype=np.int64), return_inverse=True)
    texts = np.char.add(np.datetime_as_string(distinct.astype("datetime64[ms]"), unit="ms"), "Z").tolist()
    return [texts[index] for index in each.tolist()]


@dataclass(frozen=True)
class Period:
    """A half-open report period ``[start, end)`` in epoch milliseconds."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if self.start >= self.end:
            raise InvalidPeriod("endDate", "the period must end after it starts")
        if self.end - self.start > MAX_PERIOD_DAYS * DAY_MS:
            raise InvalidPeriod("endDate", f"the period may span at most {MAX_PERIOD_DAYS} days")

    @classmethod
    def parse(cls, start: str, end: str) -> "Period":
        """Build a period from request text, naming the field that is malformed."""
        bounds = {}
        for field, text in (("startDate", start), ("endDate", end)):
            try:
                bounds[field] = parse_instant(text, allow_date=True)
            except InstantOutOfRange:
                raise InvalidPeriod(field, f"{field} must be from {RANGE_TEXT}") from None
            except ValueError:
                raise InvalidPeriod(field, f"{field} must be an ISO-8601 date-time or date") from None
        return cls(bounds["startDate"], bounds["endDate"])

    def cut_off(self, now: int) -> int:
        """``min(end, now)``: nothing after it is counted."""
        return min(self.end, now)


def system_now() -> int:
    """The current instant; pass another clock wherever a test must control ``now``."""
    return instant_from_datetime(datetime.now(timezone.utc))
