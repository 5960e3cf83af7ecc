"""What events reach in the derived state (docs/architecture.md): the one classifier of it.

Events appended, events voided, and the events since an instant a report is asked as of
all go through ``touched_by``: for each key of the sessions and holdings, its events as a
walk takes them; the device days with their first activity; each user's latest email.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from billable.rules.events import ASSIGNED, DEVICE_ACTIVE, EMAIL_TYPES, HOLDING_TYPES, LOGIN, SESSION_TYPES
from billable.rules.instants import DAY_MS

Transition = tuple[int, int, bool]
"""An event of an interval's key as the walk takes it: ``(time, arrival sequence, opens)``."""
IntervalKey = tuple[str, str]  # (user id, product): the product is '' for a session
DeviceDay = tuple[int, str, str]  # (day, device type, device id)
EmailMark = tuple[int, int, str]  # (time, arrival sequence, email) of the event that gives it


class Touching(Protocol):
    """An event as the classifier reads it (a ``UsageEvent``, a ``StoredEvent``)."""

    @property
    def type(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def time(self) -> int: ...
    @property
    def product(self) -> str | None: ...
    @property
    def device_type(self) -> str | None: ...
    @property
    def email(self) -> str | None: ...


@dataclass
class Touched:
    sessions: dict[IntervalKey, list[Transition]] = field(default_factory=dict)
    holdings: dict[IntervalKey, list[Transition]] = field(default_factory=dict)
    device_days: dict[DeviceDay, int] = field(default_factory=dict)  # the first activity among the events
    emails: dict[str, EmailMark] = field(default_factory=dict)  # each user's latest among the events


def touched_by(events: Iterable[tuple[int, Touching]], found: Touched | None = None) -> Touched:
    """What ``events``, each with its arrival sequence, reach; with ``found`` (what earlier
    events reach), taken into it."""
    found = Touched() if found is None else found
    for seq, event in events:
        kind, subject, time = event.type, event.subject, event.time
        if kind == DEVICE_ACTIVE:
            day = (time // DAY_MS * DAY_MS, event.device_type or "", subject)
            found.device_days[day] = min(time, found.device_days.get(day, time))
        elif kind in SESSION_TYPES:
            found.sessions.setdefault((subject, ""), []).append((time, seq, kind == LOGIN))
        elif kind in HOLDING_TYPES:
            found.holdings.setdefault((subject, event.product or ""), []).append((time, seq, kind == ASSIGNED))
        if kind in EMAIL_TYPES:
            email = event.email
            if email is not None and (subject not in found.emails or (time, seq, email) > found.emails[subject]):
                found.emails[subject] = (time, seq, email)
    return found


def walked_since(walks: dict[IntervalKey, list[Transition]]) -> dict[IntervalKey, int]:
    """Per key, a millisecond before its earliest event: where a walk must start again to
    take the events back (a closing event at an interval's very end changed that interval)."""
    return {key: min(time for time, _, _ in walk) - 1 for key, walk in walks.items()}
