"""Credentials: the client-credentials login's form and Basic header, bearer tokens,
permissions and the rate limit, as route dependencies."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qs

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBasic, HTTPBearer
from starlette.concurrency import run_in_threadpool

from billable.rules.errors import TooManyRequests
from billable.server.errors import ApiError
from billable.server.state import ServerState, server_state
from billable.service.access import TokenGrant

FORM = "application/x-www-form-urlencoded"
_bearer = HTTPBearer(auto_error=False, description="a token from POST /oauth/token")


class _DeclaredBasic(HTTPBasic):
    """HTTP Basic, declared in the OpenAPI document (so that its "Authorize" asks for a
    client's id and secret); ``login_request`` reads the header itself, leniently."""

    async def __call__(self, request: Request) -> None:  # type: ignore[override]  # reads nothing
        return None


client_credentials = _DeclaredBasic(scheme_name="HTTPBasic", auto_error=False,
                                    description="a client's id and secret, for POST /oauth/token")


def media_type(request: Request) -> str:
    """The request's media type, without parameters, in lower case ('' when none was sent)."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


@dataclass(frozen=True)
class LoginRequest:
    """What a client-credentials login sent."""

    grant_type: str
    client_id: str
    client_secret: str


async def login_request(request: Request) -> LoginRequest:
    """The login's form, with the client's id and secret from HTTP Basic (or, failing that,
    from the form, as RFC 6749 allows)."""
    if media_type(request) != FORM:
        raise ApiError(415, f"send the form as {FORM}")
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
    client_id, client_secret = _basic_credentials(request.headers.get("authorization", ""))
    return LoginRequest(form.get("grant_type", ""), client_id or form.get("client_id", ""),
                        client_secret or form.get("client_secret", ""))


def _basic_credentials(header: str) -> tuple[str, str]:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    client_id, _, client_secret = decoded.partition(":")
    return client_id, client_secret


def bearer_token(credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> str:
    """The request's bearer token, not yet checked."""
    if credentials is None or not credentials.credentials.strip():
        raise ApiError(401, "a bearer token is required (Authorization: Bearer …)")
    return credentials.credentials.strip()


def requires(*accepted: str) -> Callable[..., Awaitable[TokenGrant]]:
    """A dependency admitting a valid token that holds any of ``accepted``, within the rate limit."""

    async def dependency(request: Request, token: str = Depends(bearer_token),
                         state: ServerState = Depends(server_state)) -> TokenGrant:
        return await run_in_threadpool(authorize, request, state, token, accepted)

    return dependency


def authorize(request: Request, state: ServerState, token: str, accepted: tuple[str, ...]) -> TokenGrant:
    """What ``requires`` checks, for a route that checks in the same thread as its work:
    the grant of the token, the rate limit, the permission. It blocks: not on the event loop."""
    now = state.clock()
    return _admit(request, state, state.logins.grant(token, now), accepted, now)


def authorize_held(request: Request, state: ServerState, token: str, accepted: tuple[str, ...]
                   ) -> tuple[TokenGrant, bool]:
    """``authorize`` for a route whose own statement can confirm the token (the report
    look-up: service/access.py): from the grant this process holds for it, not looked up,
    when that grant permits the route; then True, and the caller has the token confirmed
    before it answers. A grant that does not permit it is looked up again, so that a token
    that ended is answered 401 before any 403."""
    now = state.clock()
    held = state.logins.held_grant(token, now)
    if held is None or not _permits(held, accepted):
        return authorize(request, state, token, accepted), False
    return _admit(request, state, held, accepted, now), True


def unknown_token() -> ApiError:
    return ApiError(401, "the token is unknown, expired or revoked", code="bad.credentials")


def _permits(grant: TokenGrant, accepted: tuple[str, ...]) -> bool:
    return bool(set(accepted) & set(grant.permissions))


def _admit(request: Request, state: ServerState, grant: TokenGrant | None, accepted: tuple[str, ...], now: int
           ) -> TokenGrant:
    """A token's grant (None: no valid token) within the rate limit and holding any of ``accepted``."""
    if grant is None:
        raise unknown_token()
    verdict = state.rate_limit.count(grant.org_id, grant.client_id, now)  # a client's tokens share its allowance
    if not verdict.allowed:
        state.metrics.rate_limited.inc()
        seconds = verdict.retry_after_seconds
        raise TooManyRequests(f"rate limit of {state.rate_limit.limit} requests per minute reached; retry in {seconds} s",
                              seconds)
    request.state.org_id = grant.org_id
    if not _permits(grant, accepted):
        raise ApiError(403, f"the token lacks every permission this route accepts: any of {', '.join(accepted)}")
    return grant
