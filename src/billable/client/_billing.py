"""``BillingApi`` and ``AsyncBillingApi``, side by side."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from billable.client._base import PollSchedule
from billable.client._client import ApiClient, AsyncApiClient
from billable.client._exceptions import ReportNotReadyError
from billable.client._models import BillingUsageReport, IngestResult, format_date

REPORT_PATH = "/api/v2/billing/reports/billableusage"
EVENTS_PATH = "/api/v2/billing/events"
MAX_BATCH = 10_000
DateLike = datetime | date | str


def _period(start_date: DateLike, end_date: DateLike) -> dict[str, str]:
    return {"startDate": format_date(start_date), "endDate": format_date(end_date)}


def _batches(events: Iterable[dict[str, Any]], size: int) -> Iterable[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for event in events:
        batch.append(event)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _not_ready(wait_timeout: float) -> ReportNotReadyError:
    return ReportNotReadyError(f"the report was still InProgress after {wait_timeout:g} s; call again later")


class BillingApi:
    """The billing routes, synchronously."""

    def __init__(self, client: ApiClient):
        self.client = client

    def get_billing_reports_billableusage(self, start_date: DateLike, end_date: DateLike, *, wait: bool = True,
                                          wait_timeout: float = 300.0) -> BillingUsageReport:
        """The billable usage report for ``[start_date, end_date)``.

        With ``wait`` (the default) an ``InProgress`` answer is asked again, less and less
        often, until ``Complete`` or ``wait_timeout`` seconds (then ``ReportNotReadyError``).
        """
        params, schedule = _period(start_date, end_date), PollSchedule(wait_timeout)
        while True:
            report = BillingUsageReport.model_validate(self.client.request("GET", REPORT_PATH, params=params).json())
            if not wait or report.status != "InProgress":
                return report
            pause = schedule.wait()
            if pause is None:
                raise _not_ready(wait_timeout)
            time.sleep(pause)

    def post_billing_events(self, events: Iterable[dict[str, Any]], *, batch_size: int = MAX_BATCH) -> IngestResult:
        """Send CloudEvents in batches of the service's limit; retried safely (duplicates are skipped)."""
        total = IngestResult()
        for batch in _batches(events, batch_size):
            answer = IngestResult.model_validate(
                self.client.request("POST", EVENTS_PATH, json=batch, retry_safe=True).json())
            total = IngestResult(accepted=total.accepted + answer.accepted, duplicates=total.duplicates + answer.duplicates)
        return total


class AsyncBillingApi:
    """The billing routes, asynchronously."""

    def __init__(self, client: AsyncApiClient):
        self.client = client

    async def get_billing_reports_billableusage(self, start_date: DateLike, end_date: DateLike, *, wait: bool = True,
                                                wait_timeout: float = 300.0) -> BillingUsageReport:
        params, schedule = _period(start_date, end_date), PollSchedule(wait_timeout)
        while True:
            response = await self.client.request("GET", REPORT_PATH, params=params)
            report = BillingUsageReport.model_validate(response.json())
            if not wait or report.status != "InProgress":
                return report
            pause = schedule.wait()
            if pause is None:
                raise _not_ready(wait_timeout)
            await asyncio.sleep(pause)

    async def post_billing_events(self, events: Iterable[dict[str, Any]], *, batch_size: int = MAX_BATCH) -> IngestResult:
        total = IngestResult()
        for batch in _batches(events, batch_size):
            response = await self.client.request("POST", EVENTS_PATH, json=batch, retry_safe=True)
            answer = IngestResult.model_validate(response.json())
            total = IngestResult(accepted=total.accepted + answer.accepted, duplicates=total.duplicates + answer.duplicates)
        return total
