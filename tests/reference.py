"""The reference computation of a billable usage report, from a list of events.

Written to be obviously right, not fast: it walks every event of every user and tries
every candidate window. The engine in ``billable.service`` is tested against it.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from dataclasses import dataclass, field

from billable.rules.catalog import Catalog, LicensingModel, UserProduct
from billable.rules.events import (
    ASSIGNED,
    DEVICE_ACTIVE,
    EMAIL_TYPES,
    HOLDING_TYPES,
    LOGIN,
    SESSION_TYPES,
    UsageEvent,
    first_occurrences,
)
from billable.rules.explanation import Explanation, explain
from billable.rules.instants import Period
from billable.rules.intervals import intervals, overlap
from billable.rules.report import (
    CONCURRENT_WINDOW_MS,
    BillableUsageReport,
    ConcurrentUsageReport,
    DayPeak,
    ProductPeaks,
    Resource,
    Usage,
    count_total,
    day_windows,
    hours_total,
)


@dataclass
class UserHistory:
    """Everything the rules need to know about one user, rebuilt from their events."""

    sessions: list[tuple[int, int]] = field(default_factory=list)
    holdings: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    display_name: str = ""


@dataclass(frozen=True)
class Charge:
    """What a user is billed in one family, and since when."""

    user_id: str
    product: UserProduct
    first_billable_login: int


def user_histories(events: list[UsageEvent]) -> dict[str, UserHistory]:
    """Sessions, holdings and display names per user; ``events`` in arrival order."""
    ordered = sorted(enumerate(events), key=lambda pair: (pair[1].time, pair[0]))
    by_user: dict[str, list[UsageEvent]] = defaultdict(list)
    for _, event in ordered:
        if event.type != DEVICE_ACTIVE:
            by_user[event.subject].append(event)
    histories = {}
    for user_id, walk in by_user.items():
        history = UserHistory(display_name=user_id)
        history.sessions = intervals((e.time, e.type == LOGIN) for e in walk if e.type in SESSION_TYPES)
        for product in sorted({e.product for e in walk if e.type in HOLDING_TYPES and e.product is not None}):
            history.holdings[product] = intervals(
                (e.time, e.type == ASSIGNED) for e in walk if e.type in HOLDING_TYPES and e.product == product
            )
        emails = [e.email for e in walk if e.type in EMAIL_TYPES and e.email is not None]
        if emails:
            history.display_name = emails[-1]
        histories[user_id] = history
    return histories


def charges(history: UserHistory, user_id: str, catalog: Catalog, start: int, cut: int) -> list[Charge]:
    """The user's charge in each family where they are billable in ``[start, cut)``."""
    sessions = [s for s in history.sessions if overlap(s, start, cut) > 0]
    if not sessions:
        return []
    first_billable_login = max(start, min(s[0] for s in sessions))
    found = []
    for family in catalog.families:
        held = [
            product
            for product in catalog.user_products
            if product.family == family
            and any(overlap(h, start, cut) > 0 for h in history.holdings.get(product.name, []))
        ]
        if held:
            found.append(Charge(user_id, max(held, key=lambda p: p.rank), first_billable_login))
    return found


def concurrent_peak(sessions: list[tuple[int, int]], start: int, cut: int) -> int:
    """The largest k held by at least k sessions for a whole 30-minute window in ``[start, cut)``.

    The level only changes at session bounds, and a best window can always be slid left
    until it starts at ``start`` or at such a bound without losing anything, so those are
    the only window starts tried; a window's minimum is the least level at a change
    point inside it.
    """
    points = sorted({start} | {t for s in sessions for t in s if start < t < cut})

    def level(instant: int) -> int:
        return sum(1 for s in sessions if s[0] <= instant < s[1])

    best = 0
    for window_start in points:
        window_end = window_start + CONCURRENT_WINDOW_MS
        if window_end > cut:
            break
        best = max(best, min(level(t) for t in points if window_start <= t < window_end))
    return best


def reference_report(
    events: list[UsageEvent], catalog: Catalog, model: LicensingModel, period: Period, now: int,
    voided: frozenset[tuple[str, str]] = frozenset(),
) -> BillableUsageReport:
    """The billable usage report of ``events`` (in arrival order) for ``period``, the events
    of the ``voided`` keys (source, id) taken as never received (a voided key's later
    duplicates are duplicates still)."""
    events = [event for event in first_occurrences(events) if event.key not in voided]
    start, cut = period.start, period.cut_off(now)
    if cut <= start:
        return BillableUsageReport.of(period, [])
    histories = user_histories(events)
    billed: dict[str, list[tuple[str, Charge]]] = defaultdict(list)
    for user_id, history in histories.items():
        for charge in charges(history, user_id, catalog, start, cut):
            billed[charge.product.name].append((user_id, charge))
    usages = []
    for product in catalog.user_products:
        users = billed.get(product.name, [])
        billed_as = product.model_under(model)
        # Under the hourly model each user's own hours too: their sessions inside the period.
        resources = [Resource(histories[u].display_name, c.first_billable_login,
                              hours_total(sum(overlap(s, start, cut) for s in histories[u].sessions))
                              if billed_as is LicensingModel.HOURLY else None) for u, c in users]
        sessions = [s for u, _ in users for s in histories[u].sessions]
        if billed_as is LicensingModel.CONCURRENT:
            total = count_total(concurrent_peak(sessions, start, cut))
        elif billed_as is LicensingModel.HOURLY:
            total = hours_total(sum(overlap(s, start, cut) for s in sessions))
        else:
            total = count_total(len(users))
        usages.append(Usage.of(product.name, total, resources))
    first_active: dict[tuple[str, str], int] = {}
    for event in events:
        if event.type == DEVICE_ACTIVE and event.device_type is not None and start <= event.time < cut:
            key = (event.device_type, event.subject)
            first_active[key] = min(first_active.get(key, event.time), event.time)
    for device_type in catalog.device_types:
        resources = [Resource(d, t) for (kind, d), t in first_active.items() if kind == device_type.name]
        usages.append(Usage.of(device_type.name, count_total(len(resources)), resources))
    return BillableUsageReport.of(period, usages)


