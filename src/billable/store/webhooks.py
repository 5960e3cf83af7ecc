"""Webhook endpoints, the outbox of their messages and each delivery attempt (tables.webhooks,
webhook_messages, webhook_attempts)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, or_, select, update

from billable.store.tables import webhook_attempts, webhook_messages, webhooks


@dataclass(frozen=True)
class WebhookEndpoint:
    id: str
    url: str
    secret: str
    description: str
    created_at: int


@dataclass(frozen=True)
class WebhookMessage:
    org_id: str
    id: str
    webhook_id: str
    type: str
    body: str
    created_at: int
    attempts: int
    next_attempt_at: int | None
    delivered_at: int | None
    failed_at: int | None


@dataclass(frozen=True)
class WebhookAttempt:
    message_id: str
    attempt: int
    at: int
    status: int | None
    error: str | None
    took_ms: int


_w, _m, _a = webhooks.c, webhook_messages.c, webhook_attempts.c
_ENDPOINT = (_w.id, _w.url, _w.secret, _w.description, _w.created_at)
_MESSAGE = (_m.org_id, _m.id, _m.webhook_id, _m.type, _m.body, _m.created_at, _m.attempts, _m.next_attempt_at,
            _m.delivered_at, _m.failed_at)


def add_endpoint(conn: Connection, org_id: str, endpoint: WebhookEndpoint) -> None:
    conn.execute(insert(webhooks).values(org_id=org_id, id=endpoint.id, url=endpoint.url, secret=endpoint.secret,
                                         description=endpoint.description, created_at=endpoint.created_at))


def endpoints_of(conn: Connection, org_id: str) -> list[WebhookEndpoint]:
    rows = conn.execute(select(*_ENDPOINT).where(_w.org_id == org_id)
                        .order_by(_w.created_at, _w.id))
    return [WebhookEndpoint(*row) for row in rows]


def endpoint(conn: Connection, org_id: str, webhook_id: str) -> WebhookEndpoint | None:
    row = conn.execute(select(*_ENDPOINT).where(_w.org_id == org_id, _w.id == webhook_id)).first()
    return None if row is None else WebhookEndpoint(*row)


def remove_endpoint(conn: Connection, org_id: str, webhook_id: str) -> bool:
    """Forget the endpoint; its messages not delivered yet are never sent."""
    conn.execute(update(webhook_messages).where(_m.org_id == org_id, _m.webhook_id == webhook_id,
                                                _m.next_attempt_at.is_not(None)).values(next_attempt_at=None))
    return conn.execute(delete(webhooks).where(_w.org_id == org_id, _w.id == webhook_id)).rowcount > 0


def add_message(conn: Connection, org_id: str, message_id: str, webhook_id: str, kind: str, body: str, now: int
                ) -> None:
    conn.execute(insert(webhook_messages).values(org_id=org_id, id=message_id, webhook_id=webhook_id, type=kind,
                                                 body=body, created_at=now, attempts=0, next_attempt_at=now))


def due_messages(conn: Connection, now: int, limit: int) -> list[tuple[str, str]]:
    """(organization, message) of messages whose next attempt is due and that no process holds."""
    rows = conn.execute(select(_m.org_id, _m.id).where(_m.next_attempt_at <= now,
                                                         or_(_m.lease_until.is_(None), _m.lease_until < now))
                        .order_by(_m.next_attempt_at).limit(limit))
    return [(row.org_id, row.id) for row in rows]


def lease_message(conn: Connection, org_id: str, message_id: str, now: int, until: int
                  ) -> tuple[WebhookMessage, WebhookEndpoint] | None:
    """Hold a due message until ``until`` for this process, with its endpoint; None if another
    process holds it, or it is no longer due."""
    taken = conn.execute(update(webhook_messages)
                         .where(_m.org_id == org_id, _m.id == message_id, _m.next_attempt_at <= now,
                                or_(_m.lease_until.is_(None), _m.lease_until < now))
                         .values(lease_until=until)).rowcount == 1
    if not taken:
        return None
    row = conn.execute(select(*_MESSAGE).where(_m.org_id == org_id, _m.id == message_id)).one()
    found = endpoint(conn, org_id, row.webhook_id)
    return None if found is None else (WebhookMessage(**row._asdict()), found)


def record_attempt(conn: Connection, message: WebhookMessage, attempt: WebhookAttempt, next_attempt_at: int | None,
                   delivered: bool) -> None:
    """Keep an attempt's outcome, and what comes next: nothing once delivered, another attempt
    at ``next_attempt_at``, or none (given up) when it is None."""
    conn.execute(insert(webhook_attempts).values(org_id=message.org_id, message_id=message.id, attempt=attempt.attempt,
                                                 at=attempt.at, status=attempt.status, error=attempt.error,
                                                 took_ms=attempt.took_ms))
    conn.execute(update(webhook_messages).where(_m.org_id == message.org_id, _m.id == message.id).values(
        attempts=attempt.attempt, lease_until=None, next_attempt_at=None if delivered else next_attempt_at,
        delivered_at=attempt.at if delivered else None,
        failed_at=attempt.at if not delivered and next_attempt_at is None else None))


def messages_of(conn: Connection, org_id: str, webhook_id: str, limit: int) -> list[WebhookMessage]:
    """The endpoint's messages, newest first."""
    rows = conn.execute(select(*_MESSAGE).where(_m.org_id == org_id, _m.webhook_id == webhook_id)
                        .order_by(_m.created_at.desc(), _m.id.desc()).limit(limit))
    return [WebhookMessage(**row._asdict()) for row in rows]


def attempts_of(conn: Connection, org_id: str, message_ids: list[str]) -> list[WebhookAttempt]:
    rows = conn.execute(select(_a.message_id, _a.attempt, _a.at, _a.status, _a.error, _a.took_ms)
                        .where(_a.org_id == org_id, _a.message_id.in_(message_ids)).order_by(_a.message_id, _a.attempt))
    return [WebhookAttempt(*row) for row in rows]


def send_again(conn: Connection, org_id: str, webhook_id: str, message_id: str, now: int) -> bool:
    """Deliver the message again from ``now`` (with its id); False if the endpoint has none of that id."""
    return conn.execute(update(webhook_messages).where(_m.org_id == org_id, _m.webhook_id == webhook_id,
                                                       _m.id == message_id)
                        .values(next_attempt_at=now, failed_at=None, lease_until=None)).rowcount == 1
