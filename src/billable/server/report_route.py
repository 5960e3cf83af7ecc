"""The two report routes, answered below the framework.

A report request needs one header and two or three query parameters checked, and one trip
to a worker thread (the token, the rate limit, the report look-up or computation); the
framework's routing and dependency resolution cost the server more than all of that (about
twice the CPU a request: docs/performance.md). ``ReportRoute`` answers every well-formed
request with ``serve_report``. The framework's routes (routes.py) declare the two routes
for the OpenAPI document and answer what is passed on to them, a malformed request (no
bearer token, a date that is not one, a parameter given twice), with the validation errors
every route answers; one that gets past their validation calls ``serve_report`` too.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from billable.rules.errors import FieldProblem, InvalidCredentials, InvalidInput
from billable.rules.instants import RANGE_TEXT, InstantOutOfRange, Period, parse_instant
from billable.server.auth import authorize, authorize_held, unknown_token
from billable.server.errors import as_api_error, error_response
from billable.server.state import ServerState
from billable.service.access import token_hash
from billable.service.organizations import READ_REPORTS
from billable.service.report_desk import Body, Origin, ReportStatus
from billable.service.report_requests import BILLABLE_USAGE, CONCURRENT_USAGE, ReportKind
from billable.wire.paths import CONCURRENT_PATH, REPORT_PATH

DATE_HELP = "ISO-8601 date-time (any offset; none means UTC) or a date, e.g. 2026-10-01T00:00:00.000Z"
# The shapes Period.parse accepts (an offset's '+' may arrive as a space from a query string);
# the calendar itself (month 13, the period's order and length) is checked after.
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}([.,]\d+)?)?([Zz]|[ +-]\d{2}(:?\d{2})?)?)?$"
_DATE = re.compile(DATE_PATTERN)
# A report may go out gzip-compressed, so caches must key it by the client's Accept-Encoding.
_VARY = {"Vary": "Accept-Encoding"}
_GZIPPED = {**_VARY, "Content-Encoding": "gzip"}
_KINDS: dict[str, ReportKind[Any]] = {REPORT_PATH: BILLABLE_USAGE, CONCURRENT_PATH: CONCURRENT_USAGE}


def report_period(start: str, end: str) -> Period:
    """The period of a query's dates."""
    # A '+' in an offset that reached us unescaped in a query string arrives as a space.
    return Period.parse(*(plus_in_offset(text) for text in (start, end)))


def plus_in_offset(text: str) -> str:
    if len(text) > 6 and text[-6] == " " and text[-3] == ":":
        return text[:-6] + "+" + text[-5:]
    return text


def query_instant(text: str | None, field: str) -> int | None:
    """The instant of a query parameter, if given (``InvalidInput`` naming it, if it is not one)."""
    if text is None:
        return None
    try:
        return parse_instant(plus_in_offset(text), allow_date=True)
    except ValueError as error:
        message = (f"{field} must be from {RANGE_TEXT}" if isinstance(error, InstantOutOfRange)
                   else f"{field} must be an ISO-8601 date-time or date")
        raise InvalidInput(message, [FieldProblem(field, "invalid.date", message)]) from None


def _answer(request: Request, state: ServerState, kind: ReportKind[Any], token: str, period: Period,
            as_of: str | None) -> Body:
    """The report of the token's organization, in one trip to a worker thread: the token
    checked, then the report from the desk (stored, or computed within the budget), or, as
    of an instant, computed for the request.

    A token whose grant this process found before is not looked up on its own: the desk's
    look-up confirms it (service/access.py)."""
    if as_of is None:
        grant, unconfirmed = authorize_held(request, state, token, READ_REPORTS)
    else:
        grant, unconfirmed = authorize(request, state, token, READ_REPORTS), False
    instant = query_instant(as_of, "asOf")
    started = time.perf_counter()
    if instant is None:
        try:
            answer = state.desk.answer(kind, grant.org_id, period, token_hash(token) if unconfirmed else "")
        except InvalidCredentials:
            state.logins.forget(token)
            raise unknown_token() from None
        body, origin = answer.body, answer.origin
    else:
        report = state.billing.report(kind, grant.org_id, period, instant)
        written = state.desk.writers[kind.name].write(grant.org_id, report, ReportStatus.COMPLETE)  # as the desk writes
        body, origin = Body(written), Origin.COMPUTED
    state.metrics.report_seconds.labels(kind.name).observe(time.perf_counter() - started)
    state.metrics.reports.labels(kind.name, origin.value).inc()
    return body


async def serve_report(request: Request, state: ServerState, kind: ReportKind[Any], token: str, period: Period,
                       as_of: str | None) -> Response:
    """A report request's answer: its body, compressed when the client accepts gzip (in the
    worker thread: a body compressed for the first time, L's 8.6 MB in 77 ms, would hold up
    every other request of the event loop)."""
    gzipped = _accepts_gzip(request.headers.get("accept-encoding", ""))

    def sent() -> bytes:
        body = _answer(request, state, kind, token, period, as_of)
        return body.gzip if gzipped else body.json

    content = await asyncio.get_running_loop().run_in_executor(state.answering, sent)
    return Response(content, media_type="application/json", headers=_GZIPPED if gzipped else _VARY)


def _accepts_gzip(header: str) -> bool:
    """Whether an Accept-Encoding header admits gzip (``gzip;q=0`` refuses it)."""
    for coding in header.lower().split(","):
        name, _, weight = coding.partition(";")
        if name.strip() in ("gzip", "*"):
            return weight.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


class ReportRoute:
    """Answers ``GET`` of a report with a bearer token, ``startDate``, ``endDate`` and
    perhaps ``asOf`` before the framework does; passes every other request on."""

    def __init__(self, app: ASGIApp, state: ServerState):
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = _KINDS.get(scope.get("path", "")) if scope["type"] == "http" and scope["method"] == "GET" else None
        asked = _asked(scope) if kind is not None else None
        if kind is None or asked is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await serve_report(request, self.state, kind, *asked)
        except Exception as error:
            response = error_response(request, as_api_error(request, error))
        await response(scope, receive, send)


def _asked(scope: Scope) -> tuple[str, Period, str | None] | None:
    """The bearer token, the period and the ``asOf`` of a well-formed report request; None
    for anything else."""
    pairs = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    query = dict(pairs)
    start, end, as_of = query.get("startDate"), query.get("endDate"), query.get("asOf")
    if start is None or end is None or len(pairs) != (2 if as_of is None else 3):
        return None
    if not all(_DATE.fullmatch(date) for date in (start, end, as_of or start)):
        return None
    authorization = next((value for key, value in scope["headers"] if key == b"authorization"), b"")
    scheme, _, token = authorization.decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    try:
        return token.strip(), report_period(start, end), as_of
    except InvalidInput:
        return None
