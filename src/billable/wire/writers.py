"""The API's bodies written from what the service answers: one writer for the server and the
command line (bodies.py defines each body's shape, and the type checker holds each writer
to it)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from urllib.parse import urlencode

from typing_extensions import TypedDict

from billable.rules.catalog import Catalog, LicensingModel
from billable.rules.instants import Period, format_instant, format_instants
from billable.rules.intervals import OPEN
from billable.rules.report import BillableUsageReport, ConcurrentUsageReport, hours_total
from billable.rules.charges import explain_charge
from billable.rules.alerts import alert_document
from billable.rules.subscriptions import document_of
from billable.rules.json_text import compact_json, parse_json
from billable.service.billing import (
    Alert,
    ClosedPeriod,
    Delivery,
    OAuthClient,
    Organization,
    StoredEvent,
    Trust,
    WebhookEndpoint,
)
from billable.service.event_log import EventsPage
from billable.service.explanations import ExplainedUser
from billable.service.ingestion import IngestResult
from billable.service.organizations import NewClient
from billable.service.periods import Amendments
from billable.service.report_desk import BodyWriter, ReportStatus
from billable.service.report_requests import BILLABLE_USAGE, CONCURRENT_USAGE, RequestedReport
from billable.service.overview import BillingOverview, PeriodCharges
from billable.service.subscriptions import KeptSubscription
from billable.service.voids import VoidResult
from billable.wire import bodies
from billable.wire.bodies import Status
from billable.wire.paths import (
    ALERTS_PATH,
    CHARGES_PATH,
    CONCURRENT_PATH,
    EVENTS_PATH,
    EXPLAIN_PATH,
    ORGANIZATION_PATH,
    OVERVIEW_PATH,
    REPORT_PATH,
    TRUSTORS_PATH,
    WEBHOOKS_PATH,
)

BODY_VERSION = 2  # 2: a resource's hours under the hourly model
"""The version of the billable usage report's body written here (report_desk.BodyWriter)."""
CONCURRENT_BODY_VERSION = 2  # 2: each day's loggedInHours
_REPORT_NAMESPACE = uuid.UUID("6f1b2f4e-6a53-4b8e-9a57-2d4f0c1e5b10")


def report_id(org_id: str, period: Period, kind: str = "") -> str:
    """A stable id: the same organization, period and kind always give the same report id."""
    return str(uuid.uuid5(_REPORT_NAMESPACE, f"{org_id}/{period.start}/{period.end}{kind}"))


class _Header(TypedDict):
    id: str
    name: str
    startDate: str
    endDate: str


def _header(org_id: str, period: Period, kind: str, title: str) -> _Header:
    start, end = format_instant(period.start), format_instant(period.end)
    return {
        "id": report_id(org_id, period, kind),
        "name": f"{title} {start} to {end}",
        "startDate": start,
        "endDate": end,
    }


def _self_uri(path: str, period: Period, **extra: str) -> str:
    query = {"startDate": format_instant(period.start), "endDate": format_instant(period.end), **extra}
    return f"{path}?{urlencode(query, safe=':@')}"


def api_body(org_id: str, report: BillableUsageReport, status: Status = "Complete") -> bodies.BillingUsageReport:
    """The Genesys ``BillingUsageReport`` JSON body."""
    header = _header(org_id, report.period, "", "Billable usage")
    return {
        "id": header["id"], "name": header["name"], "startDate": header["startDate"], "endDate": header["endDate"],
        "status": status,
        "usages": [
            {
                "name": usage.name,
                "totalUsage": usage.total_usage,
                "resources": [{"name": r.name, "date": date} if r.hours is None else
                              {"name": r.name, "date": date, "hours": r.hours} for r, date in
                              zip(usage.resources, format_instants([r.date for r in usage.resources]), strict=True)],
            }
            for usage in (report.usages if status == "Complete" else ())
        ],
        "selfUri": _self_uri(REPORT_PATH, report.period),
    }


def concurrent_body(org_id: str, report: ConcurrentUsageReport, status: Status = "Complete"
                    ) -> bodies.ConcurrentUsageReport:
    """The concurrent usage report: per product, the period's peak and each day's."""
    return {
        **_header(org_id, report.period, "/concurrent", "Concurrent usage"),
        "status": status,
        "model": report.model,
        "products": [
            {
                "name": product.name,
                "peak": product.peak,
                "days": [{"date": format_instant(d.day), "peak": d.peak, "minutesAtPeak": d.minutes_at_peak,
                          "loggedInHours": hours_total(d.logged_in_ms)}
                         for d in product.days],
            }
            for product in (report.products if status == "Complete" else ())
        ],
        "selfUri": _self_uri(CONCURRENT_PATH, report.period),
    }


