"""What a billing period costs under a subscription (issue 37; docs/beyond-genesys.md, "What it costs").

Per subscribed product: the usage is the billable usage report's total for the product over
the period; what was prepaid is charged whatever was used (``prepayQuantity × prepayPrice``);
usage above the prepaid quantity is overage (never negative), charged at ``overagePrice``.
Each charge is computed exactly in ``Decimal`` and rounded once, half up, to the currency's
minor unit (two decimals but for the currencies below); a product's total, the subtotal and
the total are sums of rounded charges, so they add up as printed. When the subtotal is below
the subscription's minimum monthly amount, the difference is charged as a top-up. Usage of a
product the subscription does not name is listed and not charged: no price was agreed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from billable.rules.report import BillableUsageReport
from billable.rules.subscriptions import SubscribedProduct, Subscription

# ISO 4217 currencies whose minor unit is not the cent.
_MINOR_DIGITS = {**dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND",
                                  "VUV", "XAF", "XOF", "XPF"), 0),
                 **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3)}


def minor_digits(currency: str) -> int:
    """The decimals of ``currency``'s minor unit."""
    return _MINOR_DIGITS.get(currency, 2)


def rounded(amount: Decimal, currency: str) -> Decimal:
    """``amount`` rounded half up to ``currency``'s minor unit."""
    return amount.quantize(Decimal(1).scaleb(-minor_digits(currency)), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class ProductCharge:
    product: SubscribedProduct
    usage: Decimal
    overage_quantity: Decimal  # usage above the prepaid quantity, 0 at least
    prepaid_charge: Decimal
    overage_charge: Decimal

    @property
    def total(self) -> Decimal:
        return self.prepaid_charge + self.overage_charge


@dataclass(frozen=True)
class Charges:
    currency: str
    products: tuple[ProductCharge, ...]  # in the subscription's order
    unpriced_usage: tuple[tuple[str, Decimal], ...]  # (name, usage) of products it does not name, by name
    minimum_monthly_amount: Decimal

    @property
    def subtotal(self) -> Decimal:
        return sum((charge.total for charge in self.products), Decimal(0))

    @property
    def minimum_top_up(self) -> Decimal:
        """What brings the subtotal up to the minimum monthly amount, 0 at least."""
        return max(Decimal(0), self.minimum_monthly_amount - self.subtotal)

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.minimum_top_up


def usage_totals(report: BillableUsageReport) -> dict[str, Decimal]:
    """Each product's (or device type's) total usage in the report."""
    return {usage.name: Decimal(usage.total_usage) for usage in report.usages}


def charges(subscription: Subscription, usage: Mapping[str, Decimal]) -> Charges:
    """What ``usage`` (per product or device type) costs under ``subscription``."""
    currency = subscription.currency
    lines = []
    for product in subscription.products:
        used = usage.get(product.name, Decimal(0))
        above = max(Decimal(0), used - product.prepay_quantity)
        lines.append(ProductCharge(product, used, above, rounded(product.prepay_quantity * product.prepay_price, currency),
                                   rounded(above * product.overage_price, currency)))
    named = {product.name for product in subscription.products}
    return Charges(currency, tuple(lines), tuple(sorted((n, q) for n, q in usage.items() if n not in named and q)),
                   rounded(subscription.minimum_monthly_amount, currency))


def explain_charge(charge: ProductCharge, currency: str) -> str:
    """How a product's charges follow from its usage and the subscription's prices, in one sentence."""
    p = charge.product
    said = [f"{charge.usage} used, {p.prepay_quantity} prepaid: {p.prepay_quantity} × {p.prepay_price} = "
            f"{charge.prepaid_charge} {currency} prepaid"]
    if charge.overage_quantity:
        said.append(f"{charge.overage_quantity} above it × {p.overage_price} = {charge.overage_charge} {currency} overage")
    else:
        said.append("no overage")
    return "; ".join(said) + f"; {charge.total} {currency} in all"
