"""The SDK's errors, in one tree.

```
BillableClientError
├── ApiException                 an answer, or no answer, from the API
│   ├── ApiConnectionError       the request did not reach the service (DNS, refused, reset)
│   │   └── ApiTimeoutError      connecting or reading took longer than the timeout
│   └── ApiStatusError           the service answered with an error status
│       ├── BadRequestError          400
│       ├── AuthenticationError      401 (also a refused login)
│       ├── PermissionDeniedError    403
│       ├── NotFoundError            404
│       ├── RateLimitError           429 (after the retries allowed)
│       └── ServerError              5xx (after the retries allowed)
└── ReportNotReadyError          the report stayed InProgress longer than wait_timeout
```

Every ``ApiException`` has ``status`` (None without an answer), ``headers``, ``body`` (the
parsed error body when there is one, else the text) and ``correlation_id``.
"""

from __future__ import annotations

from typing import Any

import httpx


class BillableClientError(Exception):
    """Base of every error the SDK raises."""


class ApiException(BillableClientError):
    def __init__(self, message: str, *, status: int | None = None, headers: httpx.Headers | None = None,
                 body: Any = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.headers = headers or httpx.Headers()
        self.body = body

    @property
    def correlation_id(self) -> str | None:
        found: str | None = self.headers.get("ININ-Correlation-Id")
        return found


class ApiConnectionError(ApiException):
    pass


class ApiTimeoutError(ApiConnectionError):
    pass


class ApiStatusError(ApiException):
    pass


class BadRequestError(ApiStatusError):
    pass


class AuthenticationError(ApiStatusError):
    pass


class PermissionDeniedError(ApiStatusError):
    pass


class NotFoundError(ApiStatusError):
    pass


class RateLimitError(ApiStatusError):
    pass


class ServerError(ApiStatusError):
    pass


class ReportNotReadyError(BillableClientError):
    """The service kept answering InProgress for longer than ``wait_timeout``."""


_BY_STATUS = {400: BadRequestError, 401: AuthenticationError, 403: PermissionDeniedError, 404: NotFoundError,
              429: RateLimitError}


def status_error(response: httpx.Response) -> ApiStatusError:
    """The error for an answer with an error status, carrying its parsed body."""
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    message = body.get("message") or body.get("error_description") if isinstance(body, dict) else None
    kind = _BY_STATUS.get(response.status_code, ServerError if response.status_code >= 500 else ApiStatusError)
    text = f"{response.status_code} {response.reason_phrase}: {message or str(body)[:200]}"
    return kind(text, status=response.status_code, headers=response.headers, body=body)
