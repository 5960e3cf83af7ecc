"""Client-credentials tokens: issued for a client's id and secret, checked on every request."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection

from billable.rules.errors import InvalidCredentials
from billable.service.credentials import hash_secret, verify_secret
from billable.store import organizations, tokens
from billable.store.tokens import TokenGrant

# Compared against when the client does not exist, so that an unknown client id takes as
# long to refuse as a wrong secret.
_DECOY_HASH = hash_secret(secrets.token_urlsafe(32))


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int  # seconds
    permissions: tuple[str, ...]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(conn: Connection, client_id: str, client_secret: str, now: int, ttl_seconds: int) -> IssuedToken:
    """A new bearer token for the client, or ``InvalidCredentials``."""
    client = organizations.get_client(conn, client_id) if "\x00" not in client_id else None  # no id holds NUL
    matches = verify_secret(client_secret, client.secret_hash if client else _DECOY_HASH)
    if client is None or not matches or client.revoked_at is not None:
        raise InvalidCredentials("the client id or secret is wrong, or the client was revoked")
    token = secrets.token_urlsafe(32)
    grant = TokenGrant(client.org_id, client.client_id, client.permissions, now + ttl_seconds * 1000)
    tokens.delete_expired(conn, now)  # an index range of the tokens dead since the last login
    tokens.insert_token(conn, token_hash(token), grant, now)
    return IssuedToken(token, ttl_seconds, client.permissions)


def grant_of(conn: Connection, token: str, now: int) -> TokenGrant | None:
    """Who ``token`` speaks for, if it is known, unexpired and its client not revoked."""
    return tokens.find_grant(conn, token_hash(token), now)
