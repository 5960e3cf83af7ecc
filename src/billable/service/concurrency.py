"""The concurrent peak of a set of sessions, vectorized (billing-rules.md, section 6)."""

from __future__ import annotations

import numpy as np

from billable.rules.report import CONCURRENT_WINDOW_MS


def _level_curve(started: np.ndarray, ended: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """The number of open sessions on each segment of ``[lo, hi)``, and each segment's
    length (the first and the last may be empty)."""
    started, ended = np.maximum(started, lo), np.minimum(ended, hi)
    inside = ended > started
    # Each start and end as one number: its offset from ``lo`` doubled, plus one for a start.
    # Only the level after all the changes at an instant counts, so their order there is moot.
    # The starts and the ends are sorted apart, in 32 bits where the span allows (twice as
    # fast as 64), then merged: a stable sort of two sorted runs is one pass. L's largest
    # product, 2.3 million sessions: 265 ms instead of 385 for one sort of both.
    width = np.uint32 if hi - lo < 2**32 else np.int64
    changes = np.concatenate([np.sort((started[inside] - lo).astype(width)).astype(np.int64) * 2 + 1,
                              np.sort((ended[inside] - lo).astype(width)).astype(np.int64) * 2])
    changes.sort(kind="stable")
    level = np.cumsum((changes & 1) * 2 - 1)
    times = (changes >> 1) + lo
    last = np.ones(len(times), dtype=bool)  # the last change at its instant
    last[:-1] = times[1:] != times[:-1]
    # The level on [t, next t): 0 before the first change.
    return np.concatenate([[0], level[last]]), np.diff(np.concatenate([[lo], times[last], [hi]]))


def concurrent_peak(started: np.ndarray, ended: np.ndarray, start: int, cut: int) -> int:
    """The largest k such that at least k sessions are open throughout some 30-minute
    window inside ``[start, cut)``.

    Such a window exists for k exactly when the stretches where the level is at least k
    add up, run by run, to 30 minutes somewhere; that test is monotone in k, so k is found
    by bisection, each step one pass over the level's segments.
    """
    if cut - start < CONCURRENT_WINDOW_MS:
        return 0
    levels, lengths = _level_curve(started, ended, start, cut)
    reach = np.concatenate([[0], np.cumsum(lengths)])  # from ``start`` to the start of each segment

    def held_for_a_window(k: int) -> bool:
        at_least = np.concatenate([[False], levels >= k, [False]])
        edges = np.flatnonzero(at_least[1:] != at_least[:-1])  # each run from one edge to the next
        return bool((reach[edges[1::2]] - reach[edges[0::2]]).max(initial=0) >= CONCURRENT_WINDOW_MS)

    low, high = 0, int(levels.max(initial=0))
    while low < high:
        middle = (low + high + 1) // 2
        if held_for_a_window(middle):
            low = middle
        else:
            high = middle - 1
    return low


def time_at_least(started: np.ndarray, ended: np.ndarray, lo: int, hi: int, level: int) -> int:
    """Milliseconds of ``[lo, hi)`` with at least ``level`` sessions open."""
    levels, lengths = _level_curve(started, ended, lo, hi)
    return int(lengths[levels >= level].sum())


def logged_in(started: np.ndarray, ended: np.ndarray, lo: int, hi: int) -> int:
    """Milliseconds of the sessions inside ``[lo, hi)``, summed."""
    return int(np.clip(np.minimum(ended, hi) - np.maximum(started, lo), 0, None).sum())
