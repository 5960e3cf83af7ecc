"""What the API answers, as models that accept fields they do not know yet."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timezone
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


def format_date(value: datetime | date | str) -> str:
    """A request date as ``yyyy-MM-ddTHH:mm:ss.SSSZ``: naive datetimes and dates are UTC."""
    if isinstance(value, str):
        text = value.strip()
        value = datetime.fromisoformat(text) if len(text) > 10 else date.fromisoformat(text)
    if not isinstance(value, datetime):
        value = datetime.combine(value, time.min)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class BillingUsageResource(_Model):
    name: str
    date: datetime
    hours: Decimal | None = None  # this service, under the hourly model: the user's hours


class BillingUsage(_Model):
    name: str
    total_usage: Decimal = Field(alias="totalUsage")
    resources: list[BillingUsageResource] = []


class Closed(_Model):
    """That the report is a closed period's, kept when it was closed (this service only)."""

    closed_at: datetime = Field(alias="closedAt")
    closed_by: str = Field(alias="closedBy")
    sequence: int


class ClosedPeriod(Closed):
    start_date: datetime = Field(alias="startDate")
    end_date: datetime = Field(alias="endDate")


class ClosedPeriods(_Model):
    entities: list[ClosedPeriod] = []
    total: int = 0


class BillingUsageReport(_Model):
    id: str | None = None
    name: str | None = None
    start_date: datetime = Field(alias="startDate")
    end_date: datetime = Field(alias="endDate")
    status: str
    usages: list[BillingUsage] = []
    self_uri: str | None = Field(None, alias="selfUri")
    closed: Closed | None = None

    def to_dict(self) -> dict[str, Any]:
        """The API's camelCase JSON, dates as ``yyyy-MM-ddTHH:mm:ss.SSSZ``."""
        body = self.model_dump(by_alias=True, mode="json")
        if self.closed is None:
            del body["closed"]
        body["startDate"], body["endDate"] = format_date(self.start_date), format_date(self.end_date)
        for usage, model in zip(body["usages"], self.usages):
            usage["totalUsage"] = _total_text(model.total_usage)
            for resource, resource_model in zip(usage["resources"], model.resources):
                resource["date"] = format_date(resource_model.date)
                if resource_model.hours is None:
                    del resource["hours"]  # a resource has hours under the hourly model alone
                else:
                    resource["hours"] = format(resource_model.hours, "f")
        return body

    def to_csv(self) -> str:
        """One line per resource: usage, totalUsage, resource, date (the service's own CSV)."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(("usage", "totalUsage", "resource", "date"))
        for usage in self.usages:
            for resource in usage.resources:
                writer.writerow((usage.name, _total_text(usage.total_usage), resource.name, format_date(resource.date)))
        return out.getvalue()


def _total_text(total: Decimal) -> str:
    return format(total, "f")


class ListedEvent(_Model):
    """An event as the service received it."""

    id: str
    source: str
    type: str
    subject: str
    time: datetime
    data: dict[str, Any] = {}
    received_at: datetime = Field(alias="receivedAt")
    sequence: int
    voided: bool = False
    voided_at: datetime | None = Field(None, alias="voidedAt")
    voided_by: str | None = Field(None, alias="voidedBy")
    voided_by_name: str | None = Field(None, alias="voidedByName")
    void_reason: str | None = Field(None, alias="voidReason")


class EventListing(_Model):
    entities: list[ListedEvent] = []
    page_size: int = Field(alias="pageSize")
    cursor: str | None = None
    next_uri: str | None = Field(None, alias="nextUri")


class IngestResult(_Model):
    accepted: int = 0
    duplicates: int = 0


class VoidResult(_Model):
    voided: int
    sequence: int


class DayPeak(_Model):
    date: datetime
    peak: int
    minutes_at_peak: int = Field(alias="minutesAtPeak")
    logged_in_hours: Decimal | None = Field(None, alias="loggedInHours")  # None from a release before it


class ProductPeaks(_Model):
    name: str
    peak: int
    days: list[DayPeak] = []


class ConcurrentUsageReport(_Model):
    id: str | None = None
    start_date: datetime = Field(alias="startDate")
    end_date: datetime = Field(alias="endDate")
    status: str
    model: str | None = None
    products: list[ProductPeaks] = []


class Interval(_Model):
    start: datetime
    end: datetime | None = None


class FamilyCharge(_Model):
    family: str
    charge: str | None = None
    holding: Interval | None = None
    reason: str | None = None


class Explanation(_Model):
    user_id: str = Field(alias="userId")
    display_name: str = Field(alias="displayName")
    billed: bool
    reason: str | None = None
    logged_in_hours: Decimal = Field(alias="loggedInHours")
    first_billable_login: datetime | None = Field(None, alias="firstBillableLogin")
    session: Interval | None = None
    families: list[FamilyCharge] = []
    closed: Closed | None = None  # a closed period: what is explained is its kept report


class Product(_Model):
    name: str
    kind: str
    family: str | None = None
    rank: int | None = None
    concurrent: bool = False
    billed_as: str = Field(alias="billedAs")
    model_applies: bool = Field(alias="modelApplies")


class ProductCatalog(_Model):
    model: str
    entities: list[Product] = []


class NamedEntity(_Model):
    id: str
    name: str | None = None
    self_uri: str | None = Field(None, alias="selfUri")


class SubscriptionOverviewUsage(_Model):
    name: str
    part_number: str | None = Field(None, alias="partNumber")
    grouping: str | None = None
    unit_of_measure_type: str | None = Field(None, alias="unitOfMeasureType")
    usage_quantity: Decimal = Field(alias="usageQuantity")
    overage_price: Decimal | None = Field(None, alias="overagePrice")
    prepay_quantity: Decimal | None = Field(None, alias="prepayQuantity")
    prepay_price: Decimal | None = Field(None, alias="prepayPrice")
    usage_notes: str | None = Field(None, alias="usageNotes")
    is_cancellable: bool | None = Field(None, alias="isCancellable")
    bundle_quantity: Decimal | None = Field(None, alias="bundleQuantity")
    is_third_party: bool | None = Field(None, alias="isThirdParty")


class TrusteeBillingOverview(_Model):
    """A billing period of an organization against its subscription (Genesys Cloud's shape)."""

    id: str
    name: str | None = None
    organization: NamedEntity | None = None
    currency: str | None = None
    enabled_products: list[str] = Field([], alias="enabledProducts")
    subscription_type: str | None = Field(None, alias="subscriptionType")
    ramp_period_start_date: datetime | None = Field(None, alias="rampPeriodStartDate")
    ramp_period_end_date: datetime | None = Field(None, alias="rampPeriodEndDate")
    billing_period_start_date: datetime = Field(alias="billingPeriodStartDate")
    billing_period_end_date: datetime = Field(alias="billingPeriodEndDate")
    usages: list[SubscriptionOverviewUsage] = []
    contract_amendment_date: datetime | None = Field(None, alias="contractAmendmentDate")
    contract_effective_date: datetime | None = Field(None, alias="contractEffectiveDate")
    contract_end_date: datetime | None = Field(None, alias="contractEndDate")
    minimum_monthly_amount: Decimal | None = Field(None, alias="minimumMonthlyAmount")
    in_ramp_period: bool | None = Field(None, alias="inRampPeriod")
    closed: Closed | None = None  # this service: a closed period's kept figures
    self_uri: str | None = Field(None, alias="selfUri")


class ProductCharges(_Model):
    name: str
    part_number: str = Field(alias="partNumber")
    usage: Decimal
    prepay_quantity: Decimal = Field(alias="prepayQuantity")
    overage_quantity: Decimal = Field(alias="overageQuantity")
    prepay_price: Decimal = Field(alias="prepayPrice")
    overage_price: Decimal = Field(alias="overagePrice")
    prepaid_charge: Decimal = Field(alias="prepaidCharge")
    overage_charge: Decimal = Field(alias="overageCharge")
    total: Decimal
    explanation: str


class UnpricedUsage(_Model):
    name: str
    usage: Decimal


class Charges(_Model):
    """What a billing period costs under the subscription (this service only)."""

    start_date: datetime = Field(alias="startDate")
    end_date: datetime = Field(alias="endDate")
    currency: str
    subscription_set_at: datetime = Field(alias="subscriptionSetAt")
    products: list[ProductCharges] = []
    unpriced_usages: list[UnpricedUsage] = Field([], alias="unpricedUsages")
    subtotal: Decimal
    minimum_monthly_amount: Decimal = Field(alias="minimumMonthlyAmount")
    minimum_top_up: Decimal = Field(alias="minimumTopUp")
    total: Decimal
    closed: Closed | None = None
    as_of: datetime | None = Field(None, alias="asOf")
    self_uri: str | None = Field(None, alias="selfUri")


class AlertLine(_Model):
    """Where one threshold of an alert stands for one product in the running billing period."""

    product: str
    threshold: int
    line: Decimal | None = None
    value: Decimal
    state: str  # triggered, below
    since: datetime
    billing_period_start: datetime = Field(alias="billingPeriodStart")


class Alert(_Model):
    id: str
    name: str = ""
    product: str | None = None  # None: every product and device type, each on its own
    measure: str
    thresholds: list[dict[str, Decimal]] = []
    created_at: datetime = Field(alias="createdAt")
    created_by: str = Field(alias="createdBy")
    lines: list[AlertLine] = []


class AlertListing(_Model):
    entities: list[Alert] = []
    total: int = 0


class Webhook(_Model):
    id: str
    url: str
    description: str = ""
    created_at: datetime = Field(alias="createdAt")
    secret: str | None = None  # in the answer that creates it only


class WebhookListing(_Model):
    entities: list[Webhook] = []
    total: int = 0


class DeliveryAttempt(_Model):
    attempt: int
    at: datetime
    status: int | None = None
    error: str | None = None
    took_ms: int = Field(alias="tookMs")


class Delivery(_Model):
    id: str  # the webhook-id, the same at every attempt
    type: str
    created_at: datetime = Field(alias="createdAt")
    state: str  # pending, delivered, failed
    next_attempt_at: datetime | None = Field(None, alias="nextAttemptAt")
    delivered_at: datetime | None = Field(None, alias="deliveredAt")
    attempts: list[DeliveryAttempt] = []
    body: dict[str, Any] = {}


class DeliveryListing(_Model):
    entities: list[Delivery] = []
    total: int = 0
