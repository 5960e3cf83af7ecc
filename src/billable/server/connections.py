"""The HTTP connections ``billable serve`` accepts: uvicorn's httptools protocol, with limits
on a request's head (docs/operating.md, "Limits").

A request's head (its line and header fields) must arrive whole within a time, and hold at
most so many fields and bytes; else the connection is answered 408 or 431 in the error
body and closed. Without them a client could hold a connection open for good by sending
its head a byte at a time, or make the server keep megabytes of headers per request.
"""

from __future__ import annotations

import asyncio
import uuid
from functools import cache
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from billable.server.errors import CODES
from billable.server.settings import Settings


@cache
def _settings() -> Settings:
    """The process's settings, from its ``BILLABLE_*`` variables, as the app's (server/asgi.py)."""
    return Settings()


class HeadTooLarge(Exception):
    """The request's head is over a limit; raised from the parser's callback to stop it."""


class LimitedHttp(HttpToolsProtocol):
    """httptools' protocol, with the head's time, field count and size limited."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        settings = _settings()
        self._head_seconds = settings.request_head_timeout_seconds
        self._max_fields = settings.max_request_header_fields
        self._max_bytes = settings.max_request_head_bytes
        # What a head within both limits can take on the wire: its request line's method and
        # version, and a field's separator and line break, besides what is counted.
        self._max_wire_bytes = self._max_bytes + 4 * self._max_fields + 64
        self._head_clock: asyncio.TimerHandle | None = None
        self._fields = self._bytes = self._wire_bytes = 0
        self._refusal: str | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as uvicorn's
        super().connection_made(transport)
        self._start_head_clock()  # a connection that never sends a head is closed too

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_clock()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # The parser hands a field over only once it has all of it: a field that never ends
        # is counted here, as the bytes that came while a head was incomplete.
        if self._head_clock is not None and not self.transport.is_closing():
            self._wire_bytes += len(data)
            if self._wire_bytes > self._max_wire_bytes:
                self._answer_and_close(431, self._too_many_bytes())

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._fields = self._bytes = 0
        self._start_head_clock()

    def on_url(self, url: bytes) -> None:
        self._count(len(url), 0)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value), 1)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._stop_head_clock()
        self._wire_bytes = 0
        super().on_headers_complete()

    def _count(self, size: int, fields: int) -> None:
        self._bytes += size
        self._fields += fields
        if self._fields > self._max_fields:
            self._refusal = f"a request may have at most {self._max_fields} header fields"
        elif self._bytes > self._max_bytes:
            self._refusal = self._too_many_bytes()
        if self._refusal is not None:
            raise HeadTooLarge(self._refusal)  # the parser stops; uvicorn answers through send_400_response

    def _too_many_bytes(self) -> str:
        return f"a request's URL and header fields may have at most {self._max_bytes} bytes together"

    def send_400_response(self, msg: str) -> None:
        if self._refusal is None:
            super().send_400_response(msg)
        else:
            self._answer_and_close(431, self._refusal)

    def _start_head_clock(self) -> None:
        if self._head_clock is None:
            self._head_clock = self.loop.call_later(self._head_seconds, self._head_too_slow)

    def _stop_head_clock(self) -> None:
        if self._head_clock is not None:
            self._head_clock.cancel()
            self._head_clock = None

    def _head_too_slow(self) -> None:
        self._head_clock = None
        if not self.transport.is_closing():
            self._answer_and_close(408, f"a request's line and header fields must arrive within "
                                        f"{self._head_seconds:g} s")

    def _answer_and_close(self, status: int, message: str) -> None:
        """The error body, before any request of the connection reached the app."""
        body = orjson.dumps({"message": message, "code": CODES[status], "status": status,
                             "contextId": str(uuid.uuid4()), "details": [], "errors": []})
        reason = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}[status]
        self.logger.warning("refused a connection's request: %s", message)
        self.transport.write(b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
                             b"connection: close\r\n\r\n%s" % (status, reason, len(body), body))
        self.transport.close()

