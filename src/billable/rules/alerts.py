"""Usage alerts (issue 38): what an organization wants to be told before the bill tells it.

An alert watches one product or device type (or every one of them, each on its own) in the
billing period running now (a calendar month in UTC), by one measure:

- ``billableUsage``: the billable usage report's total (users, the peak, or hours, as the
  model bills the product; devices);
- ``concurrentPeak``: the concurrent usage report's peak of the period;
- ``loggedInHours``: the hours the product's users were logged in (the concurrent usage
  report's days), whatever the model.

Each of its thresholds is a quantity, or a percentage of the quantity the subscription
prepaid for the product (such a threshold has no line while no subscription prepays it).
A line is crossed when the value reaches it (``alert.triggered``, once); it is back below when
the value falls under the line less ``HYSTERESIS`` of it (``alert.resolved``), so a value
hovering on the line is told once; a new billing period starts below every line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from billable.rules.catalog import Catalog
from billable.rules.errors import FieldProblem, InvalidInput
from billable.rules.json_text import json_decimal
from billable.rules.report import BillableUsageReport, ConcurrentUsageReport, hours_total

MEASURES = ("billableUsage", "concurrentPeak", "loggedInHours")
TRIGGERED, RESOLVED = "alert.triggered", "alert.resolved"
HYSTERESIS = Decimal("0.05")
MAX_THRESHOLDS = 10
_MAX_NAME = 200
_MAX_QUANTITY = Decimal("1e12")


@dataclass(frozen=True)
class Threshold:
    """A line: ``quantity`` itself, or ``percent`` of the prepaid quantity (one of the two)."""

    quantity: Decimal | None = None
    percent: Decimal | None = None

    def line(self, prepaid: Decimal | None) -> Decimal | None:
        """Where the line is; None for a percentage of nothing prepaid."""
        if self.quantity is not None:
            return self.quantity
        if prepaid is None or not prepaid or self.percent is None:
            return None
        return prepaid * self.percent / 100

    def document(self) -> dict[str, str]:
        return {"quantity": str(self.quantity)} if self.quantity is not None else {"percent": str(self.percent)}


@dataclass(frozen=True)
class AlertRule:
    name: str
    product: str | None  # None: every product and device type, each on its own
    measure: str  # one of MEASURES
    thresholds: tuple[Threshold, ...]

    @property
    def needs_peaks(self) -> bool:
        """Whether its measure is read from the concurrent usage report."""
        return self.measure != "billableUsage"


def parse_alert(raw: Any, catalog: Catalog | None) -> AlertRule:
    """The alert a request describes, or ``InvalidInput`` naming every problem. With no
    catalog its product is not checked (a kept alert, checked when it was created)."""
    if not isinstance(raw, dict):
        raise _refused([FieldProblem("alert", "invalid.value", "an alert must be a JSON object")])
    problems: list[FieldProblem] = []
    name = raw.get("name", "")
    if not isinstance(name, str) or len(name) > _MAX_NAME or "\x00" in name:
        problems.append(FieldProblem("name", "invalid.value", f"name must be text of at most {_MAX_NAME} characters"))
    product = raw.get("product")
    known = None if catalog is None else set(catalog.products_by_name) | catalog.device_type_names
    if product is not None and (not isinstance(product, str) or (known is not None and product not in known)):
        problems.append(FieldProblem("product", "unknown.product",
                                     f"product {product!r} is no product or device type of the catalog; leave it out "
                                     "for every one"))
    measure = raw.get("measure", "billableUsage")
    if measure not in MEASURES:
        problems.append(FieldProblem("measure", "invalid.value", f"measure must be one of {', '.join(MEASURES)}"))
    thresholds = _thresholds(raw.get("thresholds"), problems)
    if problems:
        raise _refused(problems)
    return AlertRule(name, product, measure, thresholds)


def _refused(problems: list[FieldProblem]) -> InvalidInput:
    return InvalidInput("the alert was not created: " + "; ".join(p.message for p in problems), problems)


def _thresholds(raw: Any, problems: list[FieldProblem]) -> tuple[Threshold, ...]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_THRESHOLDS:
        problems.append(FieldProblem("thresholds", "invalid.value", f"thresholds must be a list of 1 to "
                                     f"{MAX_THRESHOLDS} lines, each {{\"quantity\": \"10\"}} or {{\"percent\": \"80\"}}"))
        return ()
    found = []
    for index, item in enumerate(raw):
        path = f"thresholds[{index}]"
        kind = next(iter(item)) if isinstance(item, dict) and len(item) == 1 else None
        amount = _amount(item[kind]) if kind in ("quantity", "percent") else None
        if amount is None:
            problems.append(FieldProblem(path, "invalid.value", f"{path} must be {{\"quantity\": Q}} or "
                                         "{\"percent\": P}, a decimal above 0"))
            continue
        found.append(Threshold(quantity=amount) if kind == "quantity" else Threshold(percent=amount))
    return tuple(found)


def _amount(value: Any) -> Decimal | None:
    amount = json_decimal(value)
    return amount if amount is not None and 0 < amount < _MAX_QUANTITY else None


def alert_document(rule: AlertRule) -> dict[str, Any]:
    """The alert in the API's keys: what ``parse_alert`` reads back to the same rule."""
    return {"name": rule.name, **({"product": rule.product} if rule.product else {}), "measure": rule.measure,
            "thresholds": [threshold.document() for threshold in rule.thresholds]}


def measured(rule: AlertRule, usage: BillableUsageReport, peaks: ConcurrentUsageReport | None) -> dict[str, Decimal]:
    """The value of the rule's measure for each product (or the one) the reports name."""
    if rule.measure == "billableUsage":
        values = {u.name: Decimal(u.total_usage) for u in usage.usages}
    elif peaks is None:
        values = {}
    elif rule.measure == "concurrentPeak":
        values = {p.name: Decimal(p.peak) for p in peaks.products}
    else:
        values = {p.name: Decimal(hours_total(sum(d.logged_in_ms for d in p.days))) for p in peaks.products}
    return values if rule.product is None else {rule.product: values.get(rule.product, Decimal(0))}


def crossing(triggered: bool, value: Decimal, line: Decimal) -> str | None:
    """What a value tells of a line it was (``triggered``) or was not past: ``TRIGGERED``
    when it reaches it, ``RESOLVED`` when it falls under it by more than the hysteresis."""
    if not triggered and value >= line:
        return TRIGGERED
    if triggered and value < line * (1 - HYSTERESIS):
        return RESOLVED
    return None


def lines(rule: AlertRule, prepaid: Mapping[str, Decimal], product: str) -> list[Decimal | None]:
    """The line of each of the rule's thresholds for ``product``."""
    return [threshold.line(prepaid.get(product)) for threshold in rule.thresholds]
