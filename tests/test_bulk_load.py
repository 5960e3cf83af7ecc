"""The command line's load, without the command line: reading, checking and storing a file."""

from __future__ import annotations

import io
import json
import multiprocessing
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import CATALOG, INGESTED_AT, MakeOrg, event
from sqlalchemy import func, select

from billable.rules.errors import InvalidEvents, InvalidInput
from billable.rules.events import UsageEvent, validate_events
from billable.service import bulk_load
from billable.service.ingestion import MAX_BATCH_EVENTS
from billable.store.tables import events as events_table


def logins(count: int) -> list[dict[str, Any]]:
    return [event("user.login", f"u{n}", "2026-10-02T08:00:00Z", id=f"bulk-{n}") for n in range(count)]


def opener(text: str) -> Any:
    return lambda: io.BytesIO(text.encode())


def test_ndjson_and_an_array_read_alike() -> None:
    sent = logins(3)
    ndjson = "\n".join(json.dumps(e) for e in sent) + "\n\n"
    expected = validate_events(sent, CATALOG, INGESTED_AT)
    for text in (ndjson, "  \n" + json.dumps(sent)):
        with bulk_load.checked(opener(text), CATALOG, INGESTED_AT) as checked:
            assert [e for batch in checked.batches() for e in batch] == expected
    with pytest.raises(InvalidInput, match=r"line 2: not valid JSON"):
        with bulk_load.checked(opener(json.dumps(sent[0]) + "\n{oops\n"), CATALOG, INGESTED_AT) as checked:
            checked.valid()


def test_every_problem_is_named_by_its_place_in_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = logins(25)
    sent[3]["time"] = "whenever"
    sent[22]["type"] = "user.teleported"
    file = "\n".join(json.dumps(e) for e in sent)
    original = bulk_load.batches
    # Batches of 10: the problems sit in the first and the third.
    monkeypatch.setattr(bulk_load, "batches", lambda events, size=10: original(events, size))
    with pytest.raises(InvalidEvents) as refused:
        with bulk_load.checked(opener(file), CATALOG, INGESTED_AT) as checked:
            checked.valid()
    monkeypatch.undo()
    assert refused.value.message == ("2 problem(s), nothing was stored: event 3: time must be an ISO-8601 date-time; "
                                     "event 22: type must be one of user.login, user.logout, license.assigned, "
                                     "license.unassigned, device.active, user.updated")
    many = "\n".join(json.dumps({**e, "time": "never"}) for e in sent)
    # 26: event 22 has two (its type and its time); the first 20 are shown.
    with pytest.raises(InvalidEvents, match=r"^26 problem\(s\), nothing was stored: event 0: .*event 19: [^;]*; and 6 more$"):
        with bulk_load.checked(opener(many), CATALOG, INGESTED_AT) as checked:
            checked.valid()


def test_checked_events_are_stored_in_parts_once(make_org: MakeOrg) -> None:
    org = make_org()
    sent = logins(30) + logins(5)  # five repeats
    with bulk_load.checked(opener("\n".join(json.dumps(e) for e in sent)), CATALOG, INGESTED_AT) as checked:
        assert checked.count == 35
        assert [len(b) for b in checked.batches()] == [35]
        progress: list[int] = []
        first = bulk_load.store(org.database, org.id, checked.batches(), lambda: INGESTED_AT, progress.append)
        again = bulk_load.store(org.database, org.id, checked.batches(), lambda: INGESTED_AT)
    assert (first.accepted, first.duplicates, progress) == (30, 5, [35])
    assert (again.accepted, again.duplicates) == (0, 35)
    assert stored(org) == 30


