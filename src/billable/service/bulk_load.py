"""Loading a file of events (the command line's ``ingest``): every event is validated before
any is stored; then they are stored in large commits. A load interrupted and run again
stores nothing twice: what was stored is recognized by ``(source, id)``."""

from __future__ import annotations

import json
import marshal
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from itertools import islice
from typing import IO, Any, TextIO

from billable.rules.catalog import Catalog
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


def read_events(stream: TextIO) -> Iterator[Any]:
    """Events from NDJSON (one per line) or from one JSON array."""
    first = stream.read(1)
    while first and first.isspace():
        first = stream.read(1)
    if first == "[":
        yield from parse_json(first + stream.read())
        return
    pending = first
    for number, line in enumerate(stream, start=1):
        line = pending + line
        pending = ""
        if line.strip():
            try:
                yield parse_json(line)
            except json.JSONDecodeError as error:
                message = f"line {number}: not valid JSON ({error.msg})"
                raise InvalidInput(message, [FieldProblem(f"line {number}", "invalid.json", message)]) from None


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
            rows = marshal.loads(self._spool.read(int.from_bytes(length, "little")))
            yield [UsageEvent(*row) for row in rows]


@contextmanager
def checked(open_events: Callable[[], TextIO], catalog: Catalog, now: int) -> Iterator[CheckedEvents]:
    """Validate every event ``open_events()`` reads; ``InvalidEvents`` names the first
    problems (by the event's position in the file) and nothing is stored."""
    problems: list[FieldProblem] = []
    count = 0
    with tempfile.TemporaryFile() as spool, open_events() as stream:
        for batch in batches(read_events(stream)):
            try:
                valid = validate_events(batch, catalog, now)
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


def _spool_batch(spool: IO[bytes], events: list[UsageEvent]) -> None:
    # Each batch with its length in front: marshal.load from a file reads value by value,
    # which cost more than validating them; loads of the whole batch does not.
    data = marshal.dumps([(e.source, e.id, e.type, e.subject, e.time, e.product, e.device_type, e.email)
                          for e in events])
    spool.write(len(data).to_bytes(8, "little") + data)


def store(database: Database, org_id: str, validated: Iterable[list[UsageEvent]], clock: Callable[[], int],
          progress: Progress = lambda _: None) -> IngestResult:
    """Store validated batches, ``EVENTS_PER_TRANSACTION`` at a time, each part committed
    on its own; then refresh what the planner knows of the grown tables."""
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
