"""One error body for every failure: the Genesys shape, with the correlation id."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from billable.rules.errors import (
    FieldProblem,
    InvalidInput,
    NotFound,
    NotPermitted,
    PayloadTooLarge,
    StoreUnavailable,
    TooManyRequests,
)

log = logging.getLogger("billable.server")

CODES = {
    400: "bad.request",
    401: "authentication.required",
    403: "missing.any.permissions",
    404: "not.found",
    405: "method.not.allowed",
    408: "request.timeout",
    413: "request.entity.too.large",
    415: "unsupported.media.type",
    429: "too.many.requests.retry.after",
    431: "request.header.fields.too.large",
    500: "internal.server.error",
    503: "service.unavailable",
}


class ErrorDetail(BaseModel):
    fieldName: str
    errorCode: str
    message: str | None = None
    index: int | None = Field(None, description="position of the event in the batch, for ingestion")


class ErrorBody(BaseModel):
    """The body of every error answer."""

    message: str
    code: str
    status: int
    contextId: str
    details: list[ErrorDetail] = []
    errors: list[dict[str, Any]] = []


class ApiError(Exception):
    """An error answer: raise it from a route or a dependency."""

    def __init__(self, status: int, message: str, *, code: str | None = None, details: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code or CODES.get(status, "error")
        self.message = message
        self.details = details or []
        self.headers = headers or {}


def correlation_id(request: Request) -> str:
    return getattr(request.state, "correlation_id", "")


def error_response(request: Request, error: ApiError) -> JSONResponse:
    body = {
        "message": error.message,
        "code": error.code,
        "status": error.status,
        "contextId": correlation_id(request),
        "details": error.details,
        "errors": [],
    }
    headers = {"ININ-Correlation-Id": correlation_id(request), **error.headers}
    return JSONResponse(body, status_code=error.status, headers=headers)


def unavailable(request: Request, error: StoreUnavailable) -> ApiError:
    """The 503 of a transient fault of the store, logged once with its cause (which the
    answer leaves out). The same request may be sent again: a batch whose commit did land
    before the fault is recognized by its events' (source, id) and not counted twice."""
    log.warning("store unavailable (%s), correlation id %s: %s", error.condition, correlation_id(request),
                repr(error.__cause__ or error).splitlines()[0][:300])
    seconds = error.retry_after_seconds
    return ApiError(503, f"{error}; send the same request again in {seconds} s", headers={"Retry-After": str(seconds)})


def problem_details(problems: list[FieldProblem]) -> list[dict[str, Any]]:
    return [
        {"fieldName": p.field_name, "errorCode": p.error_code, "message": p.message}
        | ({"index": p.index} if p.index is not None else {})
        for p in problems
    ]


def as_api_error(request: Request, error: Exception) -> ApiError:
    """The error answer of ``error``, whatever raised it."""
    match error:
        case ApiError():
            return error
        case InvalidInput():
            return ApiError(400, error.message, details=problem_details(error.problems))
        case NotFound():
            return ApiError(404, str(error))
        case NotPermitted():
            return ApiError(403, str(error))
        case PayloadTooLarge():
            return ApiError(413, str(error))
        case TooManyRequests():
            return ApiError(429, str(error), headers={"Retry-After": str(error.retry_after_seconds)})
        case StoreUnavailable():
            return unavailable(request, error)
        case RequestValidationError():
            return _invalid_request(error)
        case StarletteHTTPException():
            message = error.detail if isinstance(error.detail, str) else "request failed"
            if error.status_code == 404:
                message = f"no route {request.method} {request.url.path}"
            return ApiError(error.status_code, message, headers=dict(error.headers or {}))
    log.error("unexpected error, correlation id %s", correlation_id(request), exc_info=error)
    return ApiError(500, "an unexpected error occurred; quote the contextId to support")


def _invalid_request(error: RequestValidationError) -> ApiError:
    details = []
    for issue in error.errors():
        location = [str(part) for part in issue.get("loc", ()) if part not in ("query", "body", "header", "path")]
        details.append({"fieldName": ".".join(location) or "request", "errorCode": str(issue.get("type", "invalid")),
                        "message": str(issue.get("msg", ""))})
    names = ", ".join(d["fieldName"] for d in details)
    return ApiError(400, f"invalid or missing: {names}", details=details)


async def _answer(request: Request, error: Exception) -> JSONResponse:
    return error_response(request, as_api_error(request, error))


def install(app: FastAPI) -> None:
    """Map every exception the routes raise on purpose to the error body; the rest are
    answered by ``UnexpectedErrors``."""
    for kind in (ApiError, InvalidInput, NotFound, NotPermitted, PayloadTooLarge, TooManyRequests, StoreUnavailable,
                 RequestValidationError, StarletteHTTPException):
        app.add_exception_handler(kind, _answer)


class UnexpectedErrors:
    """Answers an exception nothing else answered with the 500 error body, logged once with
    its trace. The framework's own answer to it would re-raise it to the server, which logs
    it again and closes the connection: the client's next request on it would be reset."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as error:
            if started:  # half an answer is out: only closing the connection ends it
                raise
            request = Request(scope)
            await error_response(request, as_api_error(request, error))(scope, receive, send)
