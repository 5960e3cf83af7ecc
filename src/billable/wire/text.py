"""Reports as a person or a spreadsheet reads them: CSV and text tables, for the command line."""

from __future__ import annotations

import csv
import io

from billable.rules.instants import format_instant
from billable.rules.report import BillableUsageReport, ConcurrentUsageReport, hours_total

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
        lines += [f"  {format_instant(d.day)[:10]}  peak {d.peak:>6}  {d.minutes_at_peak:>5} min at peak"
                  for d in product.days]
    return "\n".join(lines) + "\n"
