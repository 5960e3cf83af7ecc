"""The two report routes' common answer, and a way to it below the framework for the request
that is most of the traffic: a report already computed, asked for by period alone.

Such a request needs one header and two query parameters checked, and one trip to a worker
thread (the token, the rate limit, the report look-up); routing and dependency resolution
cost the server more than all of that (about twice the CPU a request: docs/performance.md).
``ReportRoute`` answers it before the framework sees it; any other
request (``asOf``, an unknown parameter, a malformed date, no bearer token) goes on to the
framework's route, which answers with the same code.
"""

from __future__ import annotations

import asyncio
import re
import time
from functools import partial
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from billable.rules.errors import InvalidInput
from billable.rules.instants import Period
from billable.server.auth import authorize
from billable.server.errors import as_api_error, error_response
from billable.server.state import ServerState
from billable.service.organizations import READ_REPORTS
from billable.service.presentation import CONCURRENT_PATH, REPORT_PATH
from billable.service.report_desk import Answer, Body
from billable.service.report_requests import BILLABLE_USAGE, CONCURRENT_USAGE, ReportKind

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


def desk_answer(request: Request, state: ServerState, kind: ReportKind[Any], token: str, period: Period) -> Answer:
    """The report of the token's organization from the desk (stored, or computed within the
    budget): the token checked and the report looked up in one trip to a worker thread."""
    grant = authorize(request, state, token, READ_REPORTS)
    started = time.perf_counter()
    found = state.desk.answer(kind, grant.org_id, period)
    state.metrics.report_seconds.labels(kind.name).observe(time.perf_counter() - started)
    state.metrics.reports.labels(kind.name, found.origin.value).inc()
    return found


def report_response(accept_encoding: str, body: Body) -> Response:
    """A report's body, compressed when the client accepts gzip."""
    if _accepts_gzip(accept_encoding):
        return Response(body.gzip, media_type="application/json", headers=_GZIPPED)
    return Response(body.json, media_type="application/json", headers=_VARY)


def _accepts_gzip(header: str) -> bool:
    """Whether an Accept-Encoding header admits gzip (``gzip;q=0`` refuses it)."""
    for coding in header.lower().split(","):
        name, _, weight = coding.partition(";")
        if name.strip() in ("gzip", "*"):
            return weight.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


class ReportRoute:
    """Answers ``GET`` of a report with exactly ``startDate`` and ``endDate`` and a bearer
    token before the framework does; passes every other request on."""

    def __init__(self, app: ASGIApp, state: ServerState):
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = _KINDS.get(scope.get("path", "")) if scope["type"] == "http" and scope["method"] == "GET" else None
        asked = _asked(scope) if kind is not None else None
        if kind is None or asked is None:
            await self.app(scope, receive, send)
            return
        token, period = asked
        request = Request(scope, receive)
        try:
            answer = partial(desk_answer, request, self.state, kind, token, period)
            body = (await asyncio.get_running_loop().run_in_executor(self.state.answering, answer)).body
            response = report_response(request.headers.get("accept-encoding", ""), body)
        except Exception as error:
            response = error_response(request, as_api_error(request, error))
        await response(scope, receive, send)


def _asked(scope: Scope) -> tuple[str, Period] | None:
    """The bearer token and the period of a plain report request; None for anything else."""
    pairs = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    query = dict(pairs)
    start, end = query.get("startDate"), query.get("endDate")
    if len(pairs) != 2 or start is None or end is None or not (_DATE.fullmatch(start) and _DATE.fullmatch(end)):
        return None
    authorization = next((value for key, value in scope["headers"] if key == b"authorization"), b"")
    scheme, _, token = authorization.decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    try:
        return token.strip(), report_period(start, end)
    except InvalidInput:
        return None
