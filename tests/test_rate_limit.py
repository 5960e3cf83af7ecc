"""The rate limit counts a busy token in blocks, and stays exact: two counters (two server
processes) on one store, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from sqlalchemy import event

from billable.service.rate_limit import RateLimit
from billable.store import request_counts
from billable.store.database import Database

SECOND = 1_800_000_000_000  # an instant at the start of a second


def counters(database: Database, limit: int) -> RateLimit:
    request_counts.prepare(database)
    return RateLimit(database, limit, window_seconds=60)


def allowed(limit: RateLimit, token: str, now: int, requests: int) -> int:
    return sum(limit.count("org", token, now).allowed for _ in range(requests))


@contextmanager
def commits_of(database: Database) -> Iterator[list[object]]:
    """The transactions committed on ``database`` while the block runs."""
    commits: list[object] = []
    count = commits.append  # one bound method, to take off again
    event.listen(database.engine, "commit", count)
    try:
        yield commits
    finally:
        event.remove(database.engine, "commit", count)


def test_a_busy_token_is_counted_in_a_few_writes(database: Database) -> None:
    limit, token = counters(database, 1_000_000), uuid.uuid4().hex
    with commits_of(database) as commits:
        assert allowed(limit, token, SECOND + 10, 2_000) == 2_000
    # Blocks of 1, 2, 4, ... 1,024: eleven writes for 2,000 requests.
    assert len(commits) == 11


def test_a_token_busy_second_after_second_starts_each_at_its_last_block(database: Database) -> None:
    limit, token = counters(database, 1_000_000), uuid.uuid4().hex
    assert allowed(limit, token, SECOND, 2_000) == 2_000  # up to a block of 1,024
    with commits_of(database) as commits:
        assert allowed(limit, token, SECOND + 1_000, 2_000) == 2_000
    assert len(commits) == 2  # 1,024 and 1,024, not 1, 2, 4, ... again


def test_what_a_block_left_unused_is_taken_off(database: Database) -> None:
    """2,000 requests in one second leave part of a block unused (209 of the last 255);
    once taken off, exactly the limit passes in the window."""
    limit, token = counters(database, 4_000), uuid.uuid4().hex
    assert allowed(limit, token, SECOND, 2_000) == 2_000
    verdicts = [limit.count("org", token, SECOND + 1_000 + n // 10) for n in range(3_000)]
    assert sum(v.allowed for v in verdicts) == 2_000
    assert verdicts[1_999].allowed and not verdicts[2_000].allowed
    assert verdicts[2_000].retry_after_seconds == 59  # when the first second leaves the window


def test_two_processes_together_allow_exactly_the_limit(database: Database) -> None:
    first, second = counters(database, 3_000), counters(database, 3_000)
    token = uuid.uuid4().hex
    verdicts = [(first, second)[n % 2].count("org", token, SECOND + n // 10) for n in range(5_000)]
    assert sum(v.allowed for v in verdicts) == 3_000
    assert all(not v.allowed and v.retry_after_seconds >= 1 for v in verdicts[3_000:])


def test_near_the_limit_every_request_is_counted_as_it_comes() -> None:
    counted = [(0, 600)]
    assert request_counts.grantable(counted, 2_000, wanted=64) == 64  # 1,400 left
    assert request_counts.grantable(counted, 1_500, wanted=64) == 1  # 900 left
    assert request_counts.grantable(counted, 1_000_600, wanted=2_000_000) == 125_000  # an eighth of what is left


def test_threads_of_one_process_share_its_blocks(database: Database) -> None:
    limit, token = counters(database, 1_000_000), uuid.uuid4().hex
    with commits_of(database) as commits, ThreadPoolExecutor(max_workers=8) as pool:
        passed = sum(pool.map(lambda _: allowed(limit, token, SECOND + 20, 500), range(8)))
    assert passed == 4_000
    # A thread that finds the block used up while another asks the store for the next one
    # waits for it: about the writes of one thread (eleven blocks hold 2,047), not one per
    # thread and block.
    assert len(commits) <= 14, len(commits)