def billable_usage_body(org_id: str, report: RequestedReport[BillableUsageReport], status: ReportStatus) -> bytes:
    """The billable usage report's body; a closed period's says when it was closed."""
    body = api_body(org_id, report.figures, _status(status))
    return compact_json(body if report.closed is None else {**body, "closed": closed_mark(report.closed)})


def concurrent_usage_body(org_id: str, report: RequestedReport[ConcurrentUsageReport], status: ReportStatus
                          ) -> bytes:
    return compact_json(concurrent_body(org_id, report.figures, _status(status)))


def _status(status: ReportStatus) -> Status:
    return "Complete" if status is ReportStatus.COMPLETE else "InProgress"


REPORT_WRITERS: Mapping[str, BodyWriter] = {
    BILLABLE_USAGE.name: BodyWriter(BODY_VERSION, billable_usage_body),
    CONCURRENT_USAGE.name: BodyWriter(CONCURRENT_BODY_VERSION, concurrent_usage_body),
}
"""The report desk's writers, by the kind of report."""


def _instant_or_none(instant: int | None) -> str | None:
    return None if instant is None else format_instant(instant)


def _interval(interval: tuple[int, int] | None) -> bodies.Interval | None:
    if interval is None:
        return None
    return {"start": format_instant(interval[0]), "end": None if interval[1] == OPEN else format_instant(interval[1])}


def explanation_body(explained: ExplainedUser, period: Period) -> bodies.Explanation:
    """Why one user is or is not billed (in a closed period's kept report, if it is closed)."""
    explanation = explained.explanation
    first = explanation.first_billable_login
    return {
        "userId": explanation.user_id,
        "displayName": explanation.display_name,
        "startDate": format_instant(period.start),
        "endDate": format_instant(period.end),
        "billed": explanation.billed,
        "reason": explanation.reason,
        "loggedInMilliseconds": explanation.logged_in_ms,
        "loggedInHours": hours_total(explanation.logged_in_ms),
        "firstBillableLogin": format_instant(first) if first is not None else None,
        "session": _interval(explanation.session),
        "families": [
            {
                "family": f.family,
                "charge": f.product,
                "holding": _interval(f.holding),
                "reason": f.reason,
            }
            for f in explanation.families
        ],
        "closed": None if explained.closed is None else closed_mark(explained.closed),
        "selfUri": _self_uri(EXPLAIN_PATH, period, userId=explanation.user_id),
    }


def listed_event(e: StoredEvent) -> bodies.ListedEvent:
    """One event as the API and the command line list it."""
    return {"id": e.event_id, "source": e.source, "type": e.type, "subject": e.subject, "time": format_instant(e.time),
            "data": e.data, "receivedAt": format_instant(e.received_at), "sequence": e.seq,
            "voided": e.void is not None, "voidedAt": None if e.void is None else format_instant(e.void.at),
            "voidedBy": None if e.void is None else e.void.by,
            "voidedByName": None if e.void is None else e.void.by_name or None,
            "voidReason": None if e.void is None else e.void.reason}


def event_listing_body(page: EventsPage, page_size: int, query: dict[str, str]) -> bodies.EventListing:
    """A page of events; ``query``: the filters of the request, repeated in its links."""
    entities = [listed_event(e) for e in page.events]
    own = {**query, "pageSize": str(page_size)}
    next_uri = None if page.next_cursor is None else f"{EVENTS_PATH}?{urlencode({**own, 'cursor': page.next_cursor})}"
    return {"entities": entities, "pageSize": page_size, "cursor": page.next_cursor, "nextUri": next_uri,
            "selfUri": f"{EVENTS_PATH}?{urlencode(own)}"}


def organization_body(org: Organization) -> bodies.Organization:
    return {"id": org.id, "name": org.name, "state": "active", "selfUri": ORGANIZATION_PATH,
            "licensingModel": org.model.value}


def organization_summary(org: Organization) -> dict[str, str]:
    """An organization as the command line lists it: its body's id, name and model."""
    body = organization_body(org)
    return {"id": body["id"], "name": body["name"], "licensingModel": body["licensingModel"]}


