"""The rate limit: requests per token over a rolling window, counted in the store so that
every server process shares it.

When the counts' own store fails (a full disk under SQLite's side file, PostgreSQL
restarting), requests are not refused for it: each process counts in its memory instead,
with the same limit, until the store answers again. A client then gets at most the limit
from each process it reaches (never unlimited), and the switch is logged both ways.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from threading import Lock

from billable.rules.errors import StoreUnavailable
from billable.store import ratelimits
from billable.store.database import Database
from billable.store.ratelimits import Verdict

log = logging.getLogger("billable.ratelimit")


class RateLimit:
    def __init__(self, counters: Database, limit: int, window_seconds: int):
        self.counters = counters
        self.limit = limit
        self.window_seconds = window_seconds
        self._lock = Lock()
        self._local: defaultdict[str, dict[int, int]] = defaultdict(dict)  # token hash -> second -> count
        self.degraded = False  # counting in memory: the store failed

    def count(self, org_id: str, token_hash: str, now: int) -> Verdict:
        """Count one request of the token (of ``org_id``), unless it is over the limit."""
        try:
            with self.counters.write() as conn:
                verdict = ratelimits.count_request(conn, org_id, token_hash, now, self.limit, self.window_seconds)
        except StoreUnavailable as error:
            if not self.degraded:
                log.warning("rate limit: its store is %s; counting in this process's memory until it answers",
                            error.condition)
            self.degraded = True
            return self._count_locally(token_hash, now)
        if self.degraded:
            log.warning("rate limit: its store answers again; counting there")
            self.degraded = False
            with self._lock:
                self._local.clear()
        return verdict

    def _count_locally(self, token_hash: str, now: int) -> Verdict:
        second = now // 1000
        oldest = second - self.window_seconds + 1
        with self._lock:
            counts = self._local[token_hash]
            for old in [s for s in counts if s < oldest]:
                del counts[old]
            verdict = ratelimits.verdict(sorted(counts.items()), second, self.limit, self.window_seconds)
            if verdict.allowed:
                counts[second] = counts.get(second, 0) + 1
            return verdict
