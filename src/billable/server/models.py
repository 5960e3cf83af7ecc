"""Response shapes, for the OpenAPI document (bodies are written by billable.service.presentation)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from billable.rules.catalog import Catalog
from billable.rules.events import ASSIGNED, DEVICE_ACTIVE, LOGIN, LOGOUT, MAX_EMAIL, MAX_TEXT, UNASSIGNED, USER_UPDATED


class BillingUsageResource(BaseModel):
    name: str = Field(description="the user's display name (latest email, else user id) or the device id")
    date: str = Field(description="first billable instant in the period, yyyy-MM-ddTHH:mm:ss.SSSZ", examples=["2026-10-02T08:00:00.000Z"])


class BillingUsage(BaseModel):
    name: str = Field(description="product or device type", examples=["cx3"])
    totalUsage: str = Field(description="an integer, or hours with two decimals under the hourly model", examples=["2"])
    resources: list[BillingUsageResource]


class BillingUsageReport(BaseModel):
    id: str
    name: str
    startDate: str = Field(examples=["2026-10-01T00:00:00.000Z"])
    endDate: str = Field(examples=["2026-11-01T00:00:00.000Z"])
    status: Literal["InProgress", "Complete"] = Field(description="InProgress: repeat the same request later")
    usages: list[BillingUsage]
    selfUri: str


class IngestionResult(BaseModel):
    accepted: int = Field(description="events stored by this request")
    duplicates: int = Field(description="events whose (source, id) was already stored, or repeated in the batch")


class Health(BaseModel):
    status: Literal["UP"]


class TokenAnswer(BaseModel):
    access_token: str
    token_type: Literal["bearer"]
    expires_in: int


class OAuthError(BaseModel):
    error: str
    description: str
    error_description: str


class DayPeak(BaseModel):
    date: str = Field(description="the UTC day, at midnight", examples=["2026-10-01T00:00:00.000Z"])
    peak: int = Field(description="the 30-minute peak inside the day (its part inside the period)", examples=[3])
    minutesAtPeak: int = Field(description="whole minutes of the day with at least `peak` users logged in", examples=[120])


class ProductPeaks(BaseModel):
    name: str = Field(examples=["cx1"])
    peak: int = Field(description="the period's peak: the product's totalUsage under the concurrent model", examples=[3])
    days: list[DayPeak]


class ConcurrentUsageReport(BaseModel):
    """Per product billed under the concurrent or hourly model, daily and period peaks."""

    model_config = {"json_schema_extra": {"examples": [{
        "id": "0b7c…", "name": "Concurrent usage 2026-10-01T00:00:00.000Z to 2026-10-02T00:00:00.000Z",
        "startDate": "2026-10-01T00:00:00.000Z", "endDate": "2026-10-02T00:00:00.000Z", "status": "Complete",
        "model": "concurrent",
        "products": [{"name": "cx1", "peak": 3, "days": [{"date": "2026-10-01T00:00:00.000Z", "peak": 3,
                                                           "minutesAtPeak": 120}]}],
        "selfUri": "/api/v2/billing/reports/concurrentusage?startDate=2026-10-01T00:00:00.000Z&endDate=2026-10-02T00:00:00.000Z",
    }]}}

    id: str
    name: str
    startDate: str
    endDate: str
    status: Literal["InProgress", "Complete"]
    model: str = Field(description="the organization's licensing model; no products under `named`")
    products: list[ProductPeaks]
    selfUri: str


class Interval(BaseModel):
    start: str
    end: str | None = Field(description="None while it is still open")


class FamilyCharge(BaseModel):
    family: str
    charge: str | None = Field(description="the product charged in this family, if any")
    holding: Interval | None = Field(description="the holding of that product that set the charge")
    reason: Literal["no.license", "not.logged.in"] | None


class Explanation(BaseModel):
    """Why one user is or is not billed in a period."""

    userId: str
    displayName: str
    startDate: str
    endDate: str
    billed: bool
    reason: Literal["unknown.user", "not.logged.in", "no.license"] | None
    loggedInMilliseconds: int = Field(description="time logged in inside the period (up to the cut-off)")
    loggedInHours: str
    firstBillableLogin: str | None
    session: Interval | None = Field(description="the session the first billable login belongs to")
    families: list[FamilyCharge]
    selfUri: str


class Product(BaseModel):
    name: str
    kind: Literal["user", "device"]
    family: str | None
    rank: int | None
    concurrent: bool = Field(description="follows the organization's concurrent or hourly model")
    billedAs: Literal["named", "concurrent", "hourly"]
    modelApplies: bool = Field(description="billed under the organization's own model")


class ProductCatalog(BaseModel):
    model: str
    entities: list[Product]
    total: int


def event_batch_schema(catalog: Catalog, max_events: int) -> dict[str, Any]:
    """The JSON schema of an ingestion body, as precise as the validation (but for the
    rule that a time may not be later than now plus 5 minutes)."""
    text = {"type": "string", "minLength": 1, "maxLength": MAX_TEXT, "pattern": r"\S"}
    email = {"anyOf": [{"type": "string", "minLength": 1, "maxLength": MAX_EMAIL, "pattern": r"\S"}, {"type": "null"}]}
    products = {"type": "string", "enum": [p.name for p in catalog.user_products]}
    devices = {"type": "string", "enum": [d.name for d in catalog.device_types]}

    def variant(kind: str, data: dict[str, Any], required: list[str]) -> dict[str, Any]:
        data_schema = {"type": "object", "properties": data, "required": required}
        return {
            "type": "object",
            "required": ["specversion", "id", "source", "type", "time", "subject", *(["data"] if required else [])],
            "properties": {
                "specversion": {"type": "string", "enum": ["1.0"]},
                "id": text,
                "source": text,
                "type": {"type": "string", "enum": [kind]},
                "time": {"type": "string", "format": "date-time",
                         "description": "RFC 3339; not later than now plus 5 minutes"},
                "subject": text,
                "data": data_schema,
            },
        }

    return {
        "type": "array",
        "maxItems": max_events,
        "items": {"oneOf": [
            variant(LOGIN, {"email": email}, []),
            variant(LOGOUT, {"email": email}, []),
            variant(ASSIGNED, {"product": products, "email": email}, ["product"]),
            variant(UNASSIGNED, {"product": products}, ["product"]),
            variant(DEVICE_ACTIVE, {"deviceType": devices}, ["deviceType"]),
            variant(USER_UPDATED, {"email": email["anyOf"][0]}, ["email"]),
        ]},
    }