def new_client_body(client: NewClient) -> dict[str, object]:
    """A client just created, with its secret: the only time it is shown."""
    return {"clientId": client.client_id, "clientSecret": client.client_secret, "name": client.name,
            "orgId": client.org_id, "permissions": list(client.permissions)}


def client_body(client: OAuthClient) -> dict[str, object]:
    """A client as the command line lists it: never its secret (only a hash of it is kept)."""
    return {"clientId": client.client_id, "name": client.name, "orgId": client.org_id,
            "permissions": list(client.permissions),
            "createdAt": format_instant(client.created_at),
            "revokedAt": _instant_or_none(client.revoked_at)}


def closed_mark(closed: ClosedPeriod) -> bodies.Closed:
    return {"closedAt": format_instant(closed.closed_at), "closedBy": closed.closed_by, "sequence": closed.sequence}


def closed_periods_body(found: list[ClosedPeriod]) -> bodies.ClosedPeriods:
    return {"entities": [{"startDate": format_instant(c.start), "endDate": format_instant(c.end), **closed_mark(c)}
                         for c in found], "total": len(found)}


def subscription_body(kept: KeptSubscription) -> dict[str, object]:
    """A subscription as set: its document (the overview's keys), when and by whom."""
    return {**document_of(kept.subscription), "setAt": format_instant(kept.set_at), "setBy": kept.set_by}


def _named(org_id: str, name: str) -> bodies.NamedEntity:
    return {"id": org_id, "name": name, "selfUri": f"/api/v2/organizations/{org_id}"}


def overview_body(overview: BillingOverview) -> bodies.TrusteeBillingOverview:
    """The overview as Genesys Cloud writes it: the subscription's document, its usages with
    the period's usage quantities, and the billing period."""
    document = document_of(overview.subscription)
    org = overview.organization
    usages = [{**usage, "usageQuantity": str(overview.usage.get(usage["name"], 0))} for usage in document.pop("usages")]
    body = {"id": org.id, "name": org.name, "organization": _named(org.id, org.name), **document,
            "enabledProducts": [usage["name"] for usage in usages], "usages": usages,
            "billingPeriodStartDate": format_instant(overview.period.start),
            "billingPeriodEndDate": format_instant(overview.period.end), "inRampPeriod": overview.in_ramp_period,
            **({"closed": closed_mark(overview.closed)} if overview.closed else {}),
            "selfUri": f"{OVERVIEW_PATH}/{org.id}?billingPeriodIndex={overview.index}"}
    return body  # type: ignore[return-value]  # the document's keys are the overview's (rules/subscriptions.py)


def charges_body(found: PeriodCharges) -> bodies.Charges:
    bill = found.charges
    currency = bill.currency
    query = {"startDate": format_instant(found.period.start), "endDate": format_instant(found.period.end)}
    if found.as_of is not None:
        query["asOf"] = format_instant(found.as_of)
    body: bodies.Charges = {
        "startDate": query["startDate"], "endDate": query["endDate"], "currency": currency,
        "subscriptionSetAt": format_instant(found.subscription.set_at),
        "products": [{"name": c.product.name, "partNumber": c.product.part_number, "usage": str(c.usage),
                      "prepayQuantity": str(c.product.prepay_quantity), "overageQuantity": str(c.overage_quantity),
                      "prepayPrice": str(c.product.prepay_price), "overagePrice": str(c.product.overage_price),
                      "prepaidCharge": str(c.prepaid_charge), "overageCharge": str(c.overage_charge),
                      "total": str(c.total), "explanation": explain_charge(c, currency)} for c in bill.products],
        "unpricedUsages": [{"name": name, "usage": str(usage)} for name, usage in bill.unpriced_usage],
        "subtotal": str(bill.subtotal), "minimumMonthlyAmount": str(bill.minimum_monthly_amount),
        "minimumTopUp": str(bill.minimum_top_up), "total": str(bill.total),
        "selfUri": f"{CHARGES_PATH}?{urlencode(query)}",
    }
    if found.closed is not None:
        body["closed"] = closed_mark(found.closed)
    if found.as_of is not None:
        body["asOf"] = query["asOf"]
    return body


