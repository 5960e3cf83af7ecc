"""Usage alerts (issue 38): kept per organization, evaluated after the commits that move
their measure, each crossing told once to every webhook endpoint through the outbox.

Evaluation runs beside ingestion, never in its transaction: a server process asks which
organizations moved (their sequence or model changed since their alerts were last evaluated,
or the billing period turned), reads the running month's reports, then, in one transaction,
records the evaluation (``claim_check``: a second process that evaluated the same state
meanwhile makes this one's result void) with the states that changed and a message per
endpoint for each crossing. An organization is evaluated again no sooner than twenty times
what its last evaluation took, so that alerts take at most a twentieth of a core from
ingestion, however fast batches come (docs/beyond-genesys.md).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Connection

from billable.rules.alerts import RESOLVED, TRIGGERED, AlertRule, alert_document, crossing, lines, measured, parse_alert
from billable.rules.catalog import Catalog
from billable.rules.errors import InvalidInput, NotFound
from billable.rules.instants import Period, format_instant
from billable.rules.json_text import compact_json, parse_body, parse_json
from billable.rules.subscriptions import billing_period
from billable.service.report_requests import BILLABLE_USAGE, CONCURRENT_USAGE, answer_report
from billable.service.subscriptions import subscription_of_period
from billable.store import alerts as store
from billable.store.alerts import AlertState, KeptAlert
from billable.store.database import Database
from billable.store.organizations import Organization, get_organization
from billable.store.webhooks import add_message, endpoints_of

MAX_ALERTS = 100  # per organization


@dataclass(frozen=True)
class Alert:
    id: str
    created_at: int
    created_by: str
    rule: AlertRule
    states: tuple[AlertState, ...]


def create_alert(conn: Connection, org_id: str, body: bytes, catalog: Catalog, now: int, created_by: str) -> Alert:
    get_organization(conn, org_id, lock=True)
    rule = parse_alert(parse_body(body, "alert"), catalog)
    if len(store.list_alerts(conn, org_id)) >= MAX_ALERTS:
        raise InvalidInput(f"an organization has at most {MAX_ALERTS} alerts: delete one first", [])
    kept = KeptAlert(str(uuid.uuid4()), now, created_by, compact_json(alert_document(rule)).decode())
    store.add_alert(conn, org_id, kept)
    return Alert(kept.id, now, created_by, rule, ())


def alerts_of(conn: Connection, org_id: str) -> list[Alert]:
    """The organization's alerts, oldest first, each with its lines' states."""
    get_organization(conn, org_id)
    states = store.alert_states_of(conn, org_id)
    return [Alert(kept.id, kept.created_at, kept.created_by, _rule(kept),
                  tuple(s for s in states if s.alert_id == kept.id)) for kept in store.list_alerts(conn, org_id)]


def _rule(kept: KeptAlert) -> AlertRule:
    return parse_alert(parse_json(kept.document), None)  # checked when it was created


def delete_alert(conn: Connection, org_id: str, alert_id: str) -> None:
    get_organization(conn, org_id, lock=True)
    if not store.remove_alert(conn, org_id, alert_id):
        raise NotFound("alert", alert_id)


class Pacing:
    """When a server process evaluates an organization that moves: once its sequence has held
    still for ``quiet_ms`` (a burst of batches is evaluated once, after it, not while it
    writes), or ``max_lag_ms`` after it was first seen moving, whichever comes first. What it
    remembers is this process's own: another process, or a restart, starts afresh."""

    def __init__(self, quiet_ms: int, max_lag_ms: int):
        self.quiet_ms, self.max_lag_ms = quiet_ms, max_lag_ms
        self.moving: dict[str, tuple[int, int, int]] = {}  # org -> (sequence seen, seen since, moving since)

    def ready(self, check: store.DueCheck, now: int) -> bool:
        seen = self.moving.get(check.org_id)
        if seen is None or seen[0] != check.last_seq:
            seen = (check.last_seq, now, now if seen is None else seen[2])
            self.moving[check.org_id] = seen
        return now - seen[1] >= self.quiet_ms or now - seen[2] >= self.max_lag_ms

    def evaluated(self, org_id: str) -> None:
        self.moving.pop(org_id, None)


def evaluate_due(database: Database, catalog: Catalog, now: int, recheck_ms: int, org_id: str | None = None,
                 pacing: Pacing | None = None, limit: int = 20) -> int:
    """Evaluate the alerts of the organizations (or the one) that moved, as ``pacing`` lets
    (without: at once); the messages written."""
    month = billing_period(0, now)
    with database.read() as conn:
        due = store.due_checks(conn, now, max(month.start, now - recheck_ms), limit, org_id)
    written = 0
    for check in due:
        if pacing is None or pacing.ready(check, now):
            written += evaluate(database, catalog, check.org_id, check.evaluated_at, now)
            if pacing is not None:
                pacing.evaluated(check.org_id)
    return written


