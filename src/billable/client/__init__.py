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
    Alert,
    BillingUsage,
    BillingUsageReport,
    BillingUsageResource,
    Charges,
    ConcurrentUsageReport,
    Delivery,
    Explanation,
    IngestResult,
    ListedEvent,
    ProductCatalog,
    TrusteeBillingOverview,
    VoidResult,
    Webhook,
    format_date,
)
from billable.client._regions import REGIONS

__all__ = [
    "REGIONS",
    "Alert",
    "Delivery",
    "Webhook",
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
    "Charges",
    "ConcurrentUsageReport",
    "Explanation",
    "IngestResult",
    "ListedEvent",
    "NotFoundError",
    "PermissionDeniedError",
    "ProductCatalog",
    "RateLimitError",
    "ReportNotReadyError",
    "TrusteeBillingOverview",
    "VoidResult",
    "RetryPolicy",
    "ServerError",
    "format_date",
]
