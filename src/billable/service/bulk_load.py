"""Loading a file of events (the command line's ``ingest``): every event is validated before
any is stored; then they are stored in large commits. A load interrupted and run again
stores nothing twice: what was stored is recognized by ``(source, id)``."""

from __future__ import annotations

import gc
import multiprocessing
import signal
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from itertools import islice
from multiprocessing.connection import Connection
from typing import IO, Any, BinaryIO

import msgspec

from billable.rules.catalog import Catalog
from billable.rules.decoding import decode_lines
from billable.rules.errors import FieldProblem, InvalidEvents, InvalidInput
from billable.rules.events import UsageEvent, validate_events
from billable.rules.json_text import parse_body
from billable.service.ingestion import MAX_BATCH_EVENTS, IngestResult, after_bulk_load, store_batches
from billable.store.database import Database

# A batch touches about as many pages of the derived state and of the log's subject index as
# it has users, whatever its size, so bigger commits write less, up to this size; a larger
# one did no better and took more memory (docs/performance.md).
EVENTS_PER_TRANSACTION = 200_000
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
        document = parse_body(line, f"line {number}")
        if number == 0:  # the array
            yield from document
        else:
            yield document


@contextmanager
def rare_collections() -> Iterator[None]:
    """Fewer runs of the cyclic garbage collector while loading. A load makes millions of
    short-lived objects (events, rows, tuples) and no reference cycles of its own, so the
    collector, run every 700 allocations by default, walks the same survivors again and
    again for nothing (docs/performance.md, "Figures once in the code")."""
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
    """The events of a file, checked by another process while this one reads (and stores)
    those checked so far: ``batches`` yields them, validated, as soon as they are checked,
    from a spool (a temporary file) in which the checker keeps them, so that they are never
    parsed and checked twice; ``valid`` waits for the end of the check."""

    def __init__(self, spool: IO[bytes], answers: Connection):
        self._spool, self._answers = spool, answers
        self._checked_bytes = 0
        self._count: int | None = None
        self._refusal: InvalidInput | None = None

    def batches(self) -> Iterator[list[UsageEvent]]:
        """The valid events, a batch at a time, in the file's order; they stop early (and
        ``valid`` raises) if the file is refused."""
        read = 0
        while True:
            # First: the answers it takes in may say the checker spooled more.
            done = self.settled()
            if read < self._checked_bytes:
                self._spool.seek(read)
                length = int.from_bytes(self._spool.read(8), "little")
                yield _SPOOLED.decode(self._spool.read(length))
                read += 8 + length
            elif done:
                return
            else:  # caught up with the checker: wait for it
                self._receive()

    def settled(self) -> bool:
        """Whether the check is over (without waiting for it)."""
        while self._count is None and self._refusal is None and self._answers.poll():
            self._receive()
        return self._count is not None or self._refusal is not None

    def valid(self) -> int:
        """Wait for the end of the check: the number of events, or the file's refusal
        (``InvalidEvents`` naming the problems, ``InvalidInput`` for a line that is no JSON)."""
        while not self.settled():
            self._receive()
        if self._refusal is not None:
            raise self._refusal
        assert self._count is not None
        return self._count

    @property
    def count(self) -> int:
        return self.valid()

    def _receive(self) -> None:
        try:
            answer = self._answers.recv()
        except EOFError:
            raise RuntimeError("the process checking the file ended without an answer") from None
        match answer:
            case ("checked", checked_bytes):
                self._checked_bytes = checked_bytes
            case ("valid", count):
                self._count = count
            case ("refused", True, message, problems):
                self._refusal = InvalidEvents(problems, message)
            case ("refused", False, message, problems):
                self._refusal = InvalidInput(message, problems)
            case ("failed", why):
                raise RuntimeError(f"checking the file failed: {why}")


@contextmanager
def checked(open_events: Callable[[], BinaryIO], catalog: Catalog, now: int) -> Iterator[CheckedEvents]:
    """Validate every event ``open_events()`` reads, in another process (the machine's other
    core) while the caller stores those validated so far; ``CheckedEvents.valid`` names the
    first problems (by the event's position in the file), and a caller that stores commits
    nothing before it has returned (``store``).

    NDJSON lines are decoded and checked in one pass, ten thousand at a time
    (rules/decoding.py); a group with any problem, or an array, is parsed and checked
    event by event, so that every problem is named.
    """
    # Forked, the checker inherits what it needs (standard input too) without pickling.
    forked = multiprocessing.get_context("fork")
    answers, answering = forked.Pipe(duplex=False)
    with rare_collections(), tempfile.NamedTemporaryFile() as spool:
        checker = forked.Process(target=_check_file, args=(open_events, catalog, now, spool.name, answering),
                                 daemon=True)
        checker.start()
        answering.close()
        try:
            yield CheckedEvents(spool, answers)
        finally:
            checker.terminate()
            checker.join()
            answers.close()


def _check_file(open_events: Callable[[], BinaryIO], catalog: Catalog, now: int, spool_path: str,
                answering: Connection) -> None:
    """The checker: spools the valid batches and says how far the spool holds them after
    each; then the outcome."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # an interrupted load is the storing process's to end
    try:
        with open(spool_path, "ab") as spool, open_events() as stream:
            def spooled() -> None:
                spool.flush()
                answering.send(("checked", spool.tell()))
            count = _check(stream, catalog, now, spool, spooled)
        answering.send(("valid", count))
    except InvalidInput as refused:
        answering.send(("refused", isinstance(refused, InvalidEvents), refused.message, refused.problems))
    except Exception as error:
        answering.send(("failed", f"{type(error).__name__}: {error}"))


def _check(stream: BinaryIO, catalog: Catalog, now: int, spool: IO[bytes], spooled: Callable[[], None]) -> int:
    """Check every event of ``stream`` and spool the valid batches until one is not
    (``spooled()`` after each); the number of events, else what refuses the file."""
    problems: list[FieldProblem] = []
    count = 0
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
                    spooled()
            count += len(batch)
    if problems:
        raise _refused(problems)
    return count


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
          progress: Progress = lambda _: None, check: CheckedEvents | None = None) -> IngestResult:
    """Store validated batches, ``EVENTS_PER_TRANSACTION`` at a time, each part committed
    on its own; then refresh what the planner knows of the grown tables. Batches read while
    ``check`` still checks the file they come from go into the first commit, which waits for
    the end of the check: a refused file rolls it back, and nothing is stored."""
    with rare_collections():
        return _store(database, org_id, validated, clock, progress, check)


def _store(database: Database, org_id: str, validated: Iterable[list[UsageEvent]], clock: Callable[[], int],
           progress: Progress, check: CheckedEvents | None) -> IngestResult:
    accepted = duplicates = 0
    pending = iter(validated)
    per_part = EVENTS_PER_TRANSACTION // MAX_BATCH_EVENTS
    while part := list(islice(pending, per_part)):
        stored = 0
        with database.write() as conn:
            while part:
                result = store_batches(conn, org_id, part, clock())
                accepted, duplicates = accepted + result.accepted, duplicates + result.duplicates
                stored += sum(len(batch) for batch in part)
                # Still checking: the next part goes into this commit too.
                part = [] if check is None or check.settled() else list(islice(pending, per_part))
            if check is not None:
                check.valid()
        progress(stored)
    if check is not None:
        check.valid()  # a file refused at its first batch has none to store
    if accepted:
        with database.write() as conn:
            after_bulk_load(conn)
    return IngestResult(accepted, duplicates)
