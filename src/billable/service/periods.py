"""Closing a period: its billable usage report is kept as it is at that moment, for good."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from billable.rules.catalog import Catalog
from billable.rules.errors import FieldProblem, InvalidInput, NotFound
from billable.rules.instants import Period, format_instant
from billable.rules.report import BillableUsageReport
from billable.service.report_desk import rules_under
from billable.service.reports import billable_usage_report
from billable.store import derived
from billable.store.events import StoredEvent, events_after
from billable.store.organizations import get_organization
from billable.store.periods import ClosedPeriod, find_closed, insert_closed, overlapping


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
    closed = ClosedPeriod(period.start, period.end, now, closed_by, org.last_seq, rules_under(catalog, org.model))
    insert_closed(conn, org_id, closed, billable_usage_report(conn, org, period, catalog, now))
    return closed


def _figures(report: BillableUsageReport) -> dict[str, tuple[str, dict[str, int]]]:
    return {u.name: (u.total_usage, {r.name: r.date for r in u.resources}) for u in report.usages}


@dataclass(frozen=True)
class ResourceChange:
    """A resource of a usage whose closed figure is no longer what the log says."""

    name: str
    change: str  # added, removed, changed (its date)
    closed_date: int | None
    current_date: int | None
    causes: list[StoredEvent]  # the late events, and the voids made after the close, of its subject


@dataclass(frozen=True)
class UsageChange:
    name: str
    closed_total: str
    current_total: str
    resources: list[ResourceChange]


@dataclass(frozen=True)
class Amendments:
    """What the events acknowledged after a close change in the closed period's report."""

    period: Period
    closed: ClosedPeriod
    rules_changed: bool  # the catalog, the rules or the model changed since: they change figures too
    usages: list[UsageChange]


def amendments(conn: Connection, org_id: str, period: Period, catalog: Catalog, now: int) -> Amendments:
    """The changes, per usage and resource, between the kept report of the closed period and
    the report of the whole log now, each with the events that caused it; ``NotFound``
    when the period is not closed."""
    found = find_closed(conn, org_id, period)
    if found is None:
        raise NotFound("closed period", f"{format_instant(period.start)} to {format_instant(period.end)}")
    closed, kept_report = found
    org = get_organization(conn, org_id)
    kept, current = (_figures(report) for report in (kept_report,
                                                     billable_usage_report(conn, org, period, catalog, now)))
    later = events_after(conn, org_id, closed.sequence)
    names = derived.emails(conn, org_id, sorted({e.subject for e in later}))
    causes: dict[str, list[StoredEvent]] = {}
    for event in later:  # by every name a resource of the subject may carry
        for name in {event.subject, names.get(event.subject), event.email} - {None}:
            causes.setdefault(str(name), []).append(event)
    usages = []
    for usage in sorted(kept.keys() | current.keys()):
        closed_total, closed_resources = kept.get(usage, ("0", {}))
        current_total, current_resources = current.get(usage, ("0", {}))
        changes = []
        for name in sorted(closed_resources.keys() | current_resources.keys()):
            before, after = closed_resources.get(name), current_resources.get(name)
            if before != after:
                change = "added" if before is None else "removed" if after is None else "changed"
                changes.append(ResourceChange(name, change, before, after, causes.get(name, [])))
        if changes or closed_total != current_total:
            usages.append(UsageChange(usage, closed_total, current_total, changes))
    return Amendments(period, closed, closed.computed_under != rules_under(catalog, org.model), usages)
