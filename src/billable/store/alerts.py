"""Alerts, their states and when they were evaluated (tables.alerts, alert_states, alert_checks)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, and_, delete, insert, or_, select, update

from billable.store.tables import alert_checks, alert_states, alerts, organizations


@dataclass(frozen=True)
class KeptAlert:
    id: str
    created_at: int
    created_by: str
    document: str


@dataclass(frozen=True)
class AlertState:
    """Whether a line of an alert is crossed for a product, in the billing period of ``period_start``."""

    alert_id: str
    product: str
    threshold: int
    period_start: int
    triggered: bool
    value: str
    line: str
    changed_at: int


@dataclass(frozen=True)
class DueCheck:
    """An organization whose alerts are to be evaluated, when they last were, and its sequence now."""

    org_id: str
    evaluated_at: int
    last_seq: int


def add_alert(conn: Connection, org_id: str, alert: KeptAlert) -> None:
    conn.execute(insert(alerts).values(org_id=org_id, id=alert.id, created_at=alert.created_at,
                                       created_by=alert.created_by, document=alert.document))
    if conn.execute(select(alert_checks.c.org_id).where(alert_checks.c.org_id == org_id)).first() is None:
        conn.execute(insert(alert_checks).values(org_id=org_id, evaluated_seq=-1, evaluated_model="", evaluated_at=-1,
                                                 next_check_at=0))
    evaluate_again(conn, org_id)


def evaluate_again(conn: Connection, org_id: str) -> None:
    """Have the organization's alerts (if any) evaluated at the next check, whatever its
    sequence: what they measure against changed. An evaluation under way, which did not see
    the change, finds its check changed and records nothing."""
    conn.execute(update(alert_checks).where(alert_checks.c.org_id == org_id)
                 .values(evaluated_seq=-1, evaluated_at=-1, next_check_at=0))


def list_alerts(conn: Connection, org_id: str) -> list[KeptAlert]:
    a = alerts.c
    rows = conn.execute(select(a.id, a.created_at, a.created_by, a.document).where(a.org_id == org_id)
                        .order_by(a.created_at, a.id))
    return [KeptAlert(*row) for row in rows]


def remove_alert(conn: Connection, org_id: str, alert_id: str) -> bool:
    """Forget the alert and its states; False if there was none of that id."""
    conn.execute(delete(alert_states).where(alert_states.c.org_id == org_id, alert_states.c.alert_id == alert_id))
    removed = conn.execute(delete(alerts).where(alerts.c.org_id == org_id, alerts.c.id == alert_id)).rowcount > 0
    if not list_alerts(conn, org_id):
        conn.execute(delete(alert_checks).where(alert_checks.c.org_id == org_id))
    return removed


def alert_states_of(conn: Connection, org_id: str) -> list[AlertState]:
    s = alert_states.c
    rows = conn.execute(select(s.alert_id, s.product, s.threshold, s.period_start, s.triggered, s.value, s.line,
                               s.changed_at).where(s.org_id == org_id).order_by(s.alert_id, s.product, s.threshold))
    return [AlertState(r.alert_id, r.product, r.threshold, r.period_start, bool(r.triggered), r.value, r.line,
                       r.changed_at) for r in rows]


def put_alert_state(conn: Connection, org_id: str, state: AlertState) -> None:
    s = alert_states.c
    conn.execute(delete(alert_states).where(s.org_id == org_id, s.alert_id == state.alert_id,
                                            s.product == state.product, s.threshold == state.threshold))
    conn.execute(insert(alert_states).values(org_id=org_id, alert_id=state.alert_id, product=state.product,
                                             threshold=state.threshold, period_start=state.period_start,
                                             triggered=int(state.triggered), value=state.value, line=state.line,
                                             changed_at=state.changed_at))


def due_checks(conn: Connection, now: int, stale_before: int, limit: int, org_id: str | None = None
               ) -> list[DueCheck]:
    """Organizations (or the one) with alerts whose sequence or model moved since their last
    evaluation, or last evaluated before ``stale_before``, and not held back until later."""
    c, o = alert_checks.c, organizations.c
    query = (select(c.org_id, c.evaluated_at, o.last_seq).join(organizations, o.id == c.org_id)
             .where(c.next_check_at <= now,
                    or_(o.last_seq != c.evaluated_seq, o.model != c.evaluated_model, c.evaluated_at < stale_before)))
    if org_id is not None:
        query = query.where(c.org_id == org_id)
    rows = conn.execute(query.order_by(c.next_check_at).limit(limit))
    return [DueCheck(*row) for row in rows]


def claim_check(conn: Connection, org_id: str, seen_at: int, seq: int, model: str, now: int, next_check_at: int
                ) -> bool:
    """Record an evaluation at ``now`` of sequence ``seq`` under ``model``, unless another
    process recorded one since ``seen_at`` (then False: its result stands, not this one's)."""
    c = alert_checks.c
    return conn.execute(update(alert_checks).where(and_(c.org_id == org_id, c.evaluated_at == seen_at))
                        .values(evaluated_seq=seq, evaluated_model=model, evaluated_at=now,
                                next_check_at=next_check_at)).rowcount == 1