def reference_explanation(
    events: list[UsageEvent], catalog: Catalog, period: Period, now: int, user_id: str
) -> "Explanation":
    """Why ``user_id`` is or is not billed, from the events alone."""
    history = user_histories(first_occurrences(events)).get(user_id)
    start, cut = period.start, max(period.start, period.cut_off(now))
    if history is None:
        return explain(user_id, None, None, {}, catalog, start, cut)
    return explain(user_id, history.display_name, history.sessions, history.holdings, catalog, start, cut)


def time_at_least(sessions: list[tuple[int, int]], lo: int, hi: int, level: int) -> int:
    """Milliseconds of ``[lo, hi)`` with at least ``level`` sessions open."""
    points = sorted({lo, hi} | {t for s in sessions for t in s if lo < t < hi})
    return sum(
        b - a for a, b in zip(points, points[1:]) if sum(1 for s in sessions if s[0] <= a < s[1]) >= level
    )


def reference_concurrent_usage(
    events: list[UsageEvent], catalog: Catalog, model: LicensingModel, period: Period, now: int
) -> ConcurrentUsageReport:
    """Daily and period peaks of every product billed under the concurrent or hourly model."""
    events = first_occurrences(events)
    start, cut = period.start, period.cut_off(now)
    metered = [p for p in catalog.user_products if p.model_under(model) is not LicensingModel.NAMED]
    if cut <= start or not metered:
        return ConcurrentUsageReport(period, model.value, ())
    histories = user_histories(events)
    products = []
    for product in metered:
        sessions = [
            s
            for user_id, history in histories.items()
            if any(c.product == product for c in charges(history, user_id, catalog, start, cut))
            for s in history.sessions
        ]
        days = []
        for day, lo, hi in day_windows(start, cut):
            peak = concurrent_peak(sessions, lo, hi)
            days.append(DayPeak(day, peak, time_at_least(sessions, lo, hi, peak) // 60_000,
                                sum(overlap(session, lo, hi) for session in sessions)))
        products.append(ProductPeaks(product.name, concurrent_peak(sessions, start, cut), tuple(days)))
    return ConcurrentUsageReport(period, model.value, tuple(products))


def reference_charges(document: dict[str, Any], totals: dict[str, str]) -> dict[str, Any]:
    """What the usage ``totals`` (the report's, per product) cost under the subscription
    ``document``, from its strings, as docs/beyond-genesys.md says: each charge rounded half
    up to the currency's minor unit, usage above the prepaid quantity at the overage price,
    the minimum monthly amount topped up. Amounts as ``Decimal``."""
    unit = {"JPY": Decimal("1"), "KWD": Decimal("0.001")}.get(document["currency"], Decimal("0.01"))

    def money(amount: Decimal) -> Decimal:
        return amount.quantize(unit, rounding=ROUND_HALF_UP)

    products = []
    for usage in document["usages"]:
        used = Decimal(totals.get(usage["name"], "0"))
        prepaid = Decimal(usage.get("prepayQuantity", "0"))
        above = used - prepaid if used > prepaid else Decimal(0)
        prepaid_charge = money(prepaid * Decimal(usage.get("prepayPrice", "0")))
        overage_charge = money(above * Decimal(usage["overagePrice"]))
        products.append({"name": usage["name"], "usage": used, "overageQuantity": above, "prepaidCharge": prepaid_charge,
                         "overageCharge": overage_charge, "total": prepaid_charge + overage_charge})
    subtotal = sum((p["total"] for p in products), Decimal(0))
    minimum = money(Decimal(document.get("minimumMonthlyAmount", "0")))
    top_up = minimum - subtotal if minimum > subtotal else Decimal(0)
    named = {usage["name"] for usage in document["usages"]}
    unpriced = [{"name": name, "usage": Decimal(total)} for name, total in sorted(totals.items())
                if name not in named and Decimal(total) != 0]
    return {"products": products, "unpricedUsages": unpriced, "subtotal": subtotal, "minimumTopUp": top_up,
            "total": subtotal + top_up}
