"""Loading a file of events (the command line's ``ingest``): every event is validated before
any is stored; then they are stored in large commits. A load interrupted and run again
stores nothing twice: what was stored is recognized by ``(source, id)``."""

from __future__ import annotations

import gc
import json
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from itertools import islice
from typing import IO, Any, BinaryIO

import msgspec

from billable.rules.catalog import Catalog
from billable.rules.decoding import decode_lines
from billable.rules.errors import FieldProblem, InvalidEvents, InvalidInput
from billable.rules.events import UsageEvent, validate_events
from billable.rules.wire import parse_json
from billable.service.ingestion import MAX_BATCH_EVENTS, IngestResult, after_bulk_load, store_batches
from billable.store.database import Database

# A batch touches about as many pages of the derived state as it has users, whatever its
# size, so bigger commits write less.
EVENTS_PER_TRANSACTION = 100_000
MAX_PROBLEMS_SHOWN = 20

Progress = Callable[[int], None]  # told how many more events were stored


def _line_groups(stream: BinaryIO, size: int = MAX_BATCH_EVENTS) -> Iterator[list[tuple[int, bytes]]]:
    """The file's events as groups of ``(line number, text)``, blank lines left out; a JSON
    array (the file begins with ``[``) is one group of one line."""
    first = stream.read(1)
    while first and first.isspace():
        first = stream.read(1)
    if first == b"[":
        yield [(0, first + stream.read())]
        return
    pending, group = first, []
    for number, line in enumerate(stream, start=1):
        line, pending = pending + line, b""
        if line.strip():
            group.append((number, line))
            if len(group) == size:
                yield group
                group = []
    if group:
        yield group


def _parsed(lines: list[tuple[int, bytes]]) -> Iterator[Any]:
    for number, line in lines:
        try:
            document = parse_json(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            message = f"line {number}: not valid JSON ({getattr(error, 'msg', error)})"
            raise InvalidInput(message, [FieldProblem(f"line {number}", "invalid.json", message)]) from None
        if number == 0:  # the array
            yield from document
        else:
            yield document


@contextmanager
def rare_collections() -> Iterator[None]:
    """Fewer runs of the cyclic garbage collector while loading. A load makes millions of
    short-lived objects (events, rows, tuples) and no reference cycles of its own, so the
    collector, run every 700 allocations by default, walks the same survivors again and
    again for nothing (300,000 events of M: 6.7 s with the default, 6.2 s with these)."""
    thresholds = gc.get_threshold()
    gc.freeze()  # what exists before the load is not walked at all
    gc.set_threshold(100_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def batches(events: Iterable[Any], size: int = MAX_BATCH_EVENTS) -> Iterator[list[Any]]:
    iterator = iter(events)
    while batch := list(islice(iterator, size)):
        yield batch


class CheckedEvents:
    """Every event of a file, validated, kept in a spool (a temporary file) from which
    they are stored without being parsed and checked again."""

    def __init__(self, spool: IO[bytes], count: int):
        self._spool = spool
        self.count = count

    def batches(self) -> Iterator[list[UsageEvent]]:
        self._spool.seek(0)
        while length := self._spool.read(8):
            yield _SPOOLED.decode(self._spool.read(int.from_bytes(length, "little")))


@contextmanager
def checked(open_events: Callable[[], BinaryIO], catalog: Catalog, now: int) -> Iterator[CheckedEvents]:
    """Validate every event ``open_events()`` reads; ``InvalidEvents`` names the first
    problems (by the event's position in the file) and nothing is stored.

    NDJSON lines are decoded and checked in one pass, ten thousand at a time
    (rules/decoding.py); a group with any problem, or an array, is parsed and checked
    event by event, so that every problem is named.
    """
    problems: list[FieldProblem] = []
    count = 0
    with rare_collections(), tempfile.TemporaryFile() as spool, open_events() as stream:
        for lines in _line_groups(stream):
            fast = decode_lines([line for _, line in lines], catalog, now) if lines[0][0] else None
            for batch in [fast] if fast is not None else batches(_parsed(lines)):
                try:
                    valid = batch if batch is fast else validate_events(batch, catalog, now)
                except InvalidEvents as invalid:
                    problems += [FieldProblem(p.field_name, p.error_code, p.message, count + p.index)
                                 for p in invalid.problems if p.index is not None]
                else:
                    if not problems:
                        _spool_batch(spool, valid)
                count += len(batch)
        if problems:
            raise _refused(problems)
        yield CheckedEvents(spool, count)


def _refused(problems: list[FieldProblem]) -> InvalidEvents:
    shown = [f"event {p.index}: {p.message}" for p in problems[:MAX_PROBLEMS_SHOWN]]
    more = f"; and {len(problems) - MAX_PROBLEMS_SHOWN} more" if len(problems) > MAX_PROBLEMS_SHOWN else ""
    return InvalidEvents(problems, f"{len(problems)} problem(s), nothing was stored: " + "; ".join(shown) + more)


_SPOOLED = msgspec.msgpack.Decoder(list[UsageEvent])
_SPOOL = msgspec.msgpack.Encoder()


def _spool_batch(spool: IO[bytes], events: list[UsageEvent]) -> None:
    # Each batch as MessagePack with its length in front, read back whole.
    data = _SPOOL.encode(events)
    spool.write(len(data).to_bytes(8, "little") + data)


def store(database: Database, org_id: str, validated: Iterable[list[UsageEvent]], clock: Callable[[], int],
          progress: Progress = lambda _: None) -> IngestResult:
    """Store validated batches, ``EVENTS_PER_TRANSACTION`` at a time, each part committed
    on its own; then refresh what the planner knows of the grown tables."""
    with rare_collections():
        return _store(database, org_id, validated, clock, progress)


def _store(database: Database, org_id: str, validated: Iterable[list[UsageEvent]], clock: Callable[[], int],
           progress: Progress) -> IngestResult:
    accepted = duplicates = 0
    pending = iter(validated)
    while part := list(islice(pending, EVENTS_PER_TRANSACTION // MAX_BATCH_EVENTS)):
        with database.write() as conn:
            result = store_batches(conn, org_id, part, clock())
        accepted, duplicates = accepted + result.accepted, duplicates + result.duplicates
        progress(sum(len(batch) for batch in part))
    if accepted:
        with database.write() as conn:
            after_bulk_load(conn)
    return IngestResult(accepted, duplicates)
