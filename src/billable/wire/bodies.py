"""The JSON bodies the API answers with: defined once, here.

``presentation.py`` writes them (the type checker holds each writer to its shape), the
server's OpenAPI document is generated from them, and a test checks that the SDK's models
read every field the document names (tests/test_shapes.py).
"""

# No `from __future__ import annotations`: pydantic reads these annotations at run time.
from typing import Annotated, Any, Literal, NotRequired

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


Decimal = Annotated[str, Field(description="a decimal number, as a string", examples=["12.50"])]


class NamedEntity(TypedDict):
    id: str
    name: str
    selfUri: str


class SubscriptionOverviewUsage(TypedDict):
    """One subscribed product: what was prepaid, what usage above it costs, and the usage."""

    name: Annotated[str, Field(description="the product or device type, as the billable usage report names it")]
    partNumber: str
    grouping: str
    unitOfMeasureType: str
    usageQuantity: Annotated[str, Field(description="the billable usage report's total for the billing period",
                                        examples=["12"])]
    overagePrice: Decimal
    prepayQuantity: Decimal
    prepayPrice: Decimal
    usageNotes: NotRequired[str]
    isCancellable: bool
    bundleQuantity: Decimal
    isThirdParty: bool


class TrusteeBillingOverview(TypedDict):
    """A billing period of an organization against its subscription, as Genesys Cloud's
    ``GET /api/v2/billing/trusteebillingoverview/{trustorOrgId}`` answers."""

    id: Annotated[str, Field(description="the organization's id")]
    name: Annotated[str, Field(description="the organization's name")]
    organization: NamedEntity
    currency: str
    enabledProducts: Annotated[list[str], Field(description="the subscribed products' names")]
    subscriptionType: str
    rampPeriodStartDate: NotRequired[Instant]
    rampPeriodEndDate: NotRequired[Instant]
    billingPeriodStartDate: Instant
    billingPeriodEndDate: Annotated[str, Field(description="exclusive: the first instant of the next billing period")]
    usages: list[SubscriptionOverviewUsage]
    contractAmendmentDate: NotRequired[Instant]
    contractEffectiveDate: Instant
    contractEndDate: NotRequired[Instant]
    minimumMonthlyAmount: Decimal
    inRampPeriod: bool
    closed: NotRequired[Annotated[Closed, Field(description="billable's own: the period is closed, its usage is the "
                                                            "figures kept then")]]
    selfUri: str


class ProductCharges(TypedDict):
    name: str
    partNumber: str
    usage: Decimal
    prepayQuantity: Decimal
    overageQuantity: Annotated[str, Field(description="usage above the prepaid quantity, 0 at least")]
    prepayPrice: Decimal
    overagePrice: Decimal
    prepaidCharge: Annotated[str, Field(description="prepayQuantity × prepayPrice, rounded half up to the minor unit")]
    overageCharge: Annotated[str, Field(description="overageQuantity × overagePrice, rounded half up to the minor unit")]
    total: Decimal
    explanation: Annotated[str, Field(description="how the charges follow from the usage and the prices")]


class UnpricedUsage(TypedDict):
    name: str
    usage: Decimal


class Charges(TypedDict):
    """What a billing period costs under the organization's subscription (billable's own)."""

    startDate: Instant
    endDate: Instant
    currency: str
    subscriptionSetAt: Annotated[str, Field(description="when the subscription charged was set")]
    products: list[ProductCharges]
    unpricedUsages: Annotated[list[UnpricedUsage], Field(description="usage of products the subscription does not "
                                                                     "name: not charged, no price was agreed")]
    subtotal: Decimal
    minimumMonthlyAmount: Decimal
    minimumTopUp: Annotated[str, Field(description="what brings the subtotal up to the minimum monthly amount")]
    total: Decimal
    closed: NotRequired[Closed]
    asOf: NotRequired[Instant]
    selfUri: str


class Trustor(TypedDict):
    """An organization that trusts the caller's, as Genesys Cloud's trustor listing names it."""

    id: str
    enabled: bool
    dateCreated: Instant
    organization: NamedEntity
    selfUri: str


class TrustorListing(TypedDict):
    entities: list[Trustor]
    pageSize: int
    pageNumber: int
    total: int
    pageCount: int
    selfUri: str


class AlertLine(TypedDict):
    """Where one threshold of an alert stands for one product in the running billing period."""

    product: str
    threshold: Annotated[int, Field(description="the threshold's index in the alert's thresholds")]
    line: Annotated[str | None, Field(description="the threshold as a quantity; null for a percentage of nothing "
                                                  "prepaid")]
    value: Annotated[str, Field(description="the measure when last evaluated")]
    state: Literal["triggered", "below"]
    since: Instant
    billingPeriodStart: Instant


class AlertThreshold(TypedDict):
    quantity: NotRequired[Decimal]
    percent: NotRequired[Annotated[str, Field(description="of the product's prepaid quantity", examples=["80"])]]


class Alert(TypedDict):
    id: str
    name: str
    product: NotRequired[Annotated[str, Field(description="absent: every product and device type, each on its own")]]
    measure: Literal["billableUsage", "concurrentPeak", "loggedInHours"]
    thresholds: list[AlertThreshold]
    createdAt: Instant
    createdBy: str
    lines: list[AlertLine]
    selfUri: str


class AlertListing(TypedDict):
    entities: list[Alert]
    total: int


class Webhook(TypedDict):
    id: str
    url: str
    description: str
    createdAt: Instant
    secret: NotRequired[Annotated[str, Field(description="signs every message (Standard Webhooks); in the answer "
                                                         "that creates the webhook only")]]
    selfUri: str


class WebhookListing(TypedDict):
    entities: list[Webhook]
    total: int


class DeliveryAttempt(TypedDict):
    attempt: int
    at: Instant
    status: Annotated[int | None, Field(description="the receiver's answer; null when none came")]
    error: str | None
    tookMs: int


class Delivery(TypedDict):
    id: Annotated[str, Field(description="the message's webhook-id, the same at every attempt")]
    type: Literal["alert.triggered", "alert.resolved"]
    createdAt: Instant
    state: Literal["pending", "delivered", "failed"]
    nextAttemptAt: str | None
    deliveredAt: str | None
    attempts: list[DeliveryAttempt]
    body: Annotated[dict[str, Any], Field(description="the message as sent")]


class DeliveryListing(TypedDict):
    entities: list[Delivery]
    total: int
