"""Each user's sessions packed per week, for the report that reads every session of a
period (the concurrent peaks): one row per user and week instead of one per session.

``bounds`` holds the sessions that started in the week (UTC weeks from the epoch) as
little-endian 64-bit ``(started_at, ended_at)`` pairs in time order; an open session ends
at ``OPEN``. Only the weeks before the one of the log's latest event are packed, sealed
when that event passes them: ingestion in time order writes here when a week ends and
for the sessions still open then, and a late event or a void that changes a sealed
week's sessions repacks it. A report reads the sealed weeks packed and the rest from
``sessions``; a report as of an earlier instant reads the sessions and their history
(history.py).
"""

from __future__ import annotations

import struct
from collections import defaultdict
from collections.abc import Iterable
from itertools import chain, groupby, islice

import numpy as np
from sqlalchemy import BigInteger, Column, Connection, MetaData, String, Table, and_, func, select

from billable.rules.instants import WEEK_MS
from billable.rules.intervals import OPEN
from billable.store.sql import (
    LoopJoin,
    bulk_delete,
    bulk_insert,
    plain_row_chunks,
    plain_rows,
    prefer_index_loops,
    rows_of,
)
from billable.store.tables import RETIRED, organizations, session_weeks, sessions

_PAIR = struct.Struct("<qq")
_SEALED_AT_ONCE = 2_000  # sessions read, and packed weeks written, at a time

Session = tuple[str, int, int]
"""``(user_id, started_at, ended_at)``."""


def week_of(instant: int) -> int:
    """The start of the week holding ``instant``."""
    return instant - instant % WEEK_MS


def pack(pairs: Iterable[tuple[int, int]]) -> bytes:
    flat = list(chain.from_iterable(pairs))
    return struct.pack(f"<{len(flat)}q", *flat)


def unpack(bounds: bytes) -> list[tuple[int, int]]:
    return list(_PAIR.iter_unpack(bounds))


_week_keys = Table(
    "week_keys",
    MetaData(),
    Column("user_id", String(256), nullable=False),
    Column("week", BigInteger, nullable=False),
    prefixes=["TEMPORARY"],
)


def packed_until(latest_event_time: int | None) -> int | None:
    """The weeks before this one are packed, given the log's latest event time."""
    return None if latest_event_time is None else week_of(latest_event_time)


def seal(conn: Connection, org_id: str, latest_before: int | None, latest_after: int) -> int:
    """Pack the weeks that the log's latest event time, moving from ``latest_before`` to
    ``latest_after``, has passed, from their sessions as they are now; the rows written."""
    since, until = packed_until(latest_before), week_of(latest_after)
    if since is not None and since >= until:
        return 0
    s = sessions.c
    passed = select(s.user_id, s.started_at, s.ended_at).where(
        s.org_id == org_id, s.started_at < until, *(() if since is None else (s.started_at >= since,))
    ).order_by(s.user_id, s.ended_at)
    # Read and written a bounded number of rows at a time: the first week sealed holds
    # every session of the organization's first week.
    rows = chain.from_iterable(plain_row_chunks(conn, passed, _SEALED_AT_ONCE, streamed=True))
    packed = ((org_id, user_id, week, pack((started, ended) for _, started, ended in found))
              for (user_id, week), found in groupby(rows, key=lambda row: (row[0], week_of(row[1]))))
    written = 0
    while batch := list(islice(packed, _SEALED_AT_ONCE)):
        bulk_insert(conn, session_weeks, ("org_id", "user_id", "week", "bounds"), batch)
        written += len(batch)
    return written


def packed_now(conn: Connection, org_id: str) -> int | None:
    """The weeks before this one are packed now (None: none is)."""
    return packed_until(conn.execute(select(organizations.c.latest_event_time)
                                     .where(organizations.c.id == org_id)).scalar())


def unchanged_before(conn: Connection, org_id: str, sequence: int) -> int:
    """The earliest start of a session written or retired since ``sequence`` (``OPEN``: none
    was): the sessions started before it were then what they are now, so the packed weeks
    before its week hold them as they were then as well. A session then that is not one now
    was retired since, or closed in place since (its row written since, ``created_seq``); a
    session now that was not one then was written since."""
    s, r = sessions.c, RETIRED[sessions].c
    written = select(func.min(s.started_at)).where(s.org_id == org_id, s.created_seq > sequence).scalar_subquery()
    retired = select(func.min(r.started_at)).where(r.org_id == org_id, r.retired_seq > sequence).scalar_subquery()
    return min((int(start) for start in conn.execute(select(written, retired)).one() if start is not None), default=OPEN)


def repack(conn: Connection, org_id: str, removed: Iterable[Session], added: Iterable[Session]) -> None:
    """Take the sessions ``removed`` out of their users' packed weeks and put those ``added`` in."""
    until = packed_now(conn, org_id)
    if until is None:
        return
    gone: dict[tuple[str, int], set[tuple[int, int]]] = defaultdict(set)
    new: dict[tuple[str, int], list[tuple[int, int]]] = defaultdict(list)
    for user_id, started, ended in removed:
        if started < until:
            gone[(user_id, week_of(started))].add((started, ended))
    for user_id, started, ended in added:
        if started < until:
            new[(user_id, week_of(started))].append((started, ended))
    keys = gone.keys() | new.keys()
    if not keys:
        return
    stored = packed_weeks(conn, org_id, keys)
    wanted = {key: _changed(stored.get(key, b""), gone.get(key, set()), sorted(new.get(key, ()))) for key in keys}
    bulk_delete(conn, session_weeks, org_id, ("user_id", "week"), [key for key in keys if key in stored])
    bulk_insert(conn, session_weeks, ("org_id", "user_id", "week", "bounds"),
                [(org_id, user_id, week, bounds) for (user_id, week), bounds in wanted.items() if bounds])


def packed_weeks(conn: Connection, org_id: str, keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], bytes]:
    """The packed sessions stored of each ``(user_id, week)`` of ``keys`` that has a row."""
    prefer_index_loops(conn)
    key = rows_of(conn, _week_keys, list(keys))
    w = session_weeks.c
    return {(user_id, week): bytes(bounds) for user_id, week, bounds in plain_rows(
        conn, select(w.user_id, w.week, w.bounds).select_from(
            LoopJoin(key, session_weeks, and_(w.org_id == org_id, w.user_id == key.c.user_id, w.week == key.c.week))))}


def _changed(bounds: bytes, gone: set[tuple[int, int]], new: list[tuple[int, int]]) -> bytes:
    """``bounds`` without the sessions ``gone``, with those ``new`` (in time order)."""
    # A batch in time order closes the week's last session, the one open, and adds later
    # ones: the packed bytes are cut and extended, not unpacked.
    kept = bounds
    if gone:
        if not bounds or gone != {_PAIR.unpack_from(bounds, len(bounds) - _PAIR.size)}:
            return _repacked(bounds, gone, new)
        kept = bounds[: -_PAIR.size]
    if kept and new and _PAIR.unpack_from(kept, len(kept) - _PAIR.size)[1] > new[0][0]:
        return _repacked(bounds, gone, new)
    return kept + pack(new)


def _repacked(bounds: bytes, gone: set[tuple[int, int]], new: list[tuple[int, int]]) -> bytes:
    return pack(sorted(set(unpack(bounds)) - gone | set(new)))


def as_array(bounds: Iterable[bytes]) -> np.ndarray:
    """Packed sessions as an ``(n, 2)`` array of ``(started_at, ended_at)``."""
    return np.frombuffer(b"".join(bounds), dtype="<i8").reshape(-1, 2)
