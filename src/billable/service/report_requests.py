"""A report request, answered one way for every edge that asks: the report's kind, its
period, the instant it is asked as of, and whether the period is closed.

The command line, the routes (a report as of an instant) and the report desk (when it
computes a report, or serves a closed period's) call ``answer_report``: an ``asOf`` is
checked here, and a closed period answers with the figures kept when it was closed. The
answer is figures; the edges write them (billable.wire).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import Connection

from billable.rules.catalog import Catalog
from billable.rules.instants import Period
from billable.rules.report import BillableUsageReport, ConcurrentUsageReport
from billable.service.reports import billable_usage_report, check_as_of, concurrent_usage_report
from billable.store.organizations import Organization
from billable.store.periods import ClosedPeriod, find_closed

Figures = TypeVar("Figures", BillableUsageReport, ConcurrentUsageReport)


@dataclass(frozen=True)
class ReportKind(Generic[Figures]):
    """A kind of report: how its figures are computed, and kept for a closed period."""

    name: str
    figures: Callable[[Connection, Organization, Period, Catalog, int, int | None], Figures]
    empty: Callable[[Period], Figures]  # the figures of a report not ready yet
    # A closed period and the figures it kept, if this kind is kept when a period closes.
    kept: Callable[[Connection, str, Period], tuple[ClosedPeriod, Figures] | None] | None = None

    @property
    def closes(self) -> bool:
        """Whether a closed period answers with the figures it kept."""
        return self.kept is not None


BILLABLE_USAGE = ReportKind("billableusage", billable_usage_report, lambda period: BillableUsageReport(period, ()),
                            find_closed)
CONCURRENT_USAGE = ReportKind("concurrentusage", concurrent_usage_report,
                              lambda period: ConcurrentUsageReport(period, "", ()))


@dataclass(frozen=True)
class RequestedReport(Generic[Figures]):
    """A report's figures, and the closed period that kept them (None: computed now)."""

    figures: Figures
    closed: ClosedPeriod | None = None


def answer_report(conn: Connection, kind: ReportKind[Figures], org: Organization, period: Period, catalog: Catalog,
                  now: int, as_of: int | None = None) -> RequestedReport[Figures]:
    """The report ``kind`` of ``org`` for ``period``, cut off at ``now``. With ``as_of``, as
    it was at that instant (``InvalidInput`` for one in the future or before the
    organization existed: no report was said then). Without, a closed period's report is
    the one kept when it was closed."""
    if as_of is not None:
        check_as_of(org, as_of, now)
    elif kind.kept is not None:
        kept = kind.kept(conn, org.id, period)
        if kept is not None:
            return RequestedReport(kept[1], kept[0])
    return RequestedReport(kind.figures(conn, org, period, catalog, now, as_of))
