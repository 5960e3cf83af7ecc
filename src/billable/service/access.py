"""Access: client-credentials logins, and the bearer tokens they issue, checked on every request.

A login hashes the secret it is sent (scrypt: tens of milliseconds of a core), and anyone
who reaches the server can ask for one. So that no flood of them slows anything else:

- the secret is checked with no transaction open; the billing database is written only
  to store a token issued, in a short transaction of its own;
- failed logins are counted per client id and per remote address over a rolling minute,
  in the rate limit's store; past the limit, a login naming either is refused
  (``TooManyRequests``, with the seconds to wait) before anything is hashed. A client
  whose id is refused so keeps the tokens it holds;
- the server runs logins in a thread of their own (server/app.py): hashing takes at most
  one core of a process.

What a token grants never changes after it is issued: its organization, client,
permissions and expiry. So a process remembers the grants it found (``Logins.held_grant``),
and the report route, answering from one, has the token confirmed (stored, unexpired, its
client not revoked) by the statement it makes anyway: the report look-up
(service/report_desk.py). The token's own look-up was a statement of its own, and about a
third of a cached report's cost on PostgreSQL (docs/performance.md).
"""

from __future__ import annotations

import hashlib
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock

from sqlalchemy import Connection

from billable.rules.errors import InvalidCredentials, TooManyRequests
from billable.service.credentials import hash_secret, verify_secret
from billable.store import organizations, request_counts, tokens
from billable.store.database import Database
from billable.store.organizations import OAuthClient
from billable.store.tokens import TokenGrant as TokenGrant  # who a token speaks for, for the edges

# Compared against when the client does not exist, so that an unknown client id takes as
# long to refuse as a wrong secret.
_DECOY_HASH = hash_secret(secrets.token_urlsafe(32))
FAILED_LOGIN_WINDOW_SECONDS = 60
_NO_ORGANIZATION = ""  # failed logins are counted apart from every organization's requests
_HELD_GRANTS = 4096  # the grants a process remembers, the least recently used forgotten first


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int  # seconds
    permissions: tuple[str, ...]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Logins:
    """Logins against ``database``, their failures counted in ``counters``."""

    def __init__(self, database: Database, counters: Database, failures_per_minute: int, ttl_seconds: int):
        self.database = database
        self.counters = counters
        self.failures_per_minute = failures_per_minute
        self.ttl_seconds = ttl_seconds
        self._lock = Lock()
        self._held: OrderedDict[str, TokenGrant] = OrderedDict()  # by the token's hash

    def log_in(self, client_id: str, client_secret: str, address: str, now: int) -> IssuedToken:
        """A new bearer token for the client; else ``InvalidCredentials``, or
        ``TooManyRequests`` before any hashing."""
        watched = (_counter("client", client_id), _counter("address", address))
        limit, window = self.failures_per_minute, FAILED_LOGIN_WINDOW_SECONDS
        with self.counters.read_one() as conn:
            verdicts = [request_counts.recent_verdict(conn, _NO_ORGANIZATION, counter, now, limit, window)
                        for counter in watched]
        if not all(verdict.allowed for verdict in verdicts):
            seconds = max(verdict.retry_after_seconds for verdict in verdicts)
            raise TooManyRequests(f"{limit} failed logins a minute for this client id or from this address "
                                  f"reached; retry in {seconds} s", seconds)
        client = self._client(client_id)
        matches = verify_secret(client_secret, client.secret_hash if client else _DECOY_HASH)
        if client is None or not matches or client.revoked_at is not None:
            with self.counters.write() as conn:
                for counter in watched:
                    request_counts.count_request(conn, _NO_ORGANIZATION, counter, now, limit, window)
            raise InvalidCredentials("the client id or secret is wrong, or the client was revoked")
        with self.database.write() as conn:
            return issue_token(conn, client, now, self.ttl_seconds)

    def grant(self, token: str, now: int) -> TokenGrant | None:
        """Who ``token`` speaks for, if it is known, unexpired and its client not revoked."""
        hashed = token_hash(token)
        with self.database.read_one() as conn:
            found = tokens.find_grant(conn, hashed, now)
        with self._lock:
            if found is None:
                self._held.pop(hashed, None)
            else:
                self._held[hashed] = found
                self._held.move_to_end(hashed)
                if len(self._held) > _HELD_GRANTS:
                    self._held.popitem(last=False)
        return found

    def held_grant(self, token: str, now: int) -> TokenGrant | None:
        """The grant ``grant`` last found for ``token`` in this process, if it has not expired
        since. The token may have ended since, in any process (its client revoked): the
        caller confirms it before it answers (``ReportDesk.answer``'s ``token_hash``), and
        calls ``forget`` if it has."""
        hashed = token_hash(token)
        with self._lock:
            found = self._held.get(hashed)
            if found is not None:
                self._held.move_to_end(hashed)
        return found if found is not None and found.expires_at > now else None

    def forget(self, token: str) -> None:
        with self._lock:
            self._held.pop(token_hash(token), None)

    def _client(self, client_id: str) -> OAuthClient | None:
        if "\x00" in client_id:  # no id holds it, and PostgreSQL cannot be asked for it
            return None
        with self.database.read_one() as conn:
            return organizations.get_client(conn, client_id)


def _counter(kind: str, name: str) -> str:
    """The rate limit store's name for failed logins of ``kind``: a hash, as long whatever was sent."""
    return hashlib.sha256(f"login {kind}\n{name}".encode("utf-8", "surrogatepass")).hexdigest()


def issue_token(conn: Connection, client: OAuthClient, now: int, ttl_seconds: int) -> IssuedToken:
    """A new bearer token for ``client``, whose secret was checked."""
    token = secrets.token_urlsafe(32)
    grant = TokenGrant(client.org_id, client.client_id, client.permissions, now + ttl_seconds * 1000)
    tokens.delete_expired(conn, now)  # an index range of the tokens dead since the last login
    tokens.insert_token(conn, token_hash(token), grant, now)
    return IssuedToken(token, ttl_seconds, client.permissions)


def grant_of(conn: Connection, token: str, now: int) -> TokenGrant | None:
    """Who ``token`` speaks for, if it is known, unexpired and its client not revoked."""
    return tokens.find_grant(conn, token_hash(token), now)
