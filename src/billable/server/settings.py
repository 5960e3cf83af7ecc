"""Server settings, from arguments or ``BILLABLE_*`` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from billable.service.billing import DEFAULT_URL


class Settings(BaseSettings):
    """Everything a server process is configured with; see docs/operating.md."""

    model_config = SettingsConfigDict(env_prefix="BILLABLE_", extra="ignore")

    database_url: str = DEFAULT_URL
    database_busy_timeout_seconds: float = Field(
        30.0, gt=0, description="SQLite: how long a write waits for the database's write lock before answering 503"
    )
    catalog: str | None = Field(None, description="product catalog TOML; the shipped one when unset")
    report_budget_seconds: float = Field(2.0, ge=0, description="how long a request waits for a report before InProgress")
    report_workers: int = Field(2, ge=1, description="report computations at once in one process")
    report_memory_mib: int = Field(128, ge=0, description="report bodies one process keeps in memory (MiB, JSON and "
                                   "compressed); past it, those served longest ago are let go")
    report_lease_seconds: float = Field(300.0, gt=0, description="after this, another process may take over a computation")
    live_report_max_age_seconds: float = Field(
        10.0, ge=0, description="how long a report of a period that is not over yet is served from the store"
    )
    rate_limit_per_minute: int = Field(300, ge=1, description="requests per client per rolling minute")
    login_failures_per_minute: int = Field(
        10, ge=1, description="failed logins per client id and per remote address in a rolling minute; past it, "
        "a login naming either is answered 429 without being checked"
    )
    login_refusal_pause_seconds: float = Field(
        1.0, ge=0, le=10, description="how long such a 429 waits before it is sent (no thread is held meanwhile)"
    )
    token_ttl_seconds: int = Field(86_400, ge=60, description="lifetime of an access token")
    max_body_bytes: int = Field(10 * 1024 * 1024, ge=1024, description="largest body of any request")
    # A request's head (server/connections.py): what a billing API's clients need, many times over.
    max_request_header_fields: int = Field(100, ge=10, description="most header fields in one request")
    max_request_head_bytes: int = Field(16 * 1024, ge=1024, description="most bytes of a request's URL and "
                                        "header fields (names and values) together")
    request_head_timeout_seconds: float = Field(10.0, gt=0, description="how long a request's line and header "
                                                "fields may take to arrive, from the connection or the request's "
                                                "first byte")
    max_events: int = Field(10_000, ge=1, description="most events in one ingestion request")
    # Alerts and their webhooks (server/notifier.py, docs/beyond-genesys.md).
    alerts_poll_seconds: float = Field(1.0, ge=0, description="how often this process evaluates the alerts of the "
                                       "organizations that moved and delivers due webhook messages; 0: never")
    alerts_quiet_seconds: float = Field(2.0, ge=0, description="an organization that moves is evaluated once its "
                                        "log has held still this long (a burst of batches once, after it)...")
    alerts_max_lag_seconds: float = Field(60.0, ge=0, description="... or this long after it first moved, whichever "
                                          "comes first")
    alerts_recheck_seconds: float = Field(300.0, gt=0, description="alerts are evaluated at least this often, for "
                                          "what moves without a commit (a new catalog)")
    webhook_retry_seconds: list[float] = Field(
        [5, 300, 1800, 7200, 18000, 36000, 36000], min_length=1,
        description="the waits after each failed delivery (JSON list); past the last, the message is given up")
    webhook_lease_seconds: float = Field(60.0, gt=0, description="how long a process holds a message it delivers; "
                                         "after it, another process may deliver it")
    webhook_timeout_seconds: float = Field(10.0, gt=0, description="how long a receiver may take to answer")
