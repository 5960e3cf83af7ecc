"""What a billable usage report is (billing-rules.md, sections 6 to 8)."""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter
from typing import Iterable, NamedTuple

from billable.rules.instants import DAY_MS, HOUR_MS, Period

RULES_VERSION = 1
"""The version of the billing rules this release computes reports by. A release that
changes what a report contains for the same events (a rule, a rounding) increments it, so
that no report computed by an older release is served again."""

CONCURRENT_WINDOW_MS = 30 * 60_000
"""A concurrent peak counts only when it is held this long."""


class Resource(NamedTuple):
    """One billed user (display name) or device (id), with the instant it became billable;
    for a product billed by the hour, the user's own hours (``hours_total``), which add up
    to the product's total before rounding.

    A named tuple: as immutable as a frozen dataclass, and made in two thirds of its time (a
    report of L makes 150,000: docs/performance.md)."""

    name: str
    date: int
    hours: str | None = None


def _in_order(resources: Iterable[Resource]) -> tuple[Resource, ...]:
    """Resources by date, then name, then hours: two users may share a display name (an
    email), and their hours then decide, not the order they were found in.

    Sorted once per key, the last key first (each sort is stable): L's 150,000 resources in
    131 ms, where one sort by a tuple of the three took 330 (docs/performance.md)."""
    ordered = list(resources)
    if any(resource.hours is not None for resource in ordered):
        ordered.sort(key=lambda resource: resource.hours or "")
    ordered.sort(key=attrgetter("name"))
    ordered.sort(key=attrgetter("date"))
    return tuple(ordered)


@dataclass(frozen=True)
class Usage:
    """The usage of one product or device type: its total and what makes it up."""

    name: str
    total_usage: str
    resources: tuple[Resource, ...]

    @classmethod
    def of(cls, name: str, total_usage: str, resources: Iterable[Resource]) -> "Usage":
        return cls(name, total_usage, _in_order(resources))


@dataclass(frozen=True)
class BillableUsageReport:
    period: Period
    usages: tuple[Usage, ...]

    @classmethod
    def of(cls, period: Period, usages: Iterable[Usage]) -> "BillableUsageReport":
        return cls(period, tuple(sorted((u for u in usages if u.resources), key=lambda u: u.name)))

    def usage(self, name: str) -> Usage | None:
        return next((u for u in self.usages if u.name == name), None)


def count_total(count: int) -> str:
    """A named or concurrent total: an integer."""
    return str(count)


def hours_total(milliseconds: int) -> str:
    """An hourly total: hours rounded half-up to exactly two decimals, in integer arithmetic."""
    hundredths = (milliseconds * 100 * 2 + HOUR_MS) // (2 * HOUR_MS)
    return f"{hundredths // 100}.{hundredths % 100:02d}"


@dataclass(frozen=True)
class DayPeak:
    """One UTC day (its part inside the period): the 30-minute peak, how long it was held, and
    the time the product's billed users were logged in."""

    day: int  # midnight UTC
    peak: int
    minutes_at_peak: int  # whole minutes with at least ``peak`` users logged in
    logged_in_ms: int  # the sessions' time inside the day, summed: what the hourly model bills


@dataclass(frozen=True)
class ProductPeaks:
    name: str
    peak: int  # over the whole period: the product's concurrent totalUsage
    days: tuple[DayPeak, ...]


@dataclass(frozen=True)
class ConcurrentUsageReport:
    period: Period
    model: str
    products: tuple[ProductPeaks, ...]


def day_windows(start: int, cut: int) -> list[tuple[int, int, int]]:
    """``(midnight, lo, hi)`` for each UTC day meeting ``[start, cut)``, clipped to it."""
    windows = []
    day = start - start % DAY_MS
    while day < cut:
        windows.append((day, max(day, start), min(day + DAY_MS, cut)))
        day += DAY_MS
    return windows
