"""The HTTP routes (README.md, "The API"; docs/beyond-genesys.md): OAuth token, reports,
explanations, the catalog, event ingestion."""

from __future__ import annotations

import asyncio
import time
from functools import partial
from pathlib import Path as FilePath
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Security
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel
from pydantic import Field as PydanticField
from starlette.concurrency import run_in_threadpool

from billable.rules.errors import InvalidCredentials, InvalidEvents, TooManyRequests
from billable.rules.events import EVENT_TYPES, MAX_TEXT
from billable.rules.instants import Period
from billable.rules.voids import MAX_VOIDS
from billable.rules.json_text import parse_body
from billable.server.auth import LoginRequest, bearer_token, client_credentials, login_request, media_type, requires
from billable.server.errors import ApiError, ErrorBody
from billable.server.models import OAuthError, TokenAnswer
from billable.server.report_route import DATE_HELP, DATE_PATTERN, query_instant, report_period, serve_report
from billable.server.state import ServerState, server_state
from billable.service.access import TokenGrant
from billable.service.event_log import MAX_PAGE_SIZE, EventFilter
from billable.service.organizations import (
    CLOSE_PERIODS,
    INGEST_EVENTS,
    MANAGE_ALERTS,
    PERMISSIONS,
    READ_CLIENT_BILLING,
    READ_REPORTS,
    VOID_EVENTS,
)
from billable.service.report_requests import BILLABLE_USAGE, CONCURRENT_USAGE
from billable.wire.bodies import Amendments as AmendmentsBody
from billable.wire.bodies import Alert as AlertBody
from billable.wire.bodies import AlertListing, BillingUsageReport, Charges, DeliveryListing, TrusteeBillingOverview, TrustorListing
from billable.wire.bodies import Webhook as WebhookBody
from billable.wire.bodies import WebhookListing
from billable.wire.bodies import ClosedPeriod as ClosedPeriodBody
from billable.wire.bodies import ClosedPeriods, ConcurrentUsageReport, EventListing, Explanation, IngestionResult
from billable.wire.bodies import Organization as OrganizationBody
from billable.wire.bodies import ProductCatalog
from billable.wire.bodies import VoidResult as VoidResultBody
from billable.wire.paths import (
    ALERTS_PATH,
    CHARGES_PATH,
    EVENTS_PATH,
    ORGANIZATION_PATH,
    OVERVIEW_PATH,
    PERIODS_PATH,
    REPORT_PATH,
    TRUSTORS_PATH,
    VOIDS_PATH,
    WEBHOOKS_PATH,
)
from billable.wire.writers import (
    alert_body,
    alerts_body,
    amendments_body,
    charges_body,
    closed_periods_body,
    deliveries_body,
    event_listing_body,
    explanation_body,
    ingestion_body,
    organization_body,
    overview_body,
    products_body,
    trustors_body,
    void_body,
    webhook_body,
    webhooks_body,
)

EVENT_MEDIA_TYPES = ("application/json", "application/cloudevents-batch+json")
_PAGE = FilePath(__file__).with_name("page")


CONCURRENT_EXAMPLE = {
    "id": "0b7c…", "name": "Concurrent usage 2026-10-01T00:00:00.000Z to 2026-10-02T00:00:00.000Z",
    "startDate": "2026-10-01T00:00:00.000Z", "endDate": "2026-10-02T00:00:00.000Z", "status": "Complete",
    "model": "concurrent",
    "products": [{"name": "cx1", "peak": 3, "days": [{"date": "2026-10-01T00:00:00.000Z", "peak": 3,
                                                       "minutesAtPeak": 120, "loggedInHours": "14.25"}]}],
    "selfUri": "/api/v2/billing/reports/concurrentusage?startDate=2026-10-01T00:00:00.000Z&endDate=2026-10-02T00:00:00.000Z",
}


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody, "description": "error"} for status in statuses}


if TYPE_CHECKING:
    EventTypeName = str
else:  # the contract's type names (rules/events.py): the query is checked against them, and documented
    EventTypeName = Literal[EVENT_TYPES]
router = APIRouter()


@router.get("/", include_in_schema=False)
async def page() -> FileResponse:
    """The web page to read the bill."""
    return FileResponse(_PAGE / "index.html", media_type="text/html")


