"""Health for load balancers and orchestrators (docs/operating.md).

``/health/live`` touches nothing: the process answers, so it need not be restarted.
``/health/ready`` asks the database one trivial question: while it cannot answer, the
process should be sent no traffic (503, ``service.unavailable``, with ``Retry-After``).
``/metrics`` gives the process's Prometheus metrics (server/metrics.py).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool

from billable.server.errors import ErrorBody
from billable.server.models import Health
from billable.server.state import ServerState, server_state

router = APIRouter(tags=["health"])


@router.get("/health/live", response_model=Health)
async def live() -> Health:
    """The process is up (nothing else is checked)."""
    return Health(status="UP")


@router.get("/health/ready", response_model=Health, responses={503: {"model": ErrorBody, "description": "not ready"}})
async def ready(state: ServerState = Depends(server_state)) -> Health:
    """The process can serve: its database answers."""
    await run_in_threadpool(state.billing.check)
    return Health(status="UP")


@router.get("/metrics", include_in_schema=False)
def metrics(state: ServerState = Depends(server_state)) -> Response:
    """Prometheus's text format: events, batches, reports, rate-limited requests."""
    return Response(state.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
