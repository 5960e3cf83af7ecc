"""What an organization bought (issue 37): its subscription, as the trustee billing overview
of Genesys Cloud names it, and its billing periods.

A subscription is set from a JSON document whose keys are the overview's
(``subscriptionType``, ``minimumMonthlyAmount``, ``usages[].prepayQuantity``, …); this module
checks one, naming every problem, and numbers its billing periods: calendar months in UTC,
index 0 the month running now, 1 the one before, and so on back to the month the contract
took effect. Quantities and prices are decimal strings on the wire and ``Decimal`` here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from billable.rules.catalog import Catalog
from billable.rules.errors import FieldProblem, InvalidInput
from billable.rules.events import text_problem
from billable.rules.instants import Period, datetime_from_instant, format_instant, instant_from_datetime, parse_instant
from billable.rules.json_text import json_decimal

SUBSCRIPTION_TYPES = ("ININ", "MONTH_TO_MONTH", "FREE_TRIAL_MONTH_TO_MONTH", "PREPAY_MONTHLY_COMMITMENT", "PREPAY",
                      "DEV_ORG_MONTH_TO_MONTH", "DEV_ORG_PREPAY_MONTHLY_COMMITMENT", "DEV_ORG_PREPAY")
_MAX_TEXT = 200
_MAX_DECIMAL = Decimal("1e15")  # no quantity or price of a bill comes near it
_DATES = ("contractEffectiveDate", "contractEndDate", "contractAmendmentDate", "rampPeriodStartDate",
          "rampPeriodEndDate")


@dataclass(frozen=True)
class SubscribedProduct:
    """One product of a subscription: what was prepaid and what usage above it costs."""

    name: str  # a product or device type of the catalog: its usage is the billable usage report's
    part_number: str
    grouping: str
    unit_of_measure_type: str
    prepay_quantity: Decimal
    prepay_price: Decimal  # per unit prepaid
    overage_price: Decimal  # per unit used above the prepaid quantity
    bundle_quantity: Decimal
    usage_notes: str | None
    is_cancellable: bool
    is_third_party: bool


@dataclass(frozen=True)
class Subscription:
    currency: str  # ISO 4217, three capital letters
    subscription_type: str  # one of SUBSCRIPTION_TYPES
    contract_effective_date: int  # epoch ms; its month is the first billing period
    contract_end_date: int | None
    contract_amendment_date: int | None
    ramp_period_start_date: int | None
    ramp_period_end_date: int | None
    minimum_monthly_amount: Decimal
    products: tuple[SubscribedProduct, ...]

    def in_ramp_period(self, instant: int) -> bool:
        start, end = self.ramp_period_start_date, self.ramp_period_end_date
        return start is not None and end is not None and start <= instant < end

    def covers(self, period: Period) -> bool:
        """Whether ``period`` begins in or after the month the contract took effect."""
        return period.start >= _month_start(self.contract_effective_date, 0)


MAX_BILLING_PERIOD_INDEX = 1200  # a hundred years back


def billing_period(index: int, now: int) -> Period:
    """The billing period ``index`` months before the one running at ``now`` (a calendar
    month in UTC); ``InvalidInput`` naming ``billingPeriodIndex`` out of 0 to 1200."""
    if not 0 <= index <= MAX_BILLING_PERIOD_INDEX:
        raise bad_index(f"billingPeriodIndex must be from 0 (the running billing period) to {MAX_BILLING_PERIOD_INDEX}")
    start = _month_start(now, -index)
    return Period(start, _month_start(start, 1))


def calendar_month(year: int, month: int) -> Period:
    """The billing period of ``month`` (1 to 12) of ``year``: that calendar month in UTC."""
    start = instant_from_datetime(datetime(year, month, 1, tzinfo=timezone.utc))
    return Period(start, _month_start(start, 1))


def is_billing_period(period: Period) -> bool:
    """Whether ``period`` is one calendar month in UTC."""
    return period.start == _month_start(period.start, 0) and period.end == _month_start(period.start, 1)


def bad_index(message: str) -> InvalidInput:
    return InvalidInput(message, [FieldProblem("billingPeriodIndex", "invalid.value", message)])


def _month_start(instant: int, months_later: int) -> int:
    """Midnight UTC of the first day of the month ``months_later`` after ``instant``'s."""
    moment = datetime_from_instant(instant)
    number = moment.year * 12 + moment.month - 1 + months_later
    return instant_from_datetime(datetime(number // 12, number % 12 + 1, 1, tzinfo=timezone.utc))


class _Checker:
    """Collects every problem of a subscription document, each named by its path."""

    def __init__(self) -> None:
        self.problems: list[FieldProblem] = []

    def problem(self, path: str, code: str, message: str) -> None:
        self.problems.append(FieldProblem(path, code, message))

    def text(self, raw: dict[str, Any], field: str, path: str, *, required: bool = True) -> str | None:
        value = raw.get(field)
        if value in (None, "") and not required:
            return None
        found = text_problem(value, path, _MAX_TEXT)
        if found is not None:
            self.problem(path, *found)
            return None
        return value  # checked: a str

    def amount(self, raw: dict[str, Any], field: str, path: str, default: str | None = None) -> Decimal:
        found = json_decimal(raw.get(field, default))  # a decimal string, as the overview writes them, or a number
        if found is None or found < 0 or found >= _MAX_DECIMAL:
            self.problem(path, "invalid.value", f"{path} must be a decimal number from 0, as a string (\"12.50\")")
            return Decimal(0)
        return found

    def flag(self, raw: dict[str, Any], field: str, path: str) -> bool:
        value = raw.get(field, False)
        if not isinstance(value, bool):
            self.problem(path, "invalid.value", f"{path} must be true or false")
            return False
        return value

    def date(self, raw: dict[str, Any], field: str, *, required: bool = False) -> int | None:
        value = raw.get(field)
        if value is None:
            if required:
                self.problem(field, "required", f"{field} is required (an ISO-8601 date-time)")
            return None
        try:
            return parse_instant(value, allow_date=True)  # a ValueError for anything but a date-time
        except ValueError:
            pass
        self.problem(field, "invalid.date", f"{field} must be an ISO-8601 date-time")
        return None


def parse_subscription(raw: Any, catalog: Catalog | None) -> Subscription:
    """The subscription a document describes, or ``InvalidInput`` naming every problem. With
    no catalog the products' names are not checked (a kept document, checked when it was set)."""
    if not isinstance(raw, dict):
        raise InvalidInput("a subscription must be a JSON object", [
            FieldProblem("subscription", "invalid.value", "a subscription must be a JSON object")])
    check = _Checker()
    currency = check.text(raw, "currency", "currency")
    if currency is not None and not (len(currency) == 3 and currency.isascii() and currency.isupper()):
        check.problem("currency", "invalid.value", "currency must be an ISO 4217 code of three capital letters")
    kind = raw.get("subscriptionType")
    if kind not in SUBSCRIPTION_TYPES:
        check.problem("subscriptionType", "invalid.value", f"subscriptionType must be one of {', '.join(SUBSCRIPTION_TYPES)}")
    dates = {field: check.date(raw, field, required=field == "contractEffectiveDate") for field in _DATES}
    for start, end in (("contractEffectiveDate", "contractEndDate"), ("rampPeriodStartDate", "rampPeriodEndDate")):
        first, last = dates[start], dates[end]
        if first is not None and last is not None and last <= first:
            check.problem(end, "invalid.value", f"{end} must be later than {start}")
    if (dates["rampPeriodStartDate"] is None) != (dates["rampPeriodEndDate"] is None):
        check.problem("rampPeriodEndDate", "invalid.value", "a ramp period needs both rampPeriodStartDate and rampPeriodEndDate")
    minimum = check.amount(raw, "minimumMonthlyAmount", "minimumMonthlyAmount", default="0")
    products = _products(raw.get("usages"), catalog, check)
    if check.problems:
        said = "; ".join(problem.message for problem in check.problems)
        raise InvalidInput(f"the subscription was not changed: {said}", check.problems)
    return Subscription(
        currency=currency,  # type: ignore[arg-type]  # checked above: no problem, so not None
        subscription_type=kind,  # type: ignore[arg-type]
        contract_effective_date=dates["contractEffectiveDate"],  # type: ignore[arg-type]
        contract_end_date=dates["contractEndDate"], contract_amendment_date=dates["contractAmendmentDate"],
        ramp_period_start_date=dates["rampPeriodStartDate"], ramp_period_end_date=dates["rampPeriodEndDate"],
        minimum_monthly_amount=minimum, products=products)


def _products(raw: Any, catalog: Catalog | None, check: _Checker) -> tuple[SubscribedProduct, ...]:
    if not isinstance(raw, list):
        check.problem("usages", "required", "usages must be a list of the products subscribed to")
        return ()
    known = None if catalog is None else set(catalog.products_by_name) | catalog.device_type_names
    found: list[SubscribedProduct] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        path = f"usages[{index}]"
        if not isinstance(item, dict):
            check.problem(path, "invalid.value", f"{path} must be a JSON object")
            continue
        name = check.text(item, "name", f"{path}.name")
        if name is not None and known is not None and name not in known:
            check.problem(f"{path}.name", "unknown.product", f"{path}.name {name!r} is no product or device type of the catalog")
        elif name is not None and name in seen:
            check.problem(f"{path}.name", "duplicate", f"{path}.name {name!r} is subscribed to twice")
        seen.add(name or "")
        found.append(SubscribedProduct(
            name=name or "",
            part_number=check.text(item, "partNumber", f"{path}.partNumber") or "",
            grouping=check.text(item, "grouping", f"{path}.grouping", required=False) or "",
            unit_of_measure_type=check.text(item, "unitOfMeasureType", f"{path}.unitOfMeasureType",
                                            required=False) or "user",
            prepay_quantity=check.amount(item, "prepayQuantity", f"{path}.prepayQuantity", default="0"),
            prepay_price=check.amount(item, "prepayPrice", f"{path}.prepayPrice", default="0"),
            overage_price=check.amount(item, "overagePrice", f"{path}.overagePrice"),
            bundle_quantity=check.amount(item, "bundleQuantity", f"{path}.bundleQuantity", default="0"),
            usage_notes=check.text(item, "usageNotes", f"{path}.usageNotes", required=False),
            is_cancellable=check.flag(item, "isCancellable", f"{path}.isCancellable"),
            is_third_party=check.flag(item, "isThirdParty", f"{path}.isThirdParty")))
    return tuple(found)


def document_of(subscription: Subscription) -> dict[str, Any]:
    """The subscription in the overview's keys: what ``parse_subscription`` reads back to the
    same subscription (how it is kept, and what ``subscriptions show`` prints)."""
    dates = {field: getattr(subscription, _snake(field)) for field in _DATES}
    return {
        "currency": subscription.currency,
        "subscriptionType": subscription.subscription_type,
        **{field: format_instant(value) for field, value in dates.items() if value is not None},
        "minimumMonthlyAmount": str(subscription.minimum_monthly_amount),
        "usages": [{
            "name": p.name, "partNumber": p.part_number, "grouping": p.grouping,
            "unitOfMeasureType": p.unit_of_measure_type, "prepayQuantity": str(p.prepay_quantity),
            "prepayPrice": str(p.prepay_price), "overagePrice": str(p.overage_price),
            "bundleQuantity": str(p.bundle_quantity), **({"usageNotes": p.usage_notes} if p.usage_notes else {}),
            "isCancellable": p.is_cancellable, "isThirdParty": p.is_third_party,
        } for p in subscription.products],
    }


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)