@router.post(
    "/oauth/token",
    tags=["auth"],
    response_model=TokenAnswer,
    dependencies=[Security(client_credentials)],  # documents HTTP Basic; login_request reads it
    responses={400: {"model": OAuthError}, 401: {"model": OAuthError}, 415: {"model": ErrorBody},
               429: {"model": ErrorBody}, 503: {"model": ErrorBody}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/x-www-form-urlencoded": {"schema": {
                "type": "object", "required": ["grant_type"],
                "properties": {"grant_type": {"type": "string", "enum": ["client_credentials"]}},
            }}},
        }
    },
)
async def token(request: Request, login: LoginRequest = Depends(login_request),
                state: ServerState = Depends(server_state)) -> JSONResponse:
    """Client credentials: HTTP Basic ``client_id:client_secret``, form ``grant_type=client_credentials``.
    Failed logins are limited per client id and per address (429 with ``Retry-After``)."""
    if login.grant_type != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "only grant_type=client_credentials is supported")
    if not (login.client_id and login.client_secret):
        return _oauth_error(401, "invalid_client", "send the client id and secret: HTTP Basic client_id:client_secret "
                                                   "(or client_id and client_secret in the form)")
    address = request.client.host if request.client else ""
    log_in = partial(state.logins.log_in, login.client_id, login.client_secret, address, state.clock())
    try:
        issued = await asyncio.get_running_loop().run_in_executor(state.logging_in, log_in)
    except InvalidCredentials as error:
        state.metrics.logins_refused.labels("credentials").inc()
        return _oauth_error(401, "invalid_client", str(error))
    except TooManyRequests:
        state.metrics.logins_refused.labels("limited").inc()
        # Answered after a pause that holds no thread: a client that sends again at once,
        # as a flood does, sends at most one login a pause on each of its connections.
        await asyncio.sleep(state.settings.login_refusal_pause_seconds)
        raise
    return JSONResponse({"access_token": issued.access_token, "token_type": "bearer", "expires_in": issued.expires_in,
                         "scope": " ".join(issued.permissions)},
                        headers={"Cache-Control": "no-store"})


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "description": description, "error_description": description},
                        status_code=status, headers={"Cache-Control": "no-store"})


AS_OF_HELP = ("the report as it was at this instant: of the events acknowledged by then, without the voids "
              "made later (" + DATE_HELP + ")")


def as_of_query(asOf: str | None = Query(None, description=AS_OF_HELP, pattern=DATE_PATTERN)) -> str | None:
    return asOf


def period_query(
    startDate: str = Query(description=DATE_HELP, pattern=DATE_PATTERN),
    endDate: str = Query(description=DATE_HELP + "; exclusive", pattern=DATE_PATTERN),
) -> Period:
    """The report period of the query string."""
    return report_period(startDate, endDate)


@router.get(
    "/api/v2/billing/reports/billableusage",
    tags=["billing"],
    response_model=BillingUsageReport,
    responses=_errors(400, 401, 403, 404, 429, 500, 503),
)
async def billable_usage(
    request: Request,
    token: str = Depends(bearer_token),
    period: Period = Depends(period_query),
    as_of: str | None = Depends(as_of_query),
    state: ServerState = Depends(server_state),
) -> Response:
    """The billable usages of the token's organization for ``[startDate, endDate)``.

    Answers ``status: InProgress`` with no usages when the report is not ready within the
    server's budget; repeat the same request until it answers ``Complete``. With ``asOf``,
    the report as it was at that instant.
    """
    return await serve_report(request, state, BILLABLE_USAGE, token, period, as_of)


@router.get(
    "/api/v2/billing/reports/concurrentusage",
    tags=["billing"],
    response_model=ConcurrentUsageReport,
    responses={200: {"content": {"application/json": {"example": CONCURRENT_EXAMPLE}}},
               **_errors(400, 401, 403, 404, 429, 500, 503)},
)
async def concurrent_usage(
    request: Request,
    token: str = Depends(bearer_token),
    period: Period = Depends(period_query),
    as_of: str | None = Depends(as_of_query),
    state: ServerState = Depends(server_state),
) -> Response:
    """Daily and period concurrency peaks per product billed under the concurrent or hourly
    model; the period peak equals the product's concurrent totalUsage. InProgress like the
    billable usage report; ``asOf`` like it too."""
    return await serve_report(request, state, CONCURRENT_USAGE, token, period, as_of)


