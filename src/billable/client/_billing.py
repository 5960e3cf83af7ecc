"""``BillingApi`` and ``AsyncBillingApi``, side by side."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import date, datetime
from itertools import islice
from urllib.parse import quote
from typing import Any, TypeVar

from billable.client._base import PollSchedule
from billable.client._client import ApiClient, AsyncApiClient
from billable.client._exceptions import ReportNotReadyError
from billable.client._models import (
    Alert,
    AlertListing,
    BillingUsageReport,
    Charges,
    ClosedPeriod,
    ClosedPeriods,
    ConcurrentUsageReport,
    Delivery,
    DeliveryListing,
    EventListing,
    Explanation,
    IngestResult,
    ListedEvent,
    ProductCatalog,
    TrusteeBillingOverview,
    VoidResult,
    Webhook,
    WebhookListing,
    format_date,
)

REPORT_PATH = "/api/v2/billing/reports/billableusage"
CONCURRENT_PATH = "/api/v2/billing/reports/concurrentusage"
EXPLAIN_PATH = "/api/v2/billing/reports/billableusage/explain"
PRODUCTS_PATH = "/api/v2/billing/products"
EVENTS_PATH = "/api/v2/billing/events"
VOIDS_PATH = EVENTS_PATH + "/voids"
PERIODS_PATH = "/api/v2/billing/periods"
CHARGES_PATH = REPORT_PATH + "/charges"
OVERVIEW_PATH = "/api/v2/billing/trusteebillingoverview/"
ALERTS_PATH = "/api/v2/billing/alerts"
WEBHOOKS_PATH = "/api/v2/billing/webhooks"
_VOIDS_HELP = """Void received events, all or none (at most 10,000): ``voids`` are
        ``{"source", "id", "reason"}``. Not retried: a retry after a lost answer would be
        refused as already voided (list the events to see)."""
MAX_BATCH = 10_000
DateLike = datetime | date | str
Report = TypeVar("Report", BillingUsageReport, ConcurrentUsageReport)


def _period(start_date: DateLike, end_date: DateLike, as_of: DateLike | None = None) -> dict[str, str]:
    period = {"startDate": format_date(start_date), "endDate": format_date(end_date)}
    return period if as_of is None else {**period, "asOf": format_date(as_of)}


def _batches(events: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(events)
    while batch := list(islice(iterator, size)):
        yield batch


def _event_filters(subject: str | None, type: str | None, start_date: DateLike | None, end_date: DateLike | None,
                   received_after: DateLike | None, page_size: int) -> dict[str, str]:
    texts = {"subject": subject, "type": type}
    dates = {"startDate": start_date, "endDate": end_date, "receivedAfter": received_after}
    return ({name: value for name, value in texts.items() if value is not None}
            | {name: format_date(value) for name, value in dates.items() if value is not None}
            | {"pageSize": str(page_size)})


def _overview_path(trustor_org_id: str) -> str:
    return OVERVIEW_PATH + quote(trustor_org_id, safe="")


def _index(billing_period_index: int | None) -> dict[str, str]:
    return {} if billing_period_index is None else {"billingPeriodIndex": str(billing_period_index)}


def _webhook_path(webhook_id: str, *rest: str) -> str:
    return "/".join((WEBHOOKS_PATH, quote(webhook_id, safe=""), *(quote(part, safe="") for part in rest)))


def _not_ready(wait_timeout: float) -> ReportNotReadyError:
    return ReportNotReadyError(f"the report was still InProgress after {wait_timeout:g} s; call again later")


class BillingApi:
    """The billing routes, synchronously."""

    def __init__(self, client: ApiClient):
        self.client = client

    def get_billing_reports_billableusage(self, start_date: DateLike, end_date: DateLike, *, wait: bool = True,
                                          wait_timeout: float = 300.0, as_of: DateLike | None = None
                                          ) -> BillingUsageReport:
        """The billable usage report for ``[start_date, end_date)`` (``as_of``: as it was
        at that instant, this service only).

        With ``wait`` (the default) an ``InProgress`` answer is asked again, less and less
        often, until ``Complete`` or ``wait_timeout`` seconds (then ``ReportNotReadyError``).
        """
        return self._report(REPORT_PATH, BillingUsageReport, start_date, end_date, wait, wait_timeout, as_of)

    def get_billing_reports_concurrentusage(self, start_date: DateLike, end_date: DateLike, *, wait: bool = True,
                                            wait_timeout: float = 300.0, as_of: DateLike | None = None
                                            ) -> ConcurrentUsageReport:
        """Daily and period peaks per product under the concurrent or hourly model (this service only)."""
        return self._report(CONCURRENT_PATH, ConcurrentUsageReport, start_date, end_date, wait, wait_timeout, as_of)

    def get_billing_reports_billableusage_explain(self, start_date: DateLike, end_date: DateLike,
                                                  user_id: str, as_of: DateLike | None = None) -> Explanation:
        """Why one user is or is not billed (this service only)."""
        params = {**_period(start_date, end_date, as_of), "userId": user_id}
        return Explanation.model_validate(self.client.request("GET", EXPLAIN_PATH, params=params).json())

    def get_billing_products(self) -> ProductCatalog:
        """The product catalog and the model each product is billed under (this service only)."""
        return ProductCatalog.model_validate(self.client.request("GET", PRODUCTS_PATH).json())

    def _report(self, path: str, model: type[Report], start_date: DateLike, end_date: DateLike, wait: bool,
                wait_timeout: float, as_of: DateLike | None) -> Report:
        params, schedule = _period(start_date, end_date, as_of), PollSchedule(wait_timeout)
        while True:
            report = model.model_validate(self.client.request("GET", path, params=params).json())
            if not wait or report.status != "InProgress":
                return report
            pause = schedule.wait()
            if pause is None:
                raise _not_ready(wait_timeout)
            time.sleep(pause)

    def get_billing_events(self, *, subject: str | None = None, type: str | None = None,
                           start_date: DateLike | None = None, end_date: DateLike | None = None,
                           received_after: DateLike | None = None, page_size: int = 100) -> Iterator[ListedEvent]:
        """The organization's events as received, newest arrival first (this service only):
        pages of ``page_size`` are fetched as the iteration reaches them."""
        params: dict[str, str] | None = _event_filters(subject, type, start_date, end_date, received_after, page_size)
        path = EVENTS_PATH
        while True:
            page = EventListing.model_validate(self.client.request("GET", path, params=params).json())
            yield from page.entities
            if page.next_uri is None:
                return
            path, params = page.next_uri, None

    def post_billing_events(self, events: Iterable[dict[str, Any]], *, batch_size: int = MAX_BATCH) -> IngestResult:
        """Send CloudEvents in batches of the service's limit; retried safely (duplicates are skipped)."""
        total = IngestResult()
        for batch in _batches(events, batch_size):
            answer = IngestResult.model_validate(
                self.client.request("POST", EVENTS_PATH, json=batch, retry_safe=True).json())
            total = IngestResult(accepted=total.accepted + answer.accepted, duplicates=total.duplicates + answer.duplicates)
        return total

    def post_billing_events_voids(self, voids: Iterable[dict[str, str]]) -> VoidResult:
        return VoidResult.model_validate(self.client.request("POST", VOIDS_PATH, json=list(voids)).json())

    post_billing_events_voids.__doc__ = _VOIDS_HELP

    def post_billing_periods(self, start_date: DateLike, end_date: DateLike) -> ClosedPeriod:
        """Close a period that is over: its report is kept as it is now, for good (this service only)."""
        return ClosedPeriod.model_validate(self.client.request("POST", PERIODS_PATH,
                                                               json=_period(start_date, end_date)).json())

    def get_billing_periods(self) -> ClosedPeriods:
        """The organization's closed periods (this service only)."""
        return ClosedPeriods.model_validate(self.client.request("GET", PERIODS_PATH).json())

    def get_billing_reports_billableusage_amendments(self, start_date: DateLike, end_date: DateLike) -> dict[str, Any]:
        """For a closed period: what arrived since the close changes, per usage and resource,
        with the events that caused it (the JSON body; this service only)."""
        answer: dict[str, Any] = self.client.request("GET", REPORT_PATH + "/amendments",
                                                     params=_period(start_date, end_date)).json()
        return answer

    def get_billing_trusteebillingoverview_trustor_org_id(self, trustor_org_id: str,
                                                          billing_period_index: int | None = None
                                                          ) -> TrusteeBillingOverview:
        """A billing period (0: the running one; 1: the one before; …) of an organization that
        trusts this client's (or of its own) against its subscription."""
        answer = self.client.request("GET", _overview_path(trustor_org_id), params=_index(billing_period_index))
        return TrusteeBillingOverview.model_validate(answer.json())

    def get_billing_reports_billableusage_charges(self, start_date: DateLike, end_date: DateLike,
                                                  as_of: DateLike | None = None) -> Charges:
        """What a billing period (a calendar month in UTC) costs under the subscription (this service only)."""
        return Charges.model_validate(self.client.request("GET", CHARGES_PATH,
                                                          params=_period(start_date, end_date, as_of)).json())

    def post_billing_alerts(self, alert: dict[str, Any]) -> Alert:
        """Create a usage alert (this service only): ``{"name", "product", "measure", "thresholds":
        [{"quantity": "250"} | {"percent": "80"}, …]}``. Not retried: a retry could create it twice."""
        return Alert.model_validate(self.client.request("POST", ALERTS_PATH, json=alert).json())

    def get_billing_alerts(self) -> list[Alert]:
        """The organization's alerts, with where each line stands (this service only)."""
        return AlertListing.model_validate(self.client.request("GET", ALERTS_PATH).json()).entities

    def delete_billing_alert(self, alert_id: str) -> None:
        self.client.request("DELETE", f"{ALERTS_PATH}/{quote(alert_id, safe='')}")

    def post_billing_webhooks(self, url: str, description: str = "") -> Webhook:
        """Create a webhook endpoint; the answer's ``secret`` (shown this once) signs every message."""
        return Webhook.model_validate(self.client.request("POST", WEBHOOKS_PATH,
                                                          json={"url": url, "description": description}).json())

    def get_billing_webhooks(self) -> list[Webhook]:
        return WebhookListing.model_validate(self.client.request("GET", WEBHOOKS_PATH).json()).entities

    def delete_billing_webhook(self, webhook_id: str) -> None:
        self.client.request("DELETE", _webhook_path(webhook_id))

    def get_billing_webhook_deliveries(self, webhook_id: str, page_size: int = 50) -> list[Delivery]:
        """The endpoint's latest messages, newest first, each with every attempt's answer."""
        answer = self.client.request("GET", _webhook_path(webhook_id, "deliveries"), params={"pageSize": str(page_size)})
        return DeliveryListing.model_validate(answer.json()).entities

    def post_billing_webhook_redeliver(self, webhook_id: str, message_id: str) -> None:
        """Deliver a message again, with its webhook-id."""
        self.client.request("POST", _webhook_path(webhook_id, "deliveries", message_id, "redeliver"))


