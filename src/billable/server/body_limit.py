"""One limit on the body of every request, before any route reads it.

The framework reads a body a route declares (the period to close, the login's form) whole,
before the token is checked: without this, anyone could make a process hold any amount of
memory. A body over the limit is refused from its ``Content-Length`` before it is read, or
as soon as the bytes received pass the limit.
"""

from __future__ import annotations

from fastapi import Request
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from billable.server.errors import ApiError, error_response


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes
        self.message = f"the body may have at most {max_bytes} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((value for key, value in scope["headers"] if key == b"content-length"), b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            request = Request(scope)
            await error_response(request, ApiError(413, self.message))(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                # An HTTPException passes the framework's reading of a body as it is (another
                # exception would become its 400); the errors' handler answers it.
                raise HTTPException(413, self.message)
            return message

        await self.app(scope, counted, send)