@dataclass(frozen=True)
class _Seen:
    """What one evaluation read, outside any write."""

    org: Organization
    period: Period
    rules: list[tuple[str, AlertRule]]
    values: dict[str, dict[str, Decimal]]  # per alert, per product
    prepaid: dict[str, Decimal]
    took_ms: int


def evaluate(database: Database, catalog: Catalog, org_id: str, seen_at: int, now: int) -> int:
    """Evaluate one organization's alerts as of ``now``; the messages written (0 as well when
    another process recorded an evaluation since ``seen_at``)."""
    seen = _read(database, catalog, org_id, now)
    with database.write() as conn:
        if not store.claim_check(conn, org_id, seen_at, seen.org.last_seq, seen.org.model.value, now,
                                 now + max(1_000, 20 * seen.took_ms)):
            return 0
        return _record(conn, seen, now)


def _read(database: Database, catalog: Catalog, org_id: str, now: int) -> _Seen:
    started = time.perf_counter()
    period = billing_period(0, now)
    with database.read() as conn:
        org = get_organization(conn, org_id)
        rules = [(kept.id, _rule(kept)) for kept in store.list_alerts(conn, org_id)]
        usage = answer_report(conn, BILLABLE_USAGE, org, period, catalog, now).figures
        peaks = answer_report(conn, CONCURRENT_USAGE, org, period, catalog, now).figures \
            if any(rule.needs_peaks for _, rule in rules) else None
        try:
            subscription = subscription_of_period(conn, org_id, period, now).subscription
            prepaid = {p.name: p.prepay_quantity for p in subscription.products}
        except NotFound:
            prepaid = {}
    values = {alert_id: measured(rule, usage, peaks) for alert_id, rule in rules}
    return _Seen(org, period, rules, values, prepaid, int((time.perf_counter() - started) * 1000))


def _record(conn: Connection, seen: _Seen, now: int) -> int:
    """Write the states that changed, and a message to every endpoint for each crossing."""
    states = {(s.alert_id, s.product, s.threshold): s for s in store.alert_states_of(conn, seen.org.id)}
    endpoints = endpoints_of(conn, seen.org.id)
    written = 0
    for alert_id, rule in seen.rules:
        values = seen.values[alert_id]
        products = {rule.product} if rule.product else set(values) | {p for a, p, _ in states if a == alert_id}
        for product in sorted(products):
            value = values.get(product, Decimal(0))
            for index, line in enumerate(lines(rule, seen.prepaid, product)):
                before = states.get((alert_id, product, index))
                told, after = _next(before, alert_id, product, index, value, line, seen.period, now)
                if after != before:
                    store.put_alert_state(conn, seen.org.id, after)
                for kind in told:
                    body = _message(kind, alert_id, rule, seen, product, value, index, line, now)
                    for endpoint in endpoints:
                        add_message(conn, seen.org.id, f"msg_{uuid.uuid4().hex}", endpoint.id, kind, body, now)
                        written += 1
    return written


def _next(before: AlertState | None, alert_id: str, product: str, index: int, value: Decimal, line: Decimal | None,
          period: Period, now: int) -> tuple[list[str], AlertState]:
    """What a line's state becomes with ``value``, and what is told of it."""
    told = []
    triggered = before is not None and before.triggered
    if triggered and before is not None and before.period_start != period.start:
        told.append(RESOLVED)  # a new billing period starts below every line
        triggered = False
    change = crossing(triggered, value, line) if line is not None else (RESOLVED if triggered else None)
    if change is not None:
        told.append(change)
        triggered = change == TRIGGERED
    changed_at = now if told or before is None else before.changed_at
    return told, AlertState(alert_id, product, index, period.start, triggered, str(value),
                            "" if line is None else str(line), changed_at)


def _message(kind: str, alert_id: str, rule: AlertRule, seen: _Seen, product: str, value: Decimal, index: int,
             line: Decimal | None, now: int) -> str:
    return compact_json({
        "type": kind, "timestamp": format_instant(now),
        "data": {"alertId": alert_id, "alertName": rule.name,
                 "organization": {"id": seen.org.id, "name": seen.org.name},
                 "product": product, "measure": rule.measure, "value": str(value),
                 "threshold": {"index": index, **rule.thresholds[index].document(),
                               "line": None if line is None else str(line)},
                 "billingPeriod": {"startDate": format_instant(seen.period.start),
                                   "endDate": format_instant(seen.period.end)},
                 "at": format_instant(now)},
    }).decode()
