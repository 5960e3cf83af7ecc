"""The JSON bodies the API answers with: defined once, here.

``presentation.py`` writes them (the type checker holds each writer to its shape), the
server's OpenAPI document is generated from them, and a test checks that the SDK's models
read every field the document names (tests/test_shapes.py).
"""

# No `from __future__ import annotations`: pydantic reads these annotations at run time.
from typing import Annotated, Literal, NotRequired

from pydantic import Field
from typing_extensions import TypedDict

from billable.rules.explanation import FamilyReason, Reason

Status = Annotated[Literal["InProgress", "Complete"], Field(description="InProgress: repeat the same request later")]
Instant = Annotated[str, Field(description="yyyy-MM-ddTHH:mm:ss.SSSZ, UTC", examples=["2026-10-01T00:00:00.000Z"])]


class BillingUsageResource(TypedDict):
    name: Annotated[str, Field(description="the user's display name (latest email, else user id) or the device id")]
    date: Annotated[str, Field(description="first billable instant in the period, yyyy-MM-ddTHH:mm:ss.SSSZ",
                               examples=["2026-10-02T08:00:00.000Z"])]
    hours: NotRequired[Annotated[str, Field(description="for a product billed by the hour (this service only): the "
                                                        "user's hours logged in during the period", examples=["12.50"])]]


class BillingUsage(TypedDict):
    name: Annotated[str, Field(description="product or device type", examples=["cx3"])]
    totalUsage: Annotated[str, Field(description="an integer, or hours with two decimals under the hourly model",
                                     examples=["2"])]
    resources: list[BillingUsageResource]


class Closed(TypedDict):
    """That the period is closed: the report is the one kept then, and stays as it is."""

    closedAt: Annotated[str, Field(description="when it was closed, yyyy-MM-ddTHH:mm:ss.SSSZ")]
    closedBy: Annotated[str, Field(description="the client that closed it")]
    sequence: Annotated[int, Field(description="the organization's arrival sequence the kept report saw")]


class BillingUsageReport(TypedDict):
    """The Genesys Cloud ``BillingUsageReport``."""

    id: str
    name: str
    startDate: Instant
    endDate: Instant
    status: Status
    usages: list[BillingUsage]
    selfUri: str
    closed: NotRequired[Annotated[Closed, Field(description="only for a closed period: its report, kept then")]]


class ClosedPeriod(TypedDict):
    startDate: Instant
    endDate: Instant
    closedAt: str
    closedBy: str
    sequence: int


class ClosedPeriods(TypedDict):
    entities: list[ClosedPeriod]
    total: int


class IngestionResult(TypedDict):
    accepted: Annotated[int, Field(description="events stored by this request")]
    duplicates: Annotated[int, Field(description="events whose (source, id) was already stored, or repeated in the batch")]


class VoidResult(TypedDict):
    voided: Annotated[int, Field(description="events voided by this request (all it named)")]
    sequence: Annotated[int, Field(description="the void's place in the organization's arrival order")]


class DayPeak(TypedDict):
    date: Annotated[str, Field(description="the UTC day, at midnight", examples=["2026-10-01T00:00:00.000Z"])]
    peak: Annotated[int, Field(description="the 30-minute peak inside the day (its part inside the period)",
                               examples=[3])]
    minutesAtPeak: Annotated[int, Field(description="whole minutes of the day with at least `peak` users logged in",
                                        examples=[120])]
    loggedInHours: Annotated[str, Field(description="the hours the product's billed users were logged in that day, "
                                        "summed: what the hourly model bills", examples=["12.50"])]


class ProductPeaks(TypedDict):
    name: Annotated[str, Field(examples=["cx1"])]
    peak: Annotated[int, Field(description="the period's peak: the product's totalUsage under the concurrent model",
                               examples=[3])]
    days: list[DayPeak]


class ConcurrentUsageReport(TypedDict):
    """Per product billed under the concurrent or hourly model, daily and period peaks."""

    id: str
    name: str
    startDate: Instant
    endDate: Instant
    status: Status
    model: Annotated[str, Field(description="the organization's licensing model; no products under `named`")]
    products: list[ProductPeaks]
    selfUri: str


