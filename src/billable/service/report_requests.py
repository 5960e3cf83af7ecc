"""A report request, answered one way for every edge that asks: the report's kind, its
period, the instant it is asked as of, and whether the period is closed.

The command line, the routes (a report as of an instant) and the report desk (when it
computes a report, or serves a closed period's) call ``answer_report``: an ``asOf`` is
checked here, and a closed period answers with the report kept when it was closed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import Connection

from billable.rules.catalog import Catalog
from billable.rules.instants import Period
from billable.rules.report import BillableUsageReport, ConcurrentUsageReport
from billable.rules.wire import compact_json
from billable.service.bodies import Status
from billable.service.presentation import BODY_VERSION, CONCURRENT_BODY_VERSION, api_body, concurrent_body
from billable.service.reports import billable_usage_report, check_as_of, concurrent_usage_report
from billable.store.organizations import Organization
from billable.store.periods import kept_body

Figures = TypeVar("Figures", BillableUsageReport, ConcurrentUsageReport)


@dataclass(frozen=True)
class ReportKind(Generic[Figures]):
    """A kind of report: how its figures are computed and written as the API's body."""

    name: str
    figures: Callable[[Connection, Organization, Period, Catalog, int, int | None], Figures]
    body: Callable[[str, Figures, Status], Mapping[str, object]]
    empty: Callable[[Period], Figures]  # the figures of an InProgress body
    closes: bool = False  # a closed period's kept report answers it (store/periods.py)
    body_version: int = BODY_VERSION  # of its body's shape (report_desk.computed_under)

    def pending(self, org_id: str, period: Period) -> Mapping[str, object]:
        """The body while the report is computed."""
        return self.body(org_id, self.empty(period), "InProgress")


BILLABLE_USAGE = ReportKind("billableusage", billable_usage_report, api_body,
                            lambda period: BillableUsageReport(period, ()), closes=True)
CONCURRENT_USAGE = ReportKind("concurrentusage", concurrent_usage_report, concurrent_body,
                              lambda period: ConcurrentUsageReport(period, "", ()),
                              body_version=CONCURRENT_BODY_VERSION)


@dataclass(frozen=True)
class RequestedReport(Generic[Figures]):
    """A report's body as the API serves it, and its figures; None for a closed period's
    kept body, whose figures ``service.periods.kept_figures`` reads."""

    body: bytes
    figures: Figures | None


def answer_report(conn: Connection, kind: ReportKind[Figures], org: Organization, period: Period, catalog: Catalog,
                  now: int, as_of: int | None = None) -> RequestedReport[Figures]:
    """The report ``kind`` of ``org`` for ``period``, cut off at ``now``. With ``as_of``, as
    it was at that instant (``InvalidInput`` for one in the future or before the
    organization existed: no report was said then). Without, a closed period's report is
    the one kept when it was closed."""
    if as_of is not None:
        check_as_of(org, as_of, now)
    elif kind.closes:
        kept = kept_body(conn, org.id, period.start, period.end)
        if kept is not None:
            return RequestedReport(kept.encode(), None)
    figures = kind.figures(conn, org, period, catalog, now, as_of)
    return RequestedReport(compact_json(kind.body(org.id, figures, "Complete")), figures)