class AsyncBillingApi:
    """The billing routes, asynchronously."""

    def __init__(self, client: AsyncApiClient):
        self.client = client

    async def get_billing_reports_billableusage(self, start_date: DateLike, end_date: DateLike, *, wait: bool = True,
                                                wait_timeout: float = 300.0, as_of: DateLike | None = None
                                                ) -> BillingUsageReport:
        return await self._report(REPORT_PATH, BillingUsageReport, start_date, end_date, wait, wait_timeout, as_of)

    async def get_billing_reports_concurrentusage(self, start_date: DateLike, end_date: DateLike, *, wait: bool = True,
                                                  wait_timeout: float = 300.0, as_of: DateLike | None = None
                                                  ) -> ConcurrentUsageReport:
        return await self._report(CONCURRENT_PATH, ConcurrentUsageReport, start_date, end_date, wait, wait_timeout, as_of)

    async def get_billing_reports_billableusage_explain(self, start_date: DateLike, end_date: DateLike,
                                                        user_id: str, as_of: DateLike | None = None) -> Explanation:
        params = {**_period(start_date, end_date, as_of), "userId": user_id}
        return Explanation.model_validate((await self.client.request("GET", EXPLAIN_PATH, params=params)).json())

    async def get_billing_products(self) -> ProductCatalog:
        return ProductCatalog.model_validate((await self.client.request("GET", PRODUCTS_PATH)).json())

    async def _report(self, path: str, model: type[Report], start_date: DateLike, end_date: DateLike, wait: bool,
                      wait_timeout: float, as_of: DateLike | None) -> Report:
        params, schedule = _period(start_date, end_date, as_of), PollSchedule(wait_timeout)
        while True:
            report = model.model_validate((await self.client.request("GET", path, params=params)).json())
            if not wait or report.status != "InProgress":
                return report
            pause = schedule.wait()
            if pause is None:
                raise _not_ready(wait_timeout)
            await asyncio.sleep(pause)

    async def get_billing_events(self, *, subject: str | None = None, type: str | None = None,
                                 start_date: DateLike | None = None, end_date: DateLike | None = None,
                                 received_after: DateLike | None = None, page_size: int = 100
                                 ) -> AsyncIterator[ListedEvent]:
        params: dict[str, str] | None = _event_filters(subject, type, start_date, end_date, received_after, page_size)
        path = EVENTS_PATH
        while True:
            page = EventListing.model_validate((await self.client.request("GET", path, params=params)).json())
            for listed in page.entities:
                yield listed
            if page.next_uri is None:
                return
            path, params = page.next_uri, None

    async def post_billing_events(self, events: Iterable[dict[str, Any]], *, batch_size: int = MAX_BATCH) -> IngestResult:
        total = IngestResult()
        for batch in _batches(events, batch_size):
            response = await self.client.request("POST", EVENTS_PATH, json=batch, retry_safe=True)
            answer = IngestResult.model_validate(response.json())
            total = IngestResult(accepted=total.accepted + answer.accepted, duplicates=total.duplicates + answer.duplicates)
        return total

    async def post_billing_events_voids(self, voids: Iterable[dict[str, str]]) -> VoidResult:
        return VoidResult.model_validate((await self.client.request("POST", VOIDS_PATH, json=list(voids))).json())

    post_billing_events_voids.__doc__ = _VOIDS_HELP

    async def post_billing_periods(self, start_date: DateLike, end_date: DateLike) -> ClosedPeriod:
        answer = await self.client.request("POST", PERIODS_PATH, json=_period(start_date, end_date))
        return ClosedPeriod.model_validate(answer.json())

    async def get_billing_periods(self) -> ClosedPeriods:
        return ClosedPeriods.model_validate((await self.client.request("GET", PERIODS_PATH)).json())

    async def get_billing_reports_billableusage_amendments(self, start_date: DateLike, end_date: DateLike
                                                           ) -> dict[str, Any]:
        answer: dict[str, Any] = (await self.client.request("GET", REPORT_PATH + "/amendments",
                                                            params=_period(start_date, end_date))).json()
        return answer

    async def get_billing_trusteebillingoverview_trustor_org_id(self, trustor_org_id: str,
                                                                billing_period_index: int | None = None
                                                                ) -> TrusteeBillingOverview:
        answer = await self.client.request("GET", _overview_path(trustor_org_id), params=_index(billing_period_index))
        return TrusteeBillingOverview.model_validate(answer.json())

    async def get_billing_reports_billableusage_charges(self, start_date: DateLike, end_date: DateLike,
                                                        as_of: DateLike | None = None) -> Charges:
        answer = await self.client.request("GET", CHARGES_PATH, params=_period(start_date, end_date, as_of))
        return Charges.model_validate(answer.json())

    async def post_billing_alerts(self, alert: dict[str, Any]) -> Alert:
        return Alert.model_validate((await self.client.request("POST", ALERTS_PATH, json=alert)).json())

    async def get_billing_alerts(self) -> list[Alert]:
        return AlertListing.model_validate((await self.client.request("GET", ALERTS_PATH)).json()).entities

    async def delete_billing_alert(self, alert_id: str) -> None:
        await self.client.request("DELETE", f"{ALERTS_PATH}/{quote(alert_id, safe='')}")

    async def post_billing_webhooks(self, url: str, description: str = "") -> Webhook:
        answer = await self.client.request("POST", WEBHOOKS_PATH, json={"url": url, "description": description})
        return Webhook.model_validate(answer.json())

    async def get_billing_webhooks(self) -> list[Webhook]:
        return WebhookListing.model_validate((await self.client.request("GET", WEBHOOKS_PATH)).json()).entities

    async def delete_billing_webhook(self, webhook_id: str) -> None:
        await self.client.request("DELETE", _webhook_path(webhook_id))

    async def get_billing_webhook_deliveries(self, webhook_id: str, page_size: int = 50) -> list[Delivery]:
        answer = await self.client.request("GET", _webhook_path(webhook_id, "deliveries"),
                                           params={"pageSize": str(page_size)})
        return DeliveryListing.model_validate(answer.json()).entities

    async def post_billing_webhook_redeliver(self, webhook_id: str, message_id: str) -> None:
        await self.client.request("POST", _webhook_path(webhook_id, "deliveries", message_id, "redeliver"))
