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