class Interval(TypedDict):
    start: str
    end: Annotated[str | None, Field(description="None while it is still open")]


class FamilyCharge(TypedDict):
    family: str
    charge: Annotated[str | None, Field(description="the product charged in this family, if any")]
    holding: Annotated[Interval | None, Field(description="the holding of that product that set the charge")]
    reason: FamilyReason | None


class Explanation(TypedDict):
    """Why one user is or is not billed in a period."""

    userId: str
    displayName: str
    startDate: Instant
    endDate: Instant
    billed: bool
    reason: Reason | None
    loggedInMilliseconds: Annotated[int, Field(description="time logged in inside the period (up to the cut-off)")]
    loggedInHours: str
    firstBillableLogin: str | None
    session: Annotated[Interval | None, Field(description="the session the first billable login belongs to")]
    families: list[FamilyCharge]
    closed: Annotated[Closed | None, Field(description="a closed period: the kept report is what is explained, "
                                                         "as its close saw the events")]
    selfUri: str


class Product(TypedDict):
    name: str
    kind: Literal["user", "device"]
    family: str | None
    rank: int | None
    concurrent: Annotated[bool, Field(description="follows the organization's concurrent or hourly model")]
    billedAs: Literal["named", "concurrent", "hourly"]
    modelApplies: Annotated[bool, Field(description="billed under the organization's own model")]


class ProductCatalog(TypedDict):
    model: str
    entities: list[Product]
    total: int


class ListedEvent(TypedDict):
    """An event as received, with its arrival."""

    id: str
    source: str
    type: str
    subject: str
    time: Instant
    data: Annotated[dict[str, str], Field(description="the data the rules read: product, deviceType, email")]
    receivedAt: Annotated[str, Field(description="when it was acknowledged, yyyy-MM-ddTHH:mm:ss.SSSZ")]
    sequence: Annotated[int, Field(description="its place in the organization's arrival order")]
    voided: Annotated[bool, Field(description="whether it was voided: kept, and billed as if never received")]
    voidedAt: Annotated[str | None, Field(description="when it was voided, yyyy-MM-ddTHH:mm:ss.SSSZ; null if not")]
    voidedBy: Annotated[str | None, Field(description="the client id that voided it (or cli:<user>); null if not voided")]
    voidedByName: Annotated[str | None, Field(description="the name of the client that voided it, if it has one")]
    voidReason: Annotated[str | None, Field(description="the reason given; null if not voided")]


class EventListing(TypedDict):
    """A page of the organization's events, newest arrival first."""

    entities: list[ListedEvent]
    pageSize: int
    cursor: Annotated[str | None, Field(description="give it back as `cursor` for the next page; null on the last")]
    nextUri: str | None
    selfUri: str


class Organization(TypedDict):
    """The caller's organization, as Genesys Cloud's ``GET /api/v2/organizations/me`` answers
    (the fields the official SDKs read), with the licensing model it is billed under."""

    id: str
    name: str
    state: Literal["active"]
    selfUri: str
    licensingModel: Annotated[Literal["named", "concurrent", "hourly"], Field(description="billable's own field")]


class ResourceChange(TypedDict):
    name: str
    change: Annotated[Literal["added", "removed", "changed"], Field(description="changed: its date")]
    closedDate: str | None
    currentDate: str | None
    causes: Annotated[list[ListedEvent], Field(description="the late events, and the events voided after the close, "
                                                           "of this resource's user or device")]


class UsageChange(TypedDict):
    name: str
    closedTotal: str
    currentTotal: str
    resources: list[ResourceChange]


class Amendments(TypedDict):
    """What the events acknowledged after a close change in the closed period's report."""

    startDate: Instant
    endDate: Instant
    closed: Closed
    rulesChanged: Annotated[bool, Field(description="the catalog, rules or licensing model changed since the close")]
    usages: list[UsageChange]
