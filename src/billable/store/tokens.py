"""Access tokens, stored only as hashes."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, bindparam, delete, exists, select

from billable.store.direct import DirectStatement
from billable.store.tables import access_tokens, oauth_clients


@dataclass(frozen=True)
class TokenGrant:
    """Who a valid token speaks for."""

    org_id: str
    client_id: str
    permissions: tuple[str, ...]
    expires_at: int


def insert_token(conn: Connection, token_hash: str, grant: TokenGrant, now: int) -> None:
    conn.execute(
        access_tokens.insert().values(
            token_hash=token_hash,
            org_id=grant.org_id,
            client_id=grant.client_id,
            permissions=" ".join(grant.permissions),
            created_at=now,
            expires_at=grant.expires_at,
        )
    )


def _valid() -> tuple[ColumnElement[bool], ...]:
    """A token is valid while it is stored, unexpired and its client not revoked (parameters
    ``token_hash`` and ``now``)."""
    return (access_tokens.c.token_hash == bindparam("token_hash"), access_tokens.c.expires_at > bindparam("now"),
            oauth_clients.c.client_id == access_tokens.c.client_id, oauth_clients.c.revoked_at.is_(None))


# Built once: it runs for every request.
_GRANT = DirectStatement(
    select(access_tokens.c.org_id, access_tokens.c.client_id, access_tokens.c.permissions, access_tokens.c.expires_at)
    .where(*_valid())
)


def valid_token() -> ColumnElement[bool]:
    """Whether the token of parameters ``token_hash`` and ``now`` is valid, as a condition
    another statement carries (the report look-up: service/access.py)."""
    return exists().where(*_valid())


def find_grant(conn: Connection, token_hash: str, now: int) -> TokenGrant | None:
    """The grant of an unexpired token whose client is not revoked, or None."""
    row = _GRANT.first(conn, {"token_hash": token_hash, "now": now})
    if row is None:
        return None
    org_id, client_id, permissions, expires_at = row
    return TokenGrant(org_id, client_id, tuple(permissions.split()), expires_at)


def delete_expired(conn: Connection, now: int) -> None:
    conn.execute(delete(access_tokens).where(access_tokens.c.expires_at <= now))
