"""Listing an organization's events, newest arrival first, a page at a time."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import Connection

from billable.rules.errors import FieldProblem, InvalidInput
from billable.store.reports import user_named
from billable.store.events import EventFilter as EventFilter  # what a listing asks for, for the edges
from billable.store.events import StoredEvent, list_events

MAX_PAGE_SIZE = 500
MAX_CURSOR = 2**63 - 1  # a sequence is a 64-bit integer in the store


@dataclass(frozen=True)
class EventsPage:
    events: list[StoredEvent]
    next_cursor: str | None  # None: this is the last page


def events_page(conn: Connection, org_id: str, chosen: EventFilter, cursor: str | None, page_size: int) -> EventsPage:
    """One page of the events ``chosen`` admits (its subject a user's or device's id, or a
    user's email), from where ``cursor`` (from the page before) left off. A cursor names an arrival, so the pages hold still while events arrive: a
    new event is never on a later page and none is listed twice."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise _invalid("pageSize", f"pageSize must be from 1 to {MAX_PAGE_SIZE}")
    before = None
    if cursor is not None:
        # ASCII digits only: str.isdigit and int() also take other scripts' digits ('１２').
        if not (cursor.isascii() and cursor.isdigit()) or len(cursor) > 19 or int(cursor) > MAX_CURSOR:
            raise _invalid("cursor", "cursor must be the cursor of an earlier page")
        before = int(cursor)
    if chosen.subject is not None:  # a user is named by id, or by the email a report names them by
        chosen = replace(chosen, subject=user_named(conn, org_id, chosen.subject) or chosen.subject)
    found = list_events(conn, org_id, chosen, before, page_size + 1)
    page = found[:page_size]
    return EventsPage(page, str(page[-1].seq) if len(found) > page_size else None)


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, [FieldProblem(field, "invalid.value", message)])
