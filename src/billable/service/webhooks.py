"""Webhook endpoints and the delivery of their messages (issue 38; rules/webhooks.py).

A message is delivered by whichever server process leases it first: the lease is taken in a
transaction of its own, the receiver is called with none open, and the answer is kept in
another. A process that dies holding a lease leaves the message to the others once the lease
runs out: at least once, always with the same ``webhook-id``, which the receiver uses to drop
a message it already has. Each attempt is kept with the receiver's answer; after a failure
the next attempt waits as the retry schedule says, and past its end the message is given up
(``failed``), still listed, and sent again on request.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from billable.rules.errors import FieldProblem, InvalidInput, NotFound
from billable.rules.json_text import parse_body
from billable.rules.webhooks import check_endpoint_url, new_secret
from billable.store import webhooks as store
from billable.store.database import Database
from billable.store.organizations import get_organization
from billable.store.webhooks import WebhookAttempt, WebhookEndpoint, WebhookMessage

MAX_ENDPOINTS = 10  # per organization
_MAX_DESCRIPTION = 200


@dataclass(frozen=True)
class Delivery:
    """A message and every attempt at delivering it."""

    message: WebhookMessage
    attempts: tuple[WebhookAttempt, ...]


def create_endpoint(conn: Connection, org_id: str, body: bytes, now: int) -> WebhookEndpoint:
    """A new endpoint from ``{"url", "description"}``, with its new secret."""
    get_organization(conn, org_id, lock=True)
    raw: Any = parse_body(body, "webhook")
    if not isinstance(raw, dict):
        raise InvalidInput("a webhook must be a JSON object", [FieldProblem("webhook", "invalid.value",
                                                                              "a webhook must be a JSON object")])
    url = check_endpoint_url(raw.get("url"))
    description = raw.get("description", "")
    if not isinstance(description, str) or len(description) > _MAX_DESCRIPTION or "\x00" in description:
        message = f"description must be text of at most {_MAX_DESCRIPTION} characters"
        raise InvalidInput(message, [FieldProblem("description", "invalid.value", message)])
    if len(store.endpoints_of(conn, org_id)) >= MAX_ENDPOINTS:
        raise InvalidInput(f"an organization has at most {MAX_ENDPOINTS} webhooks: delete one first", [])
    endpoint = WebhookEndpoint(str(uuid.uuid4()), url, new_secret(), description, now)
    store.add_endpoint(conn, org_id, endpoint)
    return endpoint


def endpoints(conn: Connection, org_id: str) -> list[WebhookEndpoint]:
    get_organization(conn, org_id)
    return store.endpoints_of(conn, org_id)


def delete_endpoint(conn: Connection, org_id: str, webhook_id: str) -> None:
    get_organization(conn, org_id, lock=True)
    if not store.remove_endpoint(conn, org_id, webhook_id):
        raise NotFound("webhook", webhook_id)


def deliveries(conn: Connection, org_id: str, webhook_id: str, limit: int) -> list[Delivery]:
    """The endpoint's latest messages, newest first, each with its attempts."""
    if store.endpoint(conn, org_id, webhook_id) is None:
        raise NotFound("webhook", webhook_id)
    messages = store.messages_of(conn, org_id, webhook_id, limit)
    attempts = store.attempts_of(conn, org_id, [m.id for m in messages]) if messages else []
    return [Delivery(m, tuple(a for a in attempts if a.message_id == m.id)) for m in messages]


def redeliver(conn: Connection, org_id: str, webhook_id: str, message_id: str, now: int) -> None:
    if not store.send_again(conn, org_id, webhook_id, message_id, now):
        raise NotFound("message", message_id)


def lease_due(database: Database, now: int, lease_ms: int, limit: int) -> list[tuple[WebhookMessage, WebhookEndpoint]]:
    """Messages due for delivery, each held by this process for ``lease_ms``."""
    with database.read() as conn:
        due = store.due_messages(conn, now, limit)
    leased = []
    for org_id, message_id in due:
        with database.write() as conn:
            found = store.lease_message(conn, org_id, message_id, now, now + lease_ms)
        if found is not None:
            leased.append(found)
    return leased


def keep_outcome(database: Database, message: WebhookMessage, attempt: WebhookAttempt, retry_ms: Sequence[int]) -> None:
    """Keep an attempt: delivered on a 2xx answer; else retried after ``retry_ms[n - 1]``
    (attempt ``n``), or given up past the schedule's end."""
    delivered = attempt.status is not None and 200 <= attempt.status < 300
    number = attempt.attempt
    next_at = attempt.at + retry_ms[number - 1] if not delivered and number <= len(retry_ms) else None
    with database.write() as conn:
        store.record_attempt(conn, message, attempt, next_at, delivered)
