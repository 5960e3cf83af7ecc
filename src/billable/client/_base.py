"""Everything of a client that does no I/O: settings, credentials, the retry policy."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from billable import __version__
from billable.client._exceptions import (
    ApiConnectionError,
    ApiException,
    ApiTimeoutError,
    AuthenticationError,
    status_error,
)
from billable.client._regions import api_host, login_host

RETRY_STATUSES = frozenset({429, 502, 503, 504})
TOKEN_PATH = "/oauth/token"


@dataclass
class RetryPolicy:
    """Which failures are tried again, and after how long."""

    max_retries: int = 3
    max_retry_time: float = 60.0  # seconds, from the first attempt, waits included
    max_retry_after: float = 60.0  # a longer Retry-After is not waited for
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    jitter: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int, response: httpx.Response | None, elapsed: float) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or None to give up.

        ``response`` is None when no answer came (connection error or timeout).
        """
        if attempt >= self.max_retries:
            return None
        if response is not None and response.status_code not in RETRY_STATUSES:
            return None
        told = retry_after(response) if response is not None else None
        if told is not None:
            if told > self.max_retry_after:
                return None
            wait = told
        else:
            wait = min(self.backoff_max, self.backoff_base * 2**attempt) * self.jitter.uniform(0.5, 1.0)
        return wait if elapsed + wait <= self.max_retry_time else None


def retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds, from either of its forms, if the answer has one."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - datetime.now(timezone.utc)).total_seconds())


class PollSchedule:
    """Waits between repeated requests for an InProgress report: growing, up to a deadline."""

    def __init__(self, wait_timeout: float, first: float = 0.5, factor: float = 1.5, longest: float = 5.0):
        self.deadline = time.monotonic() + wait_timeout
        self.next = first
        self.factor = factor
        self.longest = longest

    def wait(self) -> float | None:
        """Seconds to wait before asking again, or None when the deadline has passed."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            return None
        wait = min(self.next, left)
        self.next = min(self.longest, self.next * self.factor)
        return wait


class BaseClient:
    """Configuration and state shared by ``ApiClient`` and ``AsyncApiClient``.

    Every setting belongs to the instance: one program may talk to several organizations
    or regions at once.
    """

    def __init__(
        self,
        host: str | None = None,
        *,
        region: str | None = None,
        access_token: str | None = None,
        timeout: float = 30.0,
        connect_timeout: float = 5.0,
        max_retries: int = 3,
        max_retry_time: float = 60.0,
        max_retry_after: float = 60.0,
        token_refresh_margin: float = 60.0,
    ):
        self.host = api_host(host, region)
        self.login_host = login_host(self.host)
        self.timeout = httpx.Timeout(timeout, connect=connect_timeout)
        self.retry = RetryPolicy(max_retries=max_retries, max_retry_time=max_retry_time, max_retry_after=max_retry_after)
        self.token_refresh_margin = token_refresh_margin
        self.access_token = access_token
        self._token_expires_at: float | None = None
        self._credentials: tuple[str, str] | None = None
        self.headers = {"User-Agent": f"billable-python/{__version__}", "Accept": "application/json"}

    def _needs_login(self) -> bool:
        if self._credentials is None:
            return False
        if self.access_token is None or self._token_expires_at is None:
            return True
        return time.monotonic() >= self._token_expires_at - self.token_refresh_margin

    def _token_request(self) -> dict[str, Any]:
        assert self._credentials is not None
        return {
            "method": "POST",
            "url": self.login_host + TOKEN_PATH,
            "data": {"grant_type": "client_credentials"},
            "auth": self._credentials,
        }

    def _accept_token(self, response: httpx.Response) -> None:
        if response.status_code != 200:
            raise login_refused(response)
        answer = response.json()
        self.access_token = answer["access_token"]
        self._token_expires_at = time.monotonic() + float(answer.get("expires_in", 86400))

    def _login_retry(self, response: httpx.Response | None, failure: ApiException | None, attempt: int,
                     elapsed: float) -> float | None:
        """After a login attempt: None once the token is accepted, else the seconds to wait
        before trying again; raises when the login is refused or no retry is left."""
        if response is not None and response.status_code not in RETRY_STATUSES:
            self._accept_token(response)
            return None
        wait = self.retry.delay(attempt, response, elapsed)
        if wait is not None:
            return wait
        if response is not None:
            raise login_refused(response)
        assert failure is not None  # no answer came: the transport failed
        raise failure

    def _request_headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = dict(self.headers)
        if self.access_token:
            headers["Authorization"] = f"Bearer {self.access_token}"
        return headers | (extra or {})

    def _should_relogin(self, response: httpx.Response, relogged: bool) -> bool:
        return response.status_code == 401 and self._credentials is not None and not relogged


def login_refused(response: httpx.Response) -> AuthenticationError:
    error = status_error(response)
    return AuthenticationError(f"login refused: {error.message}", status=response.status_code,
                               headers=response.headers, body=error.body)


def transport_error(error: httpx.TransportError) -> ApiException:
    if isinstance(error, httpx.TimeoutException):
        return ApiTimeoutError(f"timed out: {error}")
    return ApiConnectionError(f"could not reach the service: {error}")
