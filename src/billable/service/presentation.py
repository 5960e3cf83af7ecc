"""A report as the API body, CSV and a text table: one writer for the CLI and the server."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any
from urllib.parse import urlencode

from billable.rules.instants import format_instant
from billable.rules.report import BillableUsageReport

REPORT_PATH = "/api/v2/billing/reports/billableusage"
_REPORT_NAMESPACE = uuid.UUID("6f1b2f4e-6a53-4b8e-9a57-2d4f0c1e5b10")


def report_id(org_id: str, report: BillableUsageReport) -> str:
    """A stable id: the same organization and period always give the same report id."""
    return str(uuid.uuid5(_REPORT_NAMESPACE, f"{org_id}/{report.period.start}/{report.period.end}"))


def api_body(org_id: str, report: BillableUsageReport, status: str = "Complete") -> dict[str, Any]:
    """The Genesys ``BillingUsageReport`` JSON body."""
    start, end = format_instant(report.period.start), format_instant(report.period.end)
    return {
        "id": report_id(org_id, report),
        "name": f"Billable usage {start} to {end}",
        "startDate": start,
        "endDate": end,
        "status": status,
        "usages": [
            {
                "name": usage.name,
                "totalUsage": usage.total_usage,
                "resources": [{"name": r.name, "date": format_instant(r.date)} for r in usage.resources],
            }
            for usage in (report.usages if status == "Complete" else ())
        ],
        "selfUri": f"{REPORT_PATH}?{urlencode({'startDate': start, 'endDate': end}, safe=':')}",
    }


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