@router.get(
    "/api/v2/billing/reports/billableusage/explain",
    tags=["billing"],
    response_model=Explanation,
    responses=_errors(400, 401, 403, 404, 429, 500, 503),
)
async def explain(
    grant: TokenGrant = Depends(requires(*READ_REPORTS)),
    period: Period = Depends(period_query),
    userId: str = Query(min_length=1, max_length=MAX_TEXT, pattern=r"^[^\x00]+$",
                        description="the user id (the events' subject), or the email a report names the user by"),
    as_of: str | None = Depends(as_of_query),
    state: ServerState = Depends(server_state),
) -> JSONResponse:
    """Why one user is or is not billed: per family the charge and the holding that set it,
    the first billable login and its session, time logged in; or the reason."""

    explained = await run_in_threadpool(state.billing.explain, grant.org_id, userId, period, query_instant(as_of, "asOf"))
    return JSONResponse(explanation_body(explained, period))


@router.get(
    ORGANIZATION_PATH,
    tags=["organization"],
    response_model=OrganizationBody,
    responses=_errors(401, 403, 429, 500, 503),
)
async def organization(grant: TokenGrant = Depends(requires(*PERMISSIONS)),
                       state: ServerState = Depends(server_state)) -> JSONResponse:
    """The token's organization (any permission will do), as Genesys Cloud's route answers it."""
    return JSONResponse(organization_body(await run_in_threadpool(state.billing.organization, grant.org_id)))


@router.get(
    "/api/v2/billing/products",
    tags=["billing"],
    response_model=ProductCatalog,
    responses=_errors(401, 403, 429, 500, 503),
)
async def products(grant: TokenGrant = Depends(requires(*READ_REPORTS)),
                   state: ServerState = Depends(server_state)) -> JSONResponse:
    """The product catalog, with the model each product is billed under in this organization."""
    found = await run_in_threadpool(state.billing.organization, grant.org_id)
    return JSONResponse(products_body(state.catalog, found.model))


@router.get(
    EVENTS_PATH,
    tags=["billing"],
    response_model=EventListing,
    responses=_errors(400, 401, 403, 429, 500, 503),
)
async def list_events(
    grant: TokenGrant = Depends(requires(*READ_REPORTS)),
    state: ServerState = Depends(server_state),
    subject: str | None = Query(None, min_length=1, max_length=MAX_TEXT, pattern=r"^[^\x00]+$",
                                description="only this user's (by id, or by the email a report names them by) "
                                            "or device's events"),
    type: EventTypeName | None = Query(None, description="only events of this type"),  # noqa: A002
    startDate: str | None = Query(None, description=DATE_HELP + "; events at or after it", pattern=DATE_PATTERN),
    endDate: str | None = Query(None, description=DATE_HELP + "; events before it", pattern=DATE_PATTERN),
    receivedAfter: str | None = Query(None, description=DATE_HELP + "; events acknowledged after it",
                                      pattern=DATE_PATTERN),
    pageSize: int = Query(25, ge=1, le=MAX_PAGE_SIZE),
    cursor: str | None = Query(None, max_length=19, pattern=r"^[0-9]+$", description="from the page before"),
) -> JSONResponse:
    """The organization's events as received, newest arrival first, a page at a time: follow
    ``nextUri`` (or send ``cursor``) until it is null. Pages hold still while events arrive."""
    chosen = EventFilter(subject, type, query_instant(startDate, "startDate"), query_instant(endDate, "endDate"),
                         query_instant(receivedAfter, "receivedAfter"))
    query = {name: value for name, value in (("subject", subject), ("type", type), ("startDate", startDate),
                                             ("endDate", endDate), ("receivedAfter", receivedAfter)) if value}

    page = await run_in_threadpool(state.billing.events_page, grant.org_id, chosen, cursor, pageSize)
    return JSONResponse(event_listing_body(page, pageSize, query))


