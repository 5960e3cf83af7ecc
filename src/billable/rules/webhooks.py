"""Webhook messages as the Standard Webhooks specification has them (standardwebhooks.com):
an endpoint's secret is ``whsec_`` and base64 of random bytes; a message carries
``webhook-id``, ``webhook-timestamp`` (Unix seconds) and ``webhook-signature``, ``v1,`` and
base64 of HMAC-SHA256, keyed by the secret's bytes, of ``id.timestamp.body``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from billable.rules.errors import FieldProblem, InvalidInput

SECRET_PREFIX = "whsec_"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_URL = 2000


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` of a message."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {"content-type": "application/json", "webhook-id": message_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(secret, message_id, timestamp, body)}


def check_endpoint_url(url: object) -> str:
    """``url`` if messages may be sent to it: HTTPS anywhere, plain HTTP on the loopback only."""
    problem = None
    if not isinstance(url, str) or not url or len(url) > MAX_URL or any(c.isspace() or ord(c) < 32 for c in url):
        problem = f"url must be an absolute URL of at most {MAX_URL} characters"
    else:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.scheme not in ("https", "http") or not host or parts.username or parts.password:
            problem = "url must be https://host/path (no user or password in it)"
        elif parts.scheme == "http" and host not in LOOPBACK_HOSTS:
            problem = "url must be HTTPS: plain HTTP is taken for the loopback only (127.0.0.1, localhost, ::1)"
    if problem is not None:
        raise InvalidInput(problem, [FieldProblem("url", "invalid.value", problem)])
    return url  # type: ignore[return-value]  # checked above: a str
