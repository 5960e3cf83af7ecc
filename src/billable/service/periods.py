"""Closing a period: its billable usage report is kept as it is at that moment, for good."""

from __future__ import annotations

from sqlalchemy import Connection

from billable.rules.catalog import Catalog
from billable.rules.errors import FieldProblem, InvalidInput
from billable.rules.instants import Period, format_instant
from billable.rules.wire import compact_json
from billable.service.presentation import api_body, closed_mark
from billable.service.reports import billable_usage_report
from billable.store.organizations import get_organization
from billable.store.periods import ClosedPeriod, insert_closed, overlapping


def close_period(conn: Connection, org_id: str, period: Period, catalog: Catalog, now: int, closed_by: str
                 ) -> ClosedPeriod:
    """Close ``period``: keep its report as of now. Refused (``InvalidInput``) for a period
    not over yet, or one that shares an instant with a closed period (named). The caller
    owns the transaction."""
    # The organization's lock: the report sees whole batches, never half of one.
    org = get_organization(conn, org_id, lock=True)
    if period.end > now:
        message = f"the period is not over: it ends {format_instant(period.end)}; close it once it is"
        raise InvalidInput(message, [FieldProblem("endDate", "not.over", message)])
    other = overlapping(conn, org_id, period.start, period.end)
    if other is not None:
        message = (f"the period overlaps the closed period {format_instant(other.start)} to "
                   f"{format_instant(other.end)} (closed {format_instant(other.closed_at)}): a closed period is final")
        raise InvalidInput(message, [FieldProblem("startDate", "overlaps.closed", message)])
    closed = ClosedPeriod(period.start, period.end, now, closed_by, org.last_seq)
    body = api_body(org_id, billable_usage_report(conn, org, period, catalog, now))
    insert_closed(conn, org_id, closed, compact_json({**body, "closed": closed_mark(closed)}).decode())
    return closed
