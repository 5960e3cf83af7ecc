"""The command line's load, without the command line: reading, checking and storing a file."""

from __future__ import annotations

import io
import json
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
        with bulk_load.checked(opener(json.dumps(sent[0]) + "\n{oops\n"), CATALOG, INGESTED_AT):
            pass


def test_every_problem_is_named_by_its_place_in_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = logins(25)
    sent[3]["time"] = "whenever"
    sent[22]["type"] = "user.teleported"
    file = "\n".join(json.dumps(e) for e in sent)
    original = bulk_load.batches
    # Batches of 10: the problems sit in the first and the third.
    monkeypatch.setattr(bulk_load, "batches", lambda events, size=10: original(events, size))
    with pytest.raises(InvalidEvents) as refused:
        with bulk_load.checked(opener(file), CATALOG, INGESTED_AT):
            pass
    monkeypatch.undo()
    assert refused.value.message == ("2 problem(s), nothing was stored: event 3: time must be an ISO-8601 date-time; "
                                     "event 22: type must be one of user.login, user.logout, license.assigned, "
                                     "license.unassigned, device.active, user.updated")
    many = "\n".join(json.dumps({**e, "time": "never"}) for e in sent)
    # 26: event 22 has two (its type and its time); the first 20 are shown.
    with pytest.raises(InvalidEvents, match=r"^26 problem\(s\), nothing was stored: event 0: .*event 19: [^;]*; and 6 more$"):
        with bulk_load.checked(opener(many), CATALOG, INGESTED_AT):
            pass


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
    batches = [validate_events(logins(60)[n:n + 5], CATALOG, INGESTED_AT) for n in range(0, 60, 5)]  # 12 batches

    def interrupted() -> Iterator[list[UsageEvent]]:
        yield from batches[:11]
        raise KeyboardInterrupt

    per_part = bulk_load.EVENTS_PER_TRANSACTION // MAX_BATCH_EVENTS
    assert per_part == 10  # so the first part, ten batches, commits before the interruption
    with pytest.raises(KeyboardInterrupt):
        bulk_load.store(org.database, org.id, interrupted(), lambda: INGESTED_AT)
    assert stored(org) == 50
    rerun = bulk_load.store(org.database, org.id, batches, lambda: INGESTED_AT)
    assert (rerun.accepted, rerun.duplicates) == (10, 50) and stored(org) == 60


def stored(org: Any) -> int:
    with org.database.read() as conn:
        return int(conn.execute(select(func.count()).select_from(events_table)
                                .where(events_table.c.org_id == org.id)).scalar_one())