@router.post(
    EVENTS_PATH,
    tags=["billing"],
    response_model=IngestionResult,
    responses=_errors(400, 401, 403, 413, 415, 429, 500, 503),
    openapi_extra={
        "requestBody": {
            "required": True,
            # The item schema depends on the catalog: create_app puts it in.
            "content": {kind: {"schema": {"type": "array", "items": {"type": "object"}}} for kind in EVENT_MEDIA_TYPES},
        }
    },
)
async def ingest_events(request: Request, grant: TokenGrant = Depends(requires(INGEST_EVENTS)),
                        state: ServerState = Depends(server_state)) -> JSONResponse:
    """Store a batch of CloudEvents: all or nothing, duplicates skipped, answered after commit."""
    if media_type(request) not in EVENT_MEDIA_TYPES:
        raise ApiError(415, f"send the events as one of {', '.join(EVENT_MEDIA_TYPES)}")
    body = await request.body()  # at most max_body_bytes (server/body_limit.py)

    started = time.perf_counter()
    try:
        stored = await run_in_threadpool(state.billing.ingest, grant.org_id, body, state.settings.max_events)
    except InvalidEvents as refused:
        state.metrics.events_refused.inc(len({problem.index for problem in refused.problems}))
        raise
    state.metrics.batch_seconds.observe(time.perf_counter() - started)
    state.metrics.events_accepted.inc(stored.accepted)
    state.metrics.events_duplicate.inc(stored.duplicates)
    return JSONResponse(ingestion_body(stored))


@router.post(
    VOIDS_PATH,
    tags=["billing"],
    response_model=VoidResultBody,
    responses=_errors(400, 401, 403, 413, 415, 429, 500, 503),
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "array", "maxItems": MAX_VOIDS, "items": {
            "type": "object", "required": ["source", "id", "reason"],
            "properties": {"source": {"type": "string"}, "id": {"type": "string"}, "reason": {"type": "string"}}}}}}}},
)
async def void(request: Request, grant: TokenGrant = Depends(requires(VOID_EVENTS)),
               state: ServerState = Depends(server_state)) -> JSONResponse:
    """Void received events, all or none: kept and listed, billed as if never received from
    the void's commit on. Each event not received, or voided already, is named in the 400.
    A voided event's (source, id) stays taken: send a corrected fact as a new event."""
    raw = parse_body(await _json_body(request, "voids"))
    return JSONResponse(void_body(await run_in_threadpool(state.billing.void, grant.org_id, raw, grant.client_id)))


class PeriodToClose(BaseModel):
    startDate: str = PydanticField(description=DATE_HELP, pattern=DATE_PATTERN)
    endDate: str = PydanticField(description=DATE_HELP + "; exclusive", pattern=DATE_PATTERN)


@router.post(PERIODS_PATH, tags=["billing"], response_model=ClosedPeriodBody,
             responses=_errors(400, 401, 403, 429, 500, 503))
async def close(to_close: PeriodToClose, grant: TokenGrant = Depends(requires(CLOSE_PERIODS)),
                state: ServerState = Depends(server_state)) -> JSONResponse:
    """Close a period that is over: its billable usage report is kept as it is now, and the
    report of exactly that period answers with it from then on, saying it is closed. A
    closed period is final; one may not overlap another."""
    period = report_period(to_close.startDate, to_close.endDate)
    closed = await run_in_threadpool(state.billing.close_period, grant.org_id, period, grant.client_id)
    return JSONResponse(closed_periods_body([closed])["entities"][0])


@router.get(PERIODS_PATH, tags=["billing"], response_model=ClosedPeriods, responses=_errors(401, 403, 429, 500, 503))
async def closed_periods(grant: TokenGrant = Depends(requires(*READ_REPORTS)),
                         state: ServerState = Depends(server_state)) -> JSONResponse:
    """The organization's closed periods, earliest first."""
    return JSONResponse(closed_periods_body(await run_in_threadpool(state.billing.closed_periods, grant.org_id)))


@router.get(REPORT_PATH + "/amendments", tags=["billing"], response_model=AmendmentsBody,
            responses=_errors(400, 401, 403, 404, 429, 500, 503))
async def closed_period_amendments(grant: TokenGrant = Depends(requires(*READ_REPORTS)),
                                   period: Period = Depends(period_query),
                                   state: ServerState = Depends(server_state)) -> JSONResponse:
    """For a closed period: what the events acknowledged after the close (and the voids made
    since) change, per usage and resource, and which events caused each change; 404 when
    the period is not closed."""

    return JSONResponse(amendments_body(await run_in_threadpool(state.billing.amendments, grant.org_id, period)))


