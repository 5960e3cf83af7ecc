"""Bearer tokens, permissions and the rate limit, as route dependencies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from billable.server.errors import ApiError
from billable.service.access import grant_of, token_hash
from billable.service.rate_limit import RateLimit
from billable.store.tokens import TokenGrant

_bearer = HTTPBearer(auto_error=False, description="a token from POST /oauth/token")


def bearer_token(credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> str:
    """The request's bearer token, not yet checked."""
    if credentials is None or not credentials.credentials.strip():
        raise ApiError(401, "a bearer token is required (Authorization: Bearer …)")
    return credentials.credentials.strip()


def requires(*accepted: str) -> Callable[[Request, str], Awaitable[TokenGrant]]:
    """A dependency admitting a valid token that holds any of ``accepted``, within the rate limit."""

    async def dependency(request: Request, token: str = Depends(bearer_token)) -> TokenGrant:
        return await run_in_threadpool(authorize, request, token, accepted)

    return dependency


def authorize(request: Request, token: str, accepted: tuple[str, ...]) -> TokenGrant:
    """What ``requires`` checks, for a route that checks in the same thread as its work:
    the grant of the token, the rate limit, the permission. It blocks: not on the event loop."""
    app = request.app.state
    now = app.clock()
    with app.database.read_one() as conn:
        grant = grant_of(conn, token, now)
    if grant is None:
        raise ApiError(401, "the token is unknown, expired or revoked", code="bad.credentials")
    rate_limit: RateLimit = app.rate_limit
    verdict = rate_limit.count(token_hash(token), now)
    if not verdict.allowed:
        seconds = verdict.retry_after_seconds
        raise ApiError(429, f"rate limit of {rate_limit.limit} requests per minute reached; retry in {seconds} s",
                       headers={"Retry-After": str(seconds)})
    request.state.org_id = grant.org_id
    if not set(accepted) & set(grant.permissions):
        raise ApiError(403, f"the token lacks every permission this route accepts: any of {', '.join(accepted)}")
    return grant