def trustors_body(found: list[Trust], page_size: int, page_number: int) -> bodies.TrustorListing:
    """Page ``page_number`` (from 1) of the organizations that trust the caller's."""
    page = found[(page_number - 1) * page_size:page_number * page_size]
    return {"entities": [{"id": t.trustor_org_id, "enabled": True, "dateCreated": format_instant(t.created_at),
                          "organization": _named(t.trustor_org_id, t.trustor_name),
                          "selfUri": f"{TRUSTORS_PATH}/{t.trustor_org_id}"} for t in page],
            "pageSize": page_size, "pageNumber": page_number, "total": len(found),
            "pageCount": -(-len(found) // page_size),
            "selfUri": f"{TRUSTORS_PATH}?pageSize={page_size}&pageNumber={page_number}"}


def alert_body(alert: Alert) -> bodies.Alert:
    return {"id": alert.id, **alert_document(alert.rule),  # type: ignore[typeddict-item]  # the alert's own keys
            "createdAt": format_instant(alert.created_at), "createdBy": alert.created_by,
            "lines": [{"product": s.product, "threshold": s.threshold, "line": s.line or None, "value": s.value,
                       "state": "triggered" if s.triggered else "below", "since": format_instant(s.changed_at),
                       "billingPeriodStart": format_instant(s.period_start)} for s in alert.states],
            "selfUri": f"{ALERTS_PATH}/{alert.id}"}


def alerts_body(found: list[Alert]) -> bodies.AlertListing:
    return {"entities": [alert_body(alert) for alert in found], "total": len(found)}


def webhook_body(endpoint: WebhookEndpoint, *, with_secret: bool = False) -> bodies.Webhook:
    body: bodies.Webhook = {"id": endpoint.id, "url": endpoint.url, "description": endpoint.description,
                            "createdAt": format_instant(endpoint.created_at), "selfUri": f"{WEBHOOKS_PATH}/{endpoint.id}"}
    if with_secret:
        body["secret"] = endpoint.secret
    return body


def webhooks_body(found: list[WebhookEndpoint]) -> bodies.WebhookListing:
    return {"entities": [webhook_body(endpoint) for endpoint in found], "total": len(found)}


def deliveries_body(found: list[Delivery]) -> bodies.DeliveryListing:
    return {"entities": [{
        "id": d.message.id, "type": d.message.type,  # type: ignore[typeddict-item]  # one of the two it writes
        "createdAt": format_instant(d.message.created_at),
        "state": "delivered" if d.message.delivered_at else "failed" if d.message.failed_at else "pending",
        "nextAttemptAt": _instant_or_none(d.message.next_attempt_at),
        "deliveredAt": _instant_or_none(d.message.delivered_at),
        "attempts": [{"attempt": a.attempt, "at": format_instant(a.at), "status": a.status, "error": a.error,
                      "tookMs": a.took_ms} for a in d.attempts],
        "body": parse_json(d.message.body)} for d in found], "total": len(found)}


def amendments_body(found: Amendments) -> bodies.Amendments:
    return {"startDate": format_instant(found.period.start), "endDate": format_instant(found.period.end),
            "closed": closed_mark(found.closed), "rulesChanged": found.rules_changed,
            "usages": [{"name": u.name, "closedTotal": u.closed_total, "currentTotal": u.current_total,
                        "resources": [{"name": r.name, "change": r.change,  # type: ignore[typeddict-item]  # one of three
                                       "closedDate": _instant_or_none(r.closed_date),
                                       "currentDate": _instant_or_none(r.current_date),
                                       "causes": [listed_event(e) for e in r.causes]} for r in u.resources]}
                       for u in found.usages]}


def void_body(result: VoidResult) -> bodies.VoidResult:
    return {"voided": result.voided, "sequence": result.sequence}


def ingestion_body(result: IngestResult) -> bodies.IngestionResult:
    return {"accepted": result.accepted, "duplicates": result.duplicates}


def products_body(catalog: Catalog, model: LicensingModel) -> bodies.ProductCatalog:
    """The catalog, with the model each product is billed under in this organization."""
    entities: list[bodies.Product] = [
        {"name": p.name, "kind": "user", "family": p.family, "rank": p.rank, "concurrent": p.concurrent,
         "billedAs": p.model_under(model).value, "modelApplies": p.model_under(model) is model}
        for p in catalog.user_products
    ]
    entities += [{"name": d.name, "kind": "device", "family": None, "rank": None, "concurrent": False,
                  "billedAs": "named", "modelApplies": model is LicensingModel.NAMED} for d in catalog.device_types]
    return {"model": model.value, "entities": entities, "total": len(entities)}
