"""One error body for every failure: the Genesys shape, with the correlation id."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from billable.rules.errors import FieldProblem, InvalidInput, NotFound, PayloadTooLarge, StoreUnavailable

log = logging.getLogger("billable.server")

CODES = {
    400: "bad.request",
    401: "authentication.required",
    403: "missing.any.permissions",
    404: "not.found",
    405: "method.not.allowed",
    413: "request.entity.too.large",
    415: "unsupported.media.type",
    429: "too.many.requests.retry.after",
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


def install(app: FastAPI) -> None:
    """Map every exception to the error body."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, error: ApiError) -> JSONResponse:
        return error_response(request, error)

    @app.exception_handler(InvalidInput)
    async def _invalid(request: Request, error: InvalidInput) -> JSONResponse:
        return error_response(request, ApiError(400, error.message, details=problem_details(error.problems)))

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, error: NotFound) -> JSONResponse:
        return error_response(request, ApiError(404, str(error)))

    @app.exception_handler(PayloadTooLarge)
    async def _too_large(request: Request, error: PayloadTooLarge) -> JSONResponse:
        return error_response(request, ApiError(413, str(error)))

    @app.exception_handler(StoreUnavailable)
    async def _unavailable(request: Request, error: StoreUnavailable) -> JSONResponse:
        return error_response(request, unavailable(request, error))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> JSONResponse:
        details = []
        for issue in error.errors():
            location = [str(part) for part in issue.get("loc", ()) if part not in ("query", "body", "header", "path")]
            details.append({"fieldName": ".".join(location) or "request", "errorCode": str(issue.get("type", "invalid")),
                            "message": str(issue.get("msg", ""))})
        names = ", ".join(d["fieldName"] for d in details)
        return error_response(request, ApiError(400, f"invalid or missing: {names}", details=details))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        message = error.detail if isinstance(error.detail, str) else "request failed"
        if error.status_code == 404:
            message = f"no route {request.method} {request.url.path}"
        return error_response(request, ApiError(error.status_code, message, headers=dict(error.headers or {})))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        log.error("unexpected error, correlation id %s", correlation_id(request), exc_info=error)
        return error_response(request, ApiError(500, "an unexpected error occurred; quote the contextId to support"))
