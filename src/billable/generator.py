"""Realistic, reproducible usage: the demo organization's month and the benchmark data sets.

Users work shifts on weekdays in 2 to 4 sessions a day, a few percent change license
during the period, a few percent never log in, devices report ``device.active`` about
hourly, about 1% of events are sent twice and about 1% arrive late (out of time order).
The same seed always gives the same events, in the same arrival order.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from billable.rules.instants import DAY_MS, HOUR_MS, MINUTE_MS, datetime_from_instant, format_instant

SOURCE = "urn:billable:generator"
BASE_PRODUCTS = (("cx1", 40), ("cx2", 25), ("cx3", 15), ("communicate", 12), ("collaborate", 8))
WEM_PRODUCTS = (("wem1", 20), ("wem2", 10), (None, 70))
DEVICE_TYPES = ("edge", "virtual-edge", "phone")


@dataclass(frozen=True)
class Workload:
    """What to generate: ``users`` over ``days`` days from ``start`` (epoch ms, midnight UTC)."""

    users: int
    days: int
    start: int
    seed: int = 1
    domain: str = "example.com"
    duplicate_rate: float = 0.01
    late_rate: float = 0.01

    @property
    def devices(self) -> int:
        return max(1, self.users // 50)


def _pick(rng: random.Random, weighted: tuple[tuple[Any, int], ...]) -> Any:
    return rng.choices([value for value, _ in weighted], weights=[w for _, w in weighted])[0]


class _Stream:
    """Numbers events and writes them as CloudEvents; one source per workload, so two
    workloads never share a (source, id)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.count = 0

    def event(self, kind: str, subject: str, time: int, data: dict[str, str] | None = None) -> dict[str, Any]:
        self.count += 1
        event: dict[str, Any] = {
            "specversion": "1.0",
            "id": f"e{self.count:09d}",
            "source": self.source,
            "type": kind,
            "time": format_instant(time),
            "subject": subject,
        }
        if data:
            event["data"] = data
        return event


def _user_day(rng: random.Random, stream: _Stream, user: str, email: str, day: int, shift: int) -> list[tuple[int, dict[str, Any]]]:
    """One working day of one user: 2 to 4 sessions inside an 8-hour shift."""
    found = []
    sessions = rng.randint(2, 4)
    cursor = day + shift * HOUR_MS + rng.randint(-20, 20) * MINUTE_MS
    for _ in range(sessions):
        length = rng.randint(60, 8 * 60 // sessions + 60) * MINUTE_MS + rng.randint(0, 59_999)
        found.append((cursor, stream.event("user.login", user, cursor, {"email": email})))
        cursor += length
        found.append((cursor, stream.event("user.logout", user, cursor, {"email": email})))
        cursor += rng.randint(5, 45) * MINUTE_MS
    return found


def generate(workload: Workload) -> Iterator[dict[str, Any]]:
    """The events of ``workload`` in arrival order, one day of activity at a time."""
    rng = random.Random(workload.seed)
    stream = _Stream(f"{SOURCE}/{workload.seed}/{format_instant(workload.start)[:10]}")
    users = [f"user-{i:06d}" for i in range(workload.users)]
    emails = {user: f"{user}@{workload.domain}" for user in users}
    shifts = {user: rng.randint(5, 14) for user in users}
    absent = {user for user in users if rng.random() < 0.03}
    licenses: dict[str, list[str]] = {}
    setup = []
    before = workload.start - DAY_MS
    for user in users:
        owned = [_pick(rng, BASE_PRODUCTS)]
        wem = _pick(rng, WEM_PRODUCTS)
        if wem:
            owned.append(wem)
        licenses[user] = owned
        for product in owned:
            setup.append(stream.event("license.assigned", user, before, {"product": product, "email": emails[user]}))
    yield from setup

    changes = {user: rng.randrange(workload.days) for user in users if rng.random() < 0.04}
    devices = [(f"{DEVICE_TYPES[i % 3]}-{i:05d}", DEVICE_TYPES[i % 3]) for i in range(workload.devices)]
    late: list[dict[str, Any]] = []
    for day_number in range(workload.days):
        day = workload.start + day_number * DAY_MS
        timed: list[tuple[int, dict[str, Any]]] = []
        weekday = datetime_from_instant(day).weekday() < 5
        for user in users:
            if changes.get(user) == day_number:
                at = day + rng.randint(0, 23) * HOUR_MS
                old = licenses[user][0]
                new = _pick(rng, BASE_PRODUCTS)
                if new != old:
                    timed.append((at, stream.event("license.unassigned", user, at, {"product": old})))
                    timed.append((at, stream.event("license.assigned", user, at, {"product": new})))
                    licenses[user][0] = new
            if weekday and user not in absent and rng.random() < 0.92:
                timed.extend(_user_day(rng, stream, user, emails[user], day, shifts[user]))
        for device, device_type in devices:
            offset = rng.randint(0, 59) * MINUTE_MS
            for hour in range(24):
                at = day + hour * HOUR_MS + offset
                timed.append((at, stream.event("device.active", device, at, {"deviceType": device_type})))
        timed.sort(key=lambda pair: pair[0])
        on_time: list[dict[str, Any]] = []
        held_back: list[dict[str, Any]] = []
        for _, event in timed:
            (held_back if rng.random() < workload.late_rate else on_time).append(event)
        # What was held back yesterday arrives among today's events.
        for event in _mix_in(rng, on_time, late):
            yield event
            if rng.random() < workload.duplicate_rate:
                yield dict(event)
        late = held_back
    yield from late


def _mix_in(rng: random.Random, events: list[dict[str, Any]], extra: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``events`` with ``extra`` inserted at random places."""
    places = sorted(rng.randrange(len(events) + 1) for _ in extra)
    mixed, previous = [], 0
    for place, event in zip(places, extra):
        mixed.extend(events[previous:place])
        mixed.append(event)
        previous = place
    mixed.extend(events[previous:])
    return mixed