@router.get(OVERVIEW_PATH + "/{trustorOrgId}", tags=["billing"], response_model=TrusteeBillingOverview,
            responses=_errors(400, 401, 403, 404, 429, 500, 503))
async def trustee_billing_overview(
    trustorOrgId: str = Path(min_length=1, max_length=64, description="the organization whose overview to read"),
    billingPeriodIndex: int = Query(0, description="0: the billing period running now, its figures still moving; "
                                                   "1: the one before; …"),
    grant: TokenGrant = Depends(requires(READ_CLIENT_BILLING, *READ_REPORTS)),
    state: ServerState = Depends(server_state),
) -> JSONResponse:
    """A billing period (a calendar month in UTC) of an organization against its
    subscription: per subscribed product its usage (the billable usage report's total; a
    closed period's kept figures). A partner's client (``affiliateOrganization:clientBilling:view``)
    reads the overviews of the organizations that trust its own, an organization's own client
    (``billing:subscription:view``) its own; 403 for any other, whether it exists or not."""
    overview = await run_in_threadpool(state.billing.overview, grant.org_id, grant.permissions, trustorOrgId,
                                       billingPeriodIndex)
    return JSONResponse(overview_body(overview))


@router.get(CHARGES_PATH, tags=["billing"], response_model=Charges, responses=_errors(400, 401, 403, 404, 429, 500, 503))
async def charges(grant: TokenGrant = Depends(requires(*READ_REPORTS)), period: Period = Depends(period_query),
                  as_of: str | None = Depends(as_of_query), state: ServerState = Depends(server_state)) -> JSONResponse:
    """What a billing period (one calendar month in UTC) costs under the organization's
    subscription: per product its usage, prepaid and overage quantities and charges, each
    explained; the minimum monthly amount's top-up; the total (docs/beyond-genesys.md)."""
    found = await run_in_threadpool(state.billing.charges, grant.org_id, period, query_instant(as_of, "asOf"))
    return JSONResponse(charges_body(found))


@router.get(TRUSTORS_PATH, tags=["organization"], response_model=TrustorListing, responses=_errors(400, 401, 403, 429, 500, 503))
async def trustors(grant: TokenGrant = Depends(requires(READ_CLIENT_BILLING)), state: ServerState = Depends(server_state),
                   pageSize: int = Query(25, ge=1, le=500), pageNumber: int = Query(1, ge=1, le=1_000_000)) -> JSONResponse:
    """The organizations that trust the token's (whose billing overviews it reads), by name."""
    found = await run_in_threadpool(state.billing.trustors, grant.org_id)
    return JSONResponse(trustors_body(found, pageSize, pageNumber))


def _id() -> Any:
    """An id in a path (a new declaration for each parameter: the framework names it after its parameter)."""
    return Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


async def _json_body(request: Request, what: str) -> bytes:
    if media_type(request) != "application/json":
        raise ApiError(415, f"send the {what} as application/json")
    return await request.body()


ALERT_EXAMPLE = {"name": "cx1 over the commitment", "product": "cx1", "measure": "billableUsage",
                 "thresholds": [{"percent": "80"}, {"percent": "100"}, {"quantity": "250"}]}


@router.post(ALERTS_PATH, tags=["alerts"], response_model=AlertBody, responses=_errors(400, 401, 403, 413, 415, 429, 500, 503),
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                 "schema": {"type": "object"}, "example": ALERT_EXAMPLE}}}})
async def create_alert(request: Request, grant: TokenGrant = Depends(requires(MANAGE_ALERTS)),
                       state: ServerState = Depends(server_state)) -> JSONResponse:
    """A usage alert: a product (or none: every one, each on its own), a measure
    (``billableUsage``, ``concurrentPeak``, ``loggedInHours``) and up to ten thresholds, each a
    ``quantity`` or a ``percent`` of the prepaid quantity. Each crossing in the running billing
    period is told once to every webhook (``alert.triggered``, then ``alert.resolved``)."""
    body = await _json_body(request, "alert")
    created = await run_in_threadpool(state.billing.create_alert, grant.org_id, body, grant.client_id)
    return JSONResponse(alert_body(created))


