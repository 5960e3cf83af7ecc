"""What a server process holds for its requests, and the typed dependency that hands it out."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import cast

from fastapi import Request

from billable.rules.catalog import Catalog
from billable.server.metrics import Metrics
from billable.server.settings import Settings
from billable.service.access import Logins
from billable.service.billing import Billing
from billable.service.rate_limit import RateLimit
from billable.service.report_desk import ReportDesk


@dataclass(frozen=True)
class ServerState:
    settings: Settings
    catalog: Catalog
    clock: Callable[[], int]
    billing: Billing  # every use case but the desk's reports and the logins
    desk: ReportDesk
    rate_limit: RateLimit
    logins: Logins
    metrics: Metrics
    # The threads of the requests that report_route.py answers (as many as the framework's
    # own pool): an executor's trip costs less than the framework's.
    answering: ThreadPoolExecutor
    # The one thread of the logins: hashing their secrets takes at most one core, and a flood
    # of them waits here, holding none of the threads the other requests need.
    logging_in: ThreadPoolExecutor


def server_state(request: Request) -> ServerState:
    """The state of the app serving ``request`` (a route dependency)."""
    return cast(ServerState, request.app.state.server)
