"""The log found by arrival: listings, the events after a sequence, voids and as-of reports,
across many blocks of the index by arrival (``tables.EVENTS_BY_ARRIVAL``, PostgreSQL) and
with two organizations' sequences side by side."""

from __future__ import annotations

from conftest import CATALOG, INGESTED_AT, MakeOrg, event
from sqlalchemy import select

from billable.rules.instants import DAY_MS, Period
from billable.rules.voids import VoidRequest
from billable.service.reports import billable_usage_report
from billable.service.voids import void_events
from billable.store.events import EventFilter, events_after, list_events, newest_first, seq_after, seq_before, seq_is
from billable.store.history import sequence_at
from billable.store.tables import ARRIVAL_BLOCK, events

OCTOBER = Period.parse("2026-10-01", "2026-11-01")
COUNT = 3 * ARRIVAL_BLOCK + 11  # four blocks, the last one partly filled


def _devices(prefix: str, count: int) -> list[dict[str, object]]:
    """``count`` phones, each active once in October."""
    start = OCTOBER.start
    return [event("device.active", f"{prefix}{n}", start + n * 3_600_000 % (30 * DAY_MS), id=f"{prefix}{n}",
                  deviceType="phone") for n in range(count)]


def test_listings_sequences_voids_and_as_of_across_blocks(make_org: MakeOrg) -> None:
    org, other = make_org(), make_org()
    sent = _devices("u", COUNT)
    for part in range(0, COUNT, 70):  # commits of 70, each another's commits between them
        org.ingest(sent[part:part + 70], now=INGESTED_AT + part)
        other.ingest(_devices(f"o{part}-", 30), now=INGESTED_AT + part)
    every = list(range(COUNT, 0, -1))
    with org.database.read() as conn:
        paged, before = [], None
        while page := list_events(conn, org.id, EventFilter(), before, 50):
            paged += [e.seq for e in page]
            before = page[-1].seq
        assert paged == every  # newest first, every page from where the last ended
        assert [e.event_id for e in list_events(conn, org.id, EventFilter(), 130, 3)] == ["u128", "u127", "u126"]
        assert [e.seq for e in events_after(conn, org.id, ARRIVAL_BLOCK + 5)] == list(range(ARRIVAL_BLOCK + 6, COUNT + 1))
        assert events_after(conn, org.id, COUNT) == []
        first_void = sequence_at(conn, org.id, INGESTED_AT + 10_000)
    assert first_void == COUNT

    voided = {"u5": INGESTED_AT + 20_000, f"u{2 * ARRIVAL_BLOCK}": INGESTED_AT + 30_000}
    for event_id, at in voided.items():
        with org.database.write() as conn:
            void_events(conn, org.id, [VoidRequest("urn:test", event_id, "test")], "tester", at)
    with org.database.read() as conn:
        listed = {e.event_id: e for e in list_events(conn, org.id, EventFilter(), None, COUNT)}
        assert {event_id for event_id, e in listed.items() if e.void is not None} == set(voided)
        assert [(e.event_id, e.void and e.void.seq) for e in events_after(conn, org.id, COUNT)] == [
            ("u5", COUNT + 1), (f"u{2 * ARRIVAL_BLOCK}", COUNT + 2)]  # voided after it, in arrival order
        assert [sequence_at(conn, org.id, at) for at in (INGESTED_AT + 25_000, INGESTED_AT + 35_000)] == [
            COUNT + 1, COUNT + 2]
        assert {e.event_id for e in list_events(conn, other.id, EventFilter(), None, COUNT)}.isdisjoint(listed)
        # As of the third commit, of each void: the phones active then.
        reports = [billable_usage_report(conn, org.organization, OCTOBER, CATALOG, INGESTED_AT + 99_000, as_of=at)
                   for at in (INGESTED_AT + 100, INGESTED_AT + 25_000, INGESTED_AT + 35_000)]
    phones = [report.usage("phone") for report in reports]
    assert [0 if usage is None else len(usage.resources) for usage in phones] == [140, COUNT - 1, COUNT - 2]


def test_postgresql_finds_the_log_by_arrival_through_its_blocks(make_org: MakeOrg) -> None:
    """Each way of finding events by sequence is one PostgreSQL answers from ``events_arrival``
    (the block written as the index's expression is), not by reading the whole log."""
    org = make_org()
    if org.database.engine.dialect.name != "postgresql":
        assert "events_arrival" not in {i["name"] for i in _indexes(org)}  # SQLite files the log by sequence
        return
    org.ingest(_devices("u", COUNT))
    assert "events_pkey" not in {i["name"] for i in _indexes(org)}
    e = events.c
    found = select(e.seq).where(e.org_id == org.id)
    with org.database.read() as conn:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        for query, rows in ((found.where(seq_is(100)), [100]),
                            (found.where(seq_after(COUNT - 2)), [COUNT - 1, COUNT]),
                            (found.where(seq_before(3)), [1, 2]),
                            (found.where(seq_before(2, inclusive=True)).order_by(*newest_first()), [2, 1]),
                            (found.order_by(*newest_first()).limit(2), [COUNT, COUNT - 1])):
            assert sorted(conn.execute(query).scalars(), reverse=rows[0] > rows[-1]) == rows
            compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
            plan = "\n".join(conn.exec_driver_sql(f"EXPLAIN {compiled}").scalars())
            assert "events_arrival" in plan, plan


def _indexes(org: object) -> list[dict[str, object]]:
    from sqlalchemy import inspect

    with org.database.engine.connect() as conn:  # type: ignore[attr-defined]
        return list(inspect(conn).get_indexes("events")) + [
            {"name": inspect(conn).get_pk_constraint("events").get("name")}]
