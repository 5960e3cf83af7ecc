"""Sessions and license holdings: the one state machine both follow (billing-rules.md, 4).

Walked in ``(time, arrival sequence)`` order, an opening event (login, assigned) opens an
interval when none is open and changes nothing otherwise; a closing event (logout,
unassigned) closes the open interval and changes nothing otherwise. Intervals are
half-open ``[opened, closed)``; zero-length ones are dropped; one still open runs to the
cut-off of whatever report reads it, and is written with the end ``OPEN``.

A consequence the store relies on: the state after an event depends only on the event's
kind, so a walk may restart from the opening of any interval, as if nothing were open.
"""

from __future__ import annotations

from typing import Iterable

OPEN = 2**63 - 1
"""The end of an interval that is still open: later than any instant."""


def intervals(transitions: Iterable[tuple[int, bool]]) -> list[tuple[int, int]]:
    """The intervals made by ``(time, opens)`` transitions given in walking order."""
    found = []
    opened_at: int | None = None
    for time, opens in transitions:
        if opens:
            if opened_at is None:
                opened_at = time
        elif opened_at is not None:
            if time > opened_at:
                found.append((opened_at, time))
            opened_at = None
    if opened_at is not None:
        found.append((opened_at, OPEN))
    return found


def overlap(interval: tuple[int, int], start: int, cut: int) -> int:
    """Length of the part of ``interval`` inside ``[start, cut)``; 0 when they do not meet."""
    return max(0, min(interval[1], cut) - max(interval[0], start))
