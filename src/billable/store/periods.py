"""Closed periods: kept reports, immutable.

A closed period keeps its report's figures in a form of the store's own, not the API's
body: the body is written from them when it is served, so a release may change the API's
shape without touching what was kept. ``KEPT_FORM`` names the form; every form written
before is read all the same (``READ_FORMS``), so a kept report never changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, select

from billable.rules.instants import Period
from billable.rules.json_text import compact_json, parse_json
from billable.rules.report import BillableUsageReport, Resource, Usage
from billable.store.tables import closed_periods

KEPT_FORM = 2
"""``{"form": 2, "usages": [[name, totalUsage, [[resource, date in ms(, hours)], …]], …]}``,
in the report's order; a resource's hours only under the hourly model. Form 1 had no
hours."""
READ_FORMS = frozenset({1, 2})  # form 2 only added a resource's hours: one reading serves both


@dataclass(frozen=True)
class ClosedPeriod:
    start: int
    end: int
    closed_at: int
    closed_by: str
    sequence: int  # the organization's sequence the kept report saw
    computed_under: str  # the rules, catalog and model it was computed under


_c = closed_periods.c
_FIELDS = (_c.period_start, _c.period_end, _c.closed_at, _c.closed_by, _c.sequence, _c.computed_under)


def kept_form(report: BillableUsageReport) -> str:
    """A report's figures as a closed period keeps them."""
    usages = [[u.name, u.total_usage, [[r.name, r.date] if r.hours is None else [r.name, r.date, r.hours]
                                       for r in u.resources]] for u in report.usages]
    return compact_json({"form": KEPT_FORM, "usages": usages}).decode()


def kept_figures(period: Period, text: str | bytes) -> BillableUsageReport:
    """The figures a closed period keeps, from any form the store has written."""
    kept = parse_json(text)
    if kept["form"] not in READ_FORMS:
        raise ValueError(f"a closed period kept in form {kept['form']}, which this release does not read")
    return BillableUsageReport(period, tuple(Usage(name, total, tuple(Resource(*resource) for resource in resources))
                                             for name, total, resources in kept["usages"]))


def insert_closed(conn: Connection, org_id: str, closed: ClosedPeriod, report: BillableUsageReport) -> None:
    conn.execute(closed_periods.insert().values(
        org_id=org_id, period_start=closed.start, period_end=closed.end, closed_at=closed.closed_at,
        closed_by=closed.closed_by, sequence=closed.sequence, computed_under=closed.computed_under,
        kept=kept_form(report)))


def list_closed(conn: Connection, org_id: str) -> list[ClosedPeriod]:
    """The organization's closed periods, earliest first."""
    query = select(*_FIELDS).where(_c.org_id == org_id).order_by(_c.period_start, _c.period_end)
    return [ClosedPeriod(*row) for row in conn.execute(query)]


def overlapping(conn: Connection, org_id: str, start: int, end: int) -> ClosedPeriod | None:
    """A closed period that shares an instant with ``[start, end)``, if one does."""
    query = select(*_FIELDS).where(_c.org_id == org_id, _c.period_start < end, _c.period_end > start).limit(1)
    row = conn.execute(query).first()
    return None if row is None else ClosedPeriod(*row)


def _exactly(org_id: str, start: int, end: int) -> tuple[ColumnElement[bool], ...]:
    return _c.org_id == org_id, _c.period_start == start, _c.period_end == end


def closed_period(conn: Connection, org_id: str, period: Period) -> ClosedPeriod | None:
    """The closed period of exactly ``period``, if that period is closed (not its figures)."""
    row = conn.execute(select(*_FIELDS).where(*_exactly(org_id, period.start, period.end))).first()
    return None if row is None else ClosedPeriod(*row)


def find_closed(conn: Connection, org_id: str, period: Period) -> tuple[ClosedPeriod, BillableUsageReport] | None:
    """The closed period of exactly ``period`` and its kept report, if that period is closed."""
    row = conn.execute(select(*_FIELDS, _c.kept).where(*_exactly(org_id, period.start, period.end))).first()
    return None if row is None else (ClosedPeriod(*row[:-1]), kept_figures(period, row[-1]))
