"""``ApiClient`` and ``AsyncApiClient``: they only send; ``BaseClient`` decides."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from billable.client._base import BaseClient, transport_error
from billable.client._exceptions import status_error


class ApiClient(BaseClient):
    """A synchronous client. ``transport`` is for tests (``httpx.MockTransport``)."""

    def __init__(self, host: str | None = None, *, transport: httpx.BaseTransport | None = None, **settings: Any):
        super().__init__(host, **settings)
        self._http = httpx.Client(timeout=self.timeout, transport=transport)

    def login_client_credentials(self, client_id: str, client_secret: str) -> "ApiClient":
        """Log in with client credentials; the token is renewed before it expires."""
        self._credentials = (client_id, client_secret)
        self._login()
        return self

    def _login(self) -> None:
        """A new token; a refusal worth retrying (429, 503: the service is busy or its
        database restarts) is retried like any other request."""
        started, attempt = time.monotonic(), 0
        while True:
            try:
                response, failure = self._http.request(**self._token_request()), None
            except httpx.TransportError as error:
                response, failure = None, transport_error(error)
            wait = self._login_retry(response, failure, attempt, time.monotonic() - started)
            if wait is None:
                return
            time.sleep(wait)
            attempt += 1

    def request(self, method: str, path: str, *, retry_safe: bool | None = None, headers: dict[str, str] | None = None,
                **options: Any) -> httpx.Response:
        """Send, renewing the token and retrying as the policy allows; raise on an error status."""
        retry_safe = method == "GET" if retry_safe is None else retry_safe
        started, attempt, relogged = time.monotonic(), 0, False
        while True:
            if self._needs_login():
                self._login()
            response = None
            try:
                response = self._http.request(method, self.host + path, headers=self._request_headers(headers), **options)
            except httpx.TransportError as error:
                failure = transport_error(error)
            else:
                if self._should_relogin(response, relogged):
                    relogged = True
                    self._login()
                    continue
                if response.status_code < 400:
                    return response
                failure = status_error(response)
            wait = self.retry.delay(attempt, response, time.monotonic() - started) if retry_safe else None
            if wait is None:
                raise failure
            time.sleep(wait)
            attempt += 1

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "ApiClient":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class AsyncApiClient(BaseClient):
    """The asynchronous twin of ``ApiClient``."""

    def __init__(self, host: str | None = None, *, transport: httpx.AsyncBaseTransport | None = None, **settings: Any):
        super().__init__(host, **settings)
        self._http = httpx.AsyncClient(timeout=self.timeout, transport=transport)

    async def login_client_credentials(self, client_id: str, client_secret: str) -> "AsyncApiClient":
        self._credentials = (client_id, client_secret)
        await self._login()
        return self

    async def _login(self) -> None:
        started, attempt = time.monotonic(), 0
        while True:
            try:
                response, failure = await self._http.request(**self._token_request()), None
            except httpx.TransportError as error:
                response, failure = None, transport_error(error)
            wait = self._login_retry(response, failure, attempt, time.monotonic() - started)
            if wait is None:
                return
            await asyncio.sleep(wait)
            attempt += 1

    async def request(self, method: str, path: str, *, retry_safe: bool | None = None,
                      headers: dict[str, str] | None = None, **options: Any) -> httpx.Response:
        retry_safe = method == "GET" if retry_safe is None else retry_safe
        started, attempt, relogged = time.monotonic(), 0, False
        while True:
            if self._needs_login():
                await self._login()
            response = None
            try:
                response = await self._http.request(method, self.host + path, headers=self._request_headers(headers),
                                                    **options)
            except httpx.TransportError as error:
                failure = transport_error(error)
            else:
                if self._should_relogin(response, relogged):
                    relogged = True
                    await self._login()
                    continue
                if response.status_code < 400:
                    return response
                failure = status_error(response)
            wait = self.retry.delay(attempt, response, time.monotonic() - started) if retry_safe else None
            if wait is None:
                raise failure
            await asyncio.sleep(wait)
            attempt += 1

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> "AsyncApiClient":
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()
