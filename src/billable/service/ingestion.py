"""Ingestion: the one way events enter the log, used by the HTTP route and the CLI."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import Connection

from billable.rules.catalog import Catalog
from billable.rules.decoding import decode_batch
from billable.rules.errors import FieldProblem, InvalidInput, PayloadTooLarge
from billable.rules.events import UsageEvent, first_occurrences, validate_events
from billable.rules.touched import Touched, touched_by
from billable.rules.json_text import parse_body
from billable.store import derived, session_weeks, statistics
from billable.store.events import LogAppender, Numbered, record_arrival
from billable.store.organizations import get_organization, set_log_end

MAX_BATCH_EVENTS = 10_000


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    duplicates: int


def ingest(conn: Connection, org_id: str, raw_events: list[Any], catalog: Catalog, now: int) -> IngestResult:
    """Validate a batch, store its new events and update what derives from them.

    All or nothing: an invalid event raises ``InvalidEvents`` before anything is written.
    An event whose ``(source, id)`` is already stored, or repeats inside the batch, is a
    duplicate and is skipped. The caller owns the transaction: the batch is durable once
    it commits.
    """
    return store_batch(conn, org_id, validate_events(raw_events, catalog, now), now)


def events_of_body(body: bytes, catalog: Catalog, now: int, max_events: int) -> list[UsageEvent]:
    """The validated events of a request's body, a JSON array of at most ``max_events``
    CloudEvents, for ``store_batch``; else ``InvalidInput`` or ``PayloadTooLarge``.

    A valid batch is decoded and checked in one pass (rules/decoding.py); any other is
    parsed and checked field by field, so that every problem is named.
    """
    events = decode_batch(body, catalog, now)
    if events is None:
        raw = parse_body(body)
        if not isinstance(raw, list):
            message = "the body must be a JSON array of CloudEvents"
            raise InvalidInput(message, [FieldProblem("body", "invalid.value", message)])
        _check_count(len(raw), max_events)
        events = validate_events(raw, catalog, now)
    _check_count(len(events), max_events)
    return events


def _check_count(count: int, max_events: int) -> None:
    if count > max_events:
        raise PayloadTooLarge(f"at most {max_events} events per request; this one has {count}")


def store_batch(conn: Connection, org_id: str, batch: list[UsageEvent], now: int, known: Numbered | None = None
                ) -> IngestResult:
    """Store a batch that ``validate_events`` returned, as ``ingest`` does."""
    return store_batches(conn, org_id, [batch], now, known)


def store_batches(conn: Connection, org_id: str, batches: Sequence[list[UsageEvent]], now: int,
                  known: Numbered | None = None) -> IngestResult:
    """Store validated batches in one transaction, as ``store_batch`` would one after the
    other, but derive once from all their new events: the derived state is a function of
    the log, and a key that several batches touch is rebuilt once instead of once each.
    ``known``: the numbers of sources and emails known before (``CommittedNumbers``), to
    which those given here are added."""
    # Locking the organization serializes its batches: arrival sequences are handed out
    # in commit order, and the derived state is rebuilt by one writer at a time.
    org = get_organization(conn, org_id, lock=True)
    appended: list[UsageEvent] = []
    touched = Touched()
    duplicates = 0
    log = LogAppender(conn, org_id, known)
    for batch in batches:
        stored_before = org.last_seq + len(appended)
        # Earlier batches' keys included: they are in the log already. What the batch
        # touches is classified while PostgreSQL stores it; if some of it was stored before,
        # what this transaction appended is classified again.
        unique, first = first_occurrences(batch), stored_before + 1
        fresh = log.append_new(unique, first, partial(touched_by, enumerate(unique, first), touched))
        if fresh is not unique:
            touched = touched_by(enumerate(appended + fresh, org.last_seq + 1))
        appended += fresh
        duplicates += len(batch) - len(fresh)
        # As soon as the log has doubled, not after deriving: the next batch's duplicate
        # check and the rebuild's walks read the log, and a planner that still believes it
        # nearly empty scans it, looping over the log outside the keys to rebuild
        # (docs/performance.md, "Figures once in the code").
        if statistics.due(stored_before, stored_before + len(fresh)):
            statistics.refresh(conn)
    if appended:
        record_arrival(conn, org_id, org.last_seq + len(appended), received_at=now)
        times = [event.time for event in appended]
        earliest = min(times + ([] if org.earliest_event_time is None else [org.earliest_event_time]))
        latest = max(times + ([] if org.latest_event_time is None else [org.latest_event_time]))
        _derive(conn, org_id, touched, org.last_seq + len(appended), org.latest_event_time, latest)
        # After deriving, which repacks the weeks sealed before these events (the store's
        # latest event time says which), the weeks they passed are sealed.
        statistics.packed_grown(conn, session_weeks.seal(conn, org_id, org.latest_event_time, latest))
        set_log_end(conn, org_id, org.last_seq + len(appended), earliest, latest)
    return IngestResult(accepted=len(appended), duplicates=duplicates)


def after_bulk_load(conn: Connection) -> None:
    """After a large load (the command line's): refresh planner statistics, and on
    PostgreSQL vacuum the derived tables once committed, so that the first reports read
    all-visible pages; the refreshes at each doubling of the log can lag a load by half."""
    statistics.refresh(conn)


def _derive(conn: Connection, org_id: str, touched: Touched, version: int, latest_before: int | None,
            latest: int) -> None:
    """Take what the events appended up to ``version`` (the organization's sequence once
    committed) touch into the derived state; the log's latest event time was
    ``latest_before`` before them and is ``latest`` with them."""
    derived.update_intervals(conn, org_id, derived.SESSIONS, touched.sessions, latest_before, latest, version)
    derived.update_intervals(conn, org_id, derived.HOLDINGS, touched.holdings, latest_before, latest, version)
    derived.record_emails(conn, org_id, touched.emails, latest_before, latest, version)
    derived.record_device_days(conn, org_id, touched.device_days, version)
