"""What a billing period is worth against what was bought: the trustee billing overview of
Genesys Cloud (usage per subscribed product for a billing period numbered back from the
running one) and the period's charges (rules/charges.py).

Usage is the billable usage report's total for the period, a closed period's kept figures
included; a period is charged under the subscription of its end (service/subscriptions.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Connection

from billable.rules.catalog import Catalog
from billable.rules.charges import Charges, charges, usage_totals
from billable.rules.errors import InvalidPeriod
from billable.rules.instants import Period, format_instant
from billable.rules.subscriptions import Subscription, bad_index, billing_period, is_billing_period
from billable.service.report_requests import BILLABLE_USAGE, answer_report
from billable.service.subscriptions import KeptSubscription, subscription_of_period
from billable.store.organizations import Organization, get_organization
from billable.store.periods import ClosedPeriod


@dataclass(frozen=True)
class BillingOverview:
    organization: Organization
    index: int  # 0: the billing period running now; 1: the one before; …
    period: Period
    subscription: Subscription
    usage: dict[str, Decimal]  # per product or device type, the report's total
    in_ramp_period: bool  # at the period's end, or now while it runs
    closed: ClosedPeriod | None  # the closed period whose kept figures these are


@dataclass(frozen=True)
class PeriodCharges:
    period: Period
    subscription: KeptSubscription
    charges: Charges
    closed: ClosedPeriod | None
    as_of: int | None


def billing_overview(conn: Connection, org_id: str, index: int, catalog: Catalog, now: int) -> BillingOverview:
    """The overview of billing period ``index``; ``InvalidInput`` naming ``billingPeriodIndex``
    for one out of range or before the subscription took effect, ``NotFound`` without one."""
    org = get_organization(conn, org_id)
    period = billing_period(index, now)
    kept = subscription_of_period(conn, org.id, period, now)
    if not kept.subscription.covers(period):
        raise bad_index(f"billingPeriodIndex {index} is a billing period before the subscription took effect "
                        f"({format_instant(kept.subscription.contract_effective_date)})")
    report = answer_report(conn, BILLABLE_USAGE, org, period, catalog, now)
    return BillingOverview(org, index, period, kept.subscription, usage_totals(report.figures),
                           kept.subscription.in_ramp_period(min(now, period.end - 1)), report.closed)


def period_charges(conn: Connection, org_id: str, period: Period, catalog: Catalog, now: int, as_of: int | None
                   ) -> PeriodCharges:
    """What billing period ``period`` costs (as of ``as_of``, if given: under the subscription
    and with the usage of that instant); ``InvalidPeriod`` for a period that is not a calendar
    month or is before the subscription took effect."""
    if not is_billing_period(period):
        raise InvalidPeriod("startDate", "charges are for one billing period: a calendar month in UTC, from the "
                                         "first of a month to the first of the next")
    org = get_organization(conn, org_id)
    kept = subscription_of_period(conn, org.id, period, now if as_of is None else as_of)
    if not kept.subscription.covers(period):
        raise InvalidPeriod("startDate", "the period is before the subscription took effect "
                                         f"({format_instant(kept.subscription.contract_effective_date)})")
    report = answer_report(conn, BILLABLE_USAGE, org, period, catalog, now, as_of)
    return PeriodCharges(period, kept, charges(kept.subscription, usage_totals(report.figures)), report.closed, as_of)
