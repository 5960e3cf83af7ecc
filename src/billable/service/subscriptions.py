"""Setting and reading what an organization bought (issue 37), and the subscription each
billing period is charged under."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from billable.rules.catalog import Catalog
from billable.rules.errors import NotFound
from billable.rules.instants import Period
from billable.rules.json_text import compact_json, parse_body, parse_json
from billable.rules.subscriptions import Subscription, document_of, parse_subscription
from billable.store import subscriptions as store
from billable.store.alerts import evaluate_again
from billable.store.organizations import get_organization


@dataclass(frozen=True)
class KeptSubscription:
    """A subscription as it was set: from when, and by whom."""

    set_at: int
    set_by: str
    subscription: Subscription


def set_subscription(conn: Connection, org_id: str, body: bytes, catalog: Catalog, now: int, set_by: str
                     ) -> KeptSubscription:
    """Give the organization the subscription a JSON document describes, from ``now`` on;
    ``InvalidInput`` naming every problem, and nothing changed, if it is not one. The one it
    replaces is kept for the billing periods before."""
    get_organization(conn, org_id, lock=True)
    subscription = parse_subscription(parse_body(body, "subscription"), catalog)
    store.add_subscription(conn, org_id, now, set_by, compact_json(document_of(subscription)).decode())
    evaluate_again(conn, org_id)  # a percentage of the prepaid quantity may have moved
    return KeptSubscription(now, set_by, subscription)


def subscription_at(conn: Connection, org_id: str, instant: int) -> KeptSubscription:
    """The organization's subscription in effect at ``instant``; ``NotFound`` if it had none."""
    get_organization(conn, org_id)
    return _read(store.subscription_then(conn, org_id, instant), org_id)


def subscription_of_period(conn: Connection, org_id: str, period: Period, now: int) -> KeptSubscription:
    """The subscription ``period`` is charged under: the one in effect at its end (while it
    runs, at ``now``), so that one set later changes no period already over; for a period
    before the organization was first given one, that first one. ``NotFound`` if none."""
    found = store.subscription_then(conn, org_id, min(period.end - 1, now)) or store.first_subscription(conn, org_id)
    return _read(found, org_id)


def _read(found: tuple[int, str, str] | None, org_id: str) -> KeptSubscription:
    if found is None:
        raise NotFound("subscription of organization", org_id)
    set_at, set_by, document = found
    return KeptSubscription(set_at, set_by, parse_subscription(parse_json(document), None))
