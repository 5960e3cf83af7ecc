"""The billable SDK: ``BillingApi`` for this service and for Genesys Cloud.

Needs only httpx and pydantic; imports nothing of the server.
"""

from billable.client._base import RetryPolicy
from billable.client._billing import AsyncBillingApi, BillingApi
from billable.client._client import ApiClient, AsyncApiClient
from billable.client._exceptions import (
    ApiConnectionError,
    ApiException,
    ApiStatusError,
    ApiTimeoutError,
    AuthenticationError,
    BadRequestError,
    BillableClientError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ReportNotReadyError,
    ServerError,
)
from billable.client._models import (
    BillingUsage,
    BillingUsageReport,
    BillingUsageResource,
    ConcurrentUsageReport,
    Explanation,
    IngestResult,
    ListedEvent,
    ProductCatalog,
    VoidResult,
    format_date,
)
from billable.client._regions import REGIONS

__all__ = [
    "REGIONS",
    "ApiClient",
    "ApiConnectionError",
    "ApiException",
    "ApiStatusError",
    "ApiTimeoutError",
    "AsyncApiClient",
    "AsyncBillingApi",
    "AuthenticationError",
    "BadRequestError",
    "BillableClientError",
    "BillingApi",
    "BillingUsage",
    "BillingUsageReport",
    "BillingUsageResource",
    "ConcurrentUsageReport",
    "Explanation",
    "IngestResult",
    "ListedEvent",
    "NotFoundError",
    "PermissionDeniedError",
    "ProductCatalog",
    "RateLimitError",
    "ReportNotReadyError",
    "VoidResult",
    "RetryPolicy",
    "ServerError",
    "format_date",
]
