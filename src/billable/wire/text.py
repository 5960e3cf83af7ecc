"""Reports as a person or a spreadsheet reads them: CSV, text tables and sentences, for the
command line."""

from __future__ import annotations

import csv
import io

from billable.rules.instants import Period, format_instant
from billable.rules.intervals import OPEN
from billable.rules.report import BillableUsageReport, ConcurrentUsageReport, hours_total
from billable.service.explanations import ExplainedUser

CSV_HEADER = ("usage", "totalUsage", "resource", "date")


def csv_text(report: BillableUsageReport) -> str:
    """One line per resource, with its usage's name and total; CRLF line ends as RFC 4180 says."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for usage in report.usages:
        for resource in usage.resources:
            writer.writerow((usage.name, usage.total_usage, resource.name, format_instant(resource.date)))
    return out.getvalue()


def table_text(report: BillableUsageReport) -> str:
    """A summary a person reads in a terminal."""
    lines = [f"Billable usage {format_instant(report.period.start)} to {format_instant(report.period.end)}", ""]
    rows = [("usage", "total", "resources")] + [(u.name, u.total_usage, str(len(u.resources))) for u in report.usages]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for number, row in enumerate(rows):
        lines.append(f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:>{widths[2]}}")
        if number == 0:
            lines.append("  ".join("-" * w for w in widths))
    if not report.usages:
        lines.append("(no billable usage in this period)")
    return "\n".join(lines) + "\n"


def concurrent_csv(report: ConcurrentUsageReport) -> str:
    """One line per product and day: product, date, peak, minutesAtPeak, the period's peak,
    and the hours logged in that day."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(("product", "date", "peak", "minutesAtPeak", "periodPeak", "loggedInHours"))
    for product in report.products:
        for day in product.days:
            writer.writerow((product.name, format_instant(day.day), day.peak, day.minutes_at_peak, product.peak,
                             hours_total(day.logged_in_ms)))
    return out.getvalue()


def concurrent_table(report: ConcurrentUsageReport) -> str:
    lines = [f"Concurrent usage {format_instant(report.period.start)} to {format_instant(report.period.end)}"
             f" ({report.model} model)", ""]
    if not report.products:
        lines.append("(no product is billed under the concurrent or hourly model)")
    for product in report.products:
        lines.append(f"{product.name}: period peak {product.peak}")
        lines += [f"  {format_instant(d.day)[:10]}  peak {d.peak:>6}  {d.minutes_at_peak:>5} min at peak" if d.peak
                  else f"  {format_instant(d.day)[:10]}  nobody logged in" for d in product.days]
    return "\n".join(lines) + "\n"


REASONS = {
    "unknown.user": "No event of this user was received.",
    "not.logged.in": "They did not log in during the period.",
    "no.license": "They held no license of it while logged in during the period.",
}


def _when(instant: int) -> str:
    return format_instant(instant).replace("T", " ").replace(".000Z", " UTC").replace("Z", " UTC")


def _span(interval: tuple[int, int] | None, still: str) -> str:
    if interval is None:
        return "?"
    return _when(interval[0]) + (f", {still}" if interval[1] == OPEN else f" to {_when(interval[1])}")


def explanation_text(explained: ExplainedUser, period: Period) -> str:
    """Why a user is or is not billed, in the sentences the page says it in."""
    found = explained.explanation
    last_day = format_instant(period.end - 1)[:10]
    lines = [f"Why {found.display_name} {'is' if found.billed else 'is not'} billed, "
             f"{format_instant(period.start)[:10]} to {last_day}", ""]
    if explained.closed is not None:
        lines.append(f"This period is closed: this explains the report kept when it was closed, "
                     f"{_when(explained.closed.closed_at)}, with the events received by then. What arrived since is "
                     "in its amendments (billable periods amendments).")
    if not found.billed and found.reason is not None:
        lines.append(REASONS[found.reason])
    for family in found.families:
        lines.append(f"{family.family}: billed {family.product}, the highest product of the family held while logged "
                     f"in (held from {_span(family.holding, 'still held')})." if family.product is not None else
                     f"{family.family}: nothing billed. {REASONS[family.reason or 'no.license']}")
    if found.first_billable_login is not None:
        lines.append(f"First billable login {_when(found.first_billable_login)}, in the session from "
                     f"{_span(found.session, 'still open')}.")
    lines.append(f"Logged in {hours_total(found.logged_in_ms)} hours in the period.")
    return "\n".join(lines[:2] + [f"- {line}" for line in lines[2:]]) + "\n"
