"""The app factory."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from billable import __version__
from billable.rules.catalog import Catalog
from billable.rules.instants import system_now
from billable.server import documentation, errors, health
from billable.server.access_log import CorrelationAndAccessLog
from billable.server.body_limit import BodyLimit
from billable.server.metrics import Metrics
from billable.server.models import event_batch_schema
from billable.server.notifier import Notifier
from billable.server.report_route import ReportRoute
from billable.server.routes import router
from billable.server.settings import Settings
from billable.server.state import ServerState
from billable.service.access import Logins
from billable.service.billing import Billing
from billable.service.rate_limit import RateLimit
from billable.service.report_desk import DeskSettings, ReportDesk
from billable.wire.paths import EVENTS_PATH
from billable.wire.writers import REPORT_WRITERS


def _describe_events(app: FastAPI, schema: dict[str, Any]) -> None:
    """Put the ingestion body's schema, which depends on the catalog, in the OpenAPI document."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        document = build()
        body = document["paths"][EVENTS_PATH]["post"]["requestBody"]
        for content in body["content"].values():
            content["schema"] = schema
        return document

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the document


def create_app(settings: Settings | None = None, *, clock: Callable[[], int] = system_now) -> FastAPI:
    """A server of ``settings`` (from the environment when None); ``clock`` is for tests."""
    settings = settings or Settings()
    catalog = Catalog.load(settings.catalog)
    billing = Billing.open(settings.database_url, catalog, clock, settings.database_busy_timeout_seconds)
    rate_limit = RateLimit.beside(billing.database, settings.rate_limit_per_minute, window_seconds=60)
    desk = ReportDesk(billing.database, catalog, clock, DeskSettings(
        budget_seconds=settings.report_budget_seconds,
        lease_seconds=settings.report_lease_seconds,
        live_max_age_seconds=settings.live_report_max_age_seconds,
        workers=settings.report_workers,
        memory_bytes=settings.report_memory_mib * 2**20,
    ), REPORT_WRITERS)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        rate_limit.prepare()
        # What is here now (modules, the app) lives as long as the server: kept out of the
        # collector's full passes, which otherwise stop the first computation of a report
        # for tens of milliseconds (docs/performance.md).
        gc.freeze()
        notifier.start()
        yield
        notifier.close()
        answering.shutdown(wait=True, cancel_futures=True)
        logging_in.shutdown(wait=True, cancel_futures=True)
        desk.close()
        rate_limit.close(billing.database)
        billing.close()

    # The API's documentation pages load their scripts from this package, never from a CDN.
    app = FastAPIOffline(
        title="billable",
        version=__version__,
        description="Billable usage of licenses and devices, wire-compatible with the Genesys Cloud billing API.",
        lifespan=lifespan,
        redoc_url=None,  # served by documentation.py
    )
    answering = ThreadPoolExecutor(max_workers=40, thread_name_prefix="answer")
    logging_in = ThreadPoolExecutor(max_workers=1, thread_name_prefix="login")
    logins = Logins(billing.database, rate_limit.counters, settings.login_failures_per_minute,
                    settings.token_ttl_seconds)
    notifier = Notifier(billing, settings, clock)
    state = ServerState(settings, catalog, clock, billing, desk, rate_limit, logins, Metrics(), answering, logging_in)
    app.state.server = state
    errors.install(app)
    app.include_router(router)
    app.include_router(health.router)
    app.include_router(documentation.router)
    app.mount("/page", StaticFiles(packages=[("billable.server", "page")]), name="page")
    _describe_events(app, event_batch_schema(catalog, settings.max_events))
    app.add_middleware(ReportRoute, state=state)  # a report already computed, below the framework
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(errors.UnexpectedErrors)
    app.add_middleware(CorrelationAndAccessLog)  # the outermost: every answer has its correlation id
    return app