@router.get(ALERTS_PATH, tags=["alerts"], response_model=AlertListing, responses=_errors(401, 403, 429, 500, 503))
async def list_alerts(grant: TokenGrant = Depends(requires(*READ_REPORTS, MANAGE_ALERTS)),
                      state: ServerState = Depends(server_state)) -> JSONResponse:
    """The organization's alerts, oldest first, with where each line stands."""
    return JSONResponse(alerts_body(await run_in_threadpool(state.billing.alerts, grant.org_id)))


@router.delete(ALERTS_PATH + "/{alertId}", tags=["alerts"], status_code=204, responses=_errors(401, 403, 404, 429, 500, 503))
async def delete_alert(alertId: str = _id(), grant: TokenGrant = Depends(requires(MANAGE_ALERTS)),
                       state: ServerState = Depends(server_state)) -> Response:
    await run_in_threadpool(state.billing.delete_alert, grant.org_id, alertId)
    return Response(status_code=204)


@router.post(WEBHOOKS_PATH, tags=["alerts"], response_model=WebhookBody, responses=_errors(400, 401, 403, 413, 415, 429, 500, 503),
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                 "schema": {"type": "object", "required": ["url"], "properties": {
                     "url": {"type": "string", "description": "HTTPS; plain HTTP on the loopback only"},
                     "description": {"type": "string"}}}}}}})
async def create_webhook(request: Request, grant: TokenGrant = Depends(requires(MANAGE_ALERTS)),
                         state: ServerState = Depends(server_state)) -> JSONResponse:
    """An endpoint for the organization's alerts; the answer holds its ``secret``, shown this
    once, with which every message is signed (Standard Webhooks)."""
    body = await _json_body(request, "webhook")
    return JSONResponse(webhook_body(await run_in_threadpool(state.billing.create_webhook, grant.org_id, body),
                                     with_secret=True))


@router.get(WEBHOOKS_PATH, tags=["alerts"], response_model=WebhookListing, responses=_errors(401, 403, 429, 500, 503))
async def list_webhooks(grant: TokenGrant = Depends(requires(MANAGE_ALERTS)),
                        state: ServerState = Depends(server_state)) -> JSONResponse:
    return JSONResponse(webhooks_body(await run_in_threadpool(state.billing.webhooks, grant.org_id)))


@router.delete(WEBHOOKS_PATH + "/{webhookId}", tags=["alerts"], status_code=204,
               responses=_errors(401, 403, 404, 429, 500, 503))
async def delete_webhook(webhookId: str = _id(), grant: TokenGrant = Depends(requires(MANAGE_ALERTS)),
                         state: ServerState = Depends(server_state)) -> Response:
    """Forget the endpoint: its messages not delivered yet are never sent."""
    await run_in_threadpool(state.billing.delete_webhook, grant.org_id, webhookId)
    return Response(status_code=204)


@router.get(WEBHOOKS_PATH + "/{webhookId}/deliveries", tags=["alerts"], response_model=DeliveryListing,
            responses=_errors(401, 403, 404, 429, 500, 503))
async def deliveries(webhookId: str = _id(), grant: TokenGrant = Depends(requires(MANAGE_ALERTS)),
                     state: ServerState = Depends(server_state),
                     pageSize: int = Query(50, ge=1, le=500)) -> JSONResponse:
    """The endpoint's latest messages, newest first: each with its state and every attempt's answer."""
    found = await run_in_threadpool(state.billing.deliveries, grant.org_id, webhookId, pageSize)
    return JSONResponse(deliveries_body(found))


@router.post(WEBHOOKS_PATH + "/{webhookId}/deliveries/{messageId}/redeliver", tags=["alerts"], status_code=202,
             responses=_errors(401, 403, 404, 429, 500, 503))
async def redeliver(webhookId: str = _id(), messageId: str = _id(), grant: TokenGrant = Depends(requires(MANAGE_ALERTS)),
                    state: ServerState = Depends(server_state)) -> Response:
    """Deliver a message again, with the same webhook-id, from now."""
    await run_in_threadpool(state.billing.redeliver, grant.org_id, webhookId, messageId)
    return Response(status_code=202)