def test_an_interrupted_load_run_again_stores_the_rest_once(make_org: MakeOrg) -> None:
    org = make_org()
    per_part = bulk_load.EVENTS_PER_TRANSACTION // MAX_BATCH_EVENTS
    count = 5 * (per_part + 2)
    batches = [validate_events(logins(count)[n:n + 5], CATALOG, INGESTED_AT) for n in range(0, count, 5)]

    def interrupted() -> Iterator[list[UsageEvent]]:
        yield from batches[:per_part + 1]  # the first part commits before the interruption
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        bulk_load.store(org.database, org.id, interrupted(), lambda: INGESTED_AT)
    assert stored(org) == 5 * per_part
    rerun = bulk_load.store(org.database, org.id, batches, lambda: INGESTED_AT)
    assert (rerun.accepted, rerun.duplicates) == (10, 5 * per_part) and stored(org) == count


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lines checked five at a time, two batches to a part: a few events make many parts."""
    original = bulk_load._line_groups
    monkeypatch.setattr(bulk_load, "_line_groups", lambda stream: original(stream, 5))
    monkeypatch.setattr(bulk_load, "MAX_BATCH_EVENTS", 5)
    monkeypatch.setattr(bulk_load, "EVENTS_PER_TRANSACTION", 10)


@pytest.mark.usefixtures("small_parts")
@pytest.mark.parametrize("bad", [2, 187])
def test_nothing_is_committed_before_the_whole_file_is_checked(make_org: MakeOrg, bad: int) -> None:
    """The file is checked in another process while this one stores: a bad event after many
    parts' worth of good ones (or in the first batch) refuses the whole file, and nothing
    is stored."""
    org = make_org()
    sent = logins(200)
    sent[bad]["time"] = "whenever"
    progress: list[int] = []
    with pytest.raises(InvalidEvents, match=rf"^1 problem\(s\), nothing was stored: event {bad}: time"):
        with bulk_load.checked(opener("\n".join(json.dumps(e) for e in sent)), CATALOG, INGESTED_AT) as checked:
            bulk_load.store(org.database, org.id, checked.batches(), lambda: INGESTED_AT, progress.append, checked)
    assert (stored(org), progress) == (0, [])


@pytest.mark.usefixtures("small_parts")
def test_a_file_checked_alongside_is_stored_whole_in_parts(make_org: MakeOrg) -> None:
    org = make_org()
    sent = logins(200)
    progress: list[int] = []
    with bulk_load.checked(opener("\n".join(json.dumps(e) for e in sent)), CATALOG, INGESTED_AT) as checked:
        result = bulk_load.store(org.database, org.id, checked.batches(), lambda: INGESTED_AT, progress.append,
                                 checked)
        assert checked.count == 200
    assert (result.accepted, result.duplicates, stored(org), sum(progress)) == (200, 0, 200, 200)
    assert len(progress) > 1 and all(stored % 10 == 0 for stored in progress)  # whole parts, the first may be larger


def stored(org: Any) -> int:
    with org.database.read() as conn:
        return int(conn.execute(select(func.count()).select_from(events_table)
                                .where(events_table.c.org_id == org.id)).scalar_one())



def test_answers_taken_in_at_once_still_give_every_batch() -> None:
    """The loader, caught up with the spool, may take in at once the checker's last answers:
    more spooled, then the end of the check. What they say was spooled is read all the same
    (it once ended the load there, and a file was stored without its last batches)."""
    first, second = (validate_events(logins(3), CATALOG, INGESTED_AT), validate_events(
        [event("user.logout", f"u{n}", "2026-10-02T09:00:00Z", id=f"out-{n}") for n in range(2)], CATALOG, INGESTED_AT))
    answers, answering = multiprocessing.Pipe(duplex=False)
    with tempfile.NamedTemporaryFile() as spool:
        bulk_load._spool_batch(spool, first)
        spool.flush()
        answering.send(("checked", spool.tell()))
        read = bulk_load.CheckedEvents(spool, answers).batches()
        assert next(read) == first
        bulk_load._spool_batch(spool, second)
        spool.flush()
        answering.send(("checked", spool.tell()))
        answering.send(("valid", 5))
        assert list(read) == [second]
