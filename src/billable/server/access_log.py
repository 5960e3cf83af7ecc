"""Correlation ids on every answer, and one structured access-log line per request."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("billable.access")
HEADER = "ININ-Correlation-Id"
# A client's correlation id is taken only when short and plain: it goes back in a header
# and into the log, where anything else could forge lines or bloat them.
_PLAIN_ID = re.compile(rb"[A-Za-z0-9._-]{1,128}")
_HEADER_KEY = HEADER.lower().encode("latin-1")


_LOGGED_PATH = 128


def _bounded(path: str) -> str:
    return path if len(path) <= _LOGGED_PATH else f"{path[:_LOGGED_PATH]}… ({len(path)} characters)"


class CorrelationAndAccessLog:
    """Echoes the client's ``ININ-Correlation-Id`` when it is 1 to 128 letters, digits,
    ``-``, ``_`` or ``.`` (else makes one) on every response and logs
    ``{org, method, route, status, durationMs, correlationId}`` as JSON."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        sent = dict(scope.get("headers") or []).get(_HEADER_KEY, b"").strip()
        correlation = sent.decode("ascii") if _PLAIN_ID.fullmatch(sent) else str(uuid.uuid4())
        scope.setdefault("state", {})["correlation_id"] = correlation
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != _HEADER_KEY]
                headers.append((_HEADER_KEY, correlation.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            state: dict[str, Any] = scope.get("state", {})
            route = scope.get("route")
            log.info(json.dumps({
                "org": state.get("org_id"),
                "method": scope.get("method"),
                # A route's pattern; else the path asked for, which the client chose: cut short.
                "route": getattr(route, "path", None) or _bounded(scope.get("path", "")),
                "status": status,
                "durationMs": round((time.perf_counter() - started) * 1000, 2),
                "correlationId": correlation,
            }))
