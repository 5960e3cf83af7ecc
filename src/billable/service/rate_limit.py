"""The rate limit: requests per client over a rolling window (every token of a client counts
against one allowance), counted in the store so that every server process shares it.

When the counts' own store fails (a full disk under SQLite's side file, PostgreSQL
restarting), requests are not refused for it: each process counts in its memory instead,
with the same limit, until the store answers again. A client then gets at most the limit
from each process it reaches (never unlimited), and the switch is logged both ways.

A client far from its limit is counted in blocks: a process that counts one request of a
client asks the store to count up to twice as many as its last block in the same second
(``store/request_counts.py: grantable`` caps that at an eighth of what is left, and counts one
at a time near the limit), and allows the rest of that second's block without asking; a new
second starts from the last second's block size. At 2,000 requests a second that is eleven
writes for the first second and two for each after it, instead of 2,000. While one thread
asks the store for a client's next block, the process's other threads wait for it. What is
left of a block when its second has passed is taken off the store's count with the
process's next count of that client, so the counts stay exact after the fact; until then
they only ever count more, never fewer, than were made.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from threading import Condition, Lock

from billable.rules.errors import StoreUnavailable
from billable.store import request_counts
from billable.store.database import Database
from billable.store.request_counts import Unused, Verdict

log = logging.getLogger("billable.ratelimit")
_LARGEST_BLOCK = 1024
_WAIT_FOR_BLOCK_SECONDS = 1.0  # then ask the store all the same


@dataclass(frozen=True)
class Block:
    """Requests of one counter counted in the store at ``second`` in advance: ``size`` of
    them, ``left`` not yet made."""

    second: int
    size: int
    left: int


class RateLimit:
    def __init__(self, counters: Database, limit: int, window_seconds: int):
        self.counters = counters
        self.limit = limit
        self.window_seconds = window_seconds
        self._lock = Lock()
        self._local: defaultdict[str, dict[int, int]] = defaultdict(dict)  # counter -> second -> count
        self._blocks: dict[str, Block] = {}  # counter -> its block
        self._asking: set[str] = set()  # counters whose next block a thread asks the store for
        self._answered = Condition(self._lock)
        self.degraded = False  # counting in memory: the store failed

    @classmethod
    def beside(cls, database: Database, limit: int, window_seconds: int) -> RateLimit:
        """A rate limit counted where ``database`` keeps its counts (store/request_counts.py)."""
        return cls(request_counts.counter_database(database), limit, window_seconds)

    def prepare(self) -> None:
        """Make the counts' table, unless it exists (at a server's start)."""
        request_counts.prepare(self.counters)

    def close(self, database: Database) -> None:
        """Close the counts' own connections, unless they are ``database``'s."""
        if self.counters is not database:
            self.counters.dispose()

    def count(self, org_id: str, counter: str, now: int) -> Verdict:
        """Count one request of ``counter`` (a client of ``org_id``), unless it is over the limit."""
        second = now // 1000
        with self._lock:
            while True:
                block = self._blocks.get(counter)
                if block is not None and block.left > 0 and block.second == second:
                    self._blocks[counter] = Block(second, block.size, block.left - 1)
                    return Verdict(True)
                # Another thread of this process is asking the store for the counter's next
                # block, sized for the requests that come meanwhile: wait for it rather than
                # ask as well (every request of a busy moment went to the store: M on
                # PostgreSQL, 4,585 counts in the store for 24,000 requests).
                if counter not in self._asking or not self._answered.wait(_WAIT_FOR_BLOCK_SECONDS):
                    break
            self._asking.add(counter)
            if block is not None and block.left > 0:
                self._blocks[counter] = Block(block.second, block.size, 0)  # taken off with this count
        try:
            return self._count_in_store(org_id, counter, now, block)
        finally:
            with self._lock:
                self._asking.discard(counter)
                self._answered.notify_all()

    def _count_in_store(self, org_id: str, counter: str, now: int, block: Block | None) -> Verdict:
        second = now // 1000
        # Twice the block of this second; the size of the last second's, at a new second.
        wanted = 1
        if block is not None and block.second == second:
            wanted = min(2 * block.size, _LARGEST_BLOCK)
        elif block is not None and block.second == second - 1:
            wanted = block.size
        unused = Unused(block.second, block.left) if block is not None and block.left > 0 else None
        try:
            with self.counters.write() as conn:
                verdict, counted = request_counts.count_request(conn, org_id, counter, now, self.limit,
                                                            self.window_seconds, wanted, unused)
        except StoreUnavailable as error:
            if not self.degraded:
                log.warning("rate limit: its store is %s; counting in this process's memory until it answers",
                            error.condition)
            self.degraded = True
            return self._count_locally(counter, now)
        if self.degraded:
            log.warning("rate limit: its store answers again; counting there")
            self.degraded = False
            with self._lock:
                self._local.clear()
        if counted:
            with self._lock:  # what another thread's block of this second has left is kept too
                other = self._blocks.get(counter)
                if other is not None and other.second == second:
                    self._blocks[counter] = Block(second, max(counted, other.size), other.left + counted - 1)
                else:
                    self._blocks[counter] = Block(second, counted, counted - 1)
        return verdict

    def _count_locally(self, counter: str, now: int) -> Verdict:
        second = now // 1000
        oldest = second - self.window_seconds + 1
        with self._lock:
            counts = self._local[counter]
            for old in [s for s in counts if s < oldest]:
                del counts[old]
            verdict = request_counts.verdict(sorted(counts.items()), second, self.limit, self.window_seconds)
            if verdict.allowed:
                counts[second] = counts.get(second, 0) + 1
            return verdict
