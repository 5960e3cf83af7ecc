"""Why a user is or is not billed (billing-rules.md, section 5, one user at a time)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from billable.rules.catalog import Catalog
from billable.rules.intervals import overlap

UNKNOWN_USER: Final = "unknown.user"
NOT_LOGGED_IN: Final = "not.logged.in"
NO_LICENSE: Final = "no.license"
FamilyReason = Literal["no.license", "not.logged.in"]
Reason = Literal["unknown.user", "not.logged.in", "no.license"]


@dataclass(frozen=True)
class FamilyCharge:
    """The user's charge in one family, the holding that set it, or why there is none."""

    family: str
    product: str | None
    holding: tuple[int, int] | None
    reason: FamilyReason | None


@dataclass(frozen=True)
class Explanation:
    user_id: str
    display_name: str
    logged_in_ms: int
    first_billable_login: int | None
    session: tuple[int, int] | None  # the session the first billable login belongs to
    families: tuple[FamilyCharge, ...]
    reason: Reason | None  # why the user is billed in no family at all

    @property
    def billed(self) -> bool:
        return self.reason is None


def explain(
    user_id: str,
    display_name: str | None,
    sessions: list[tuple[int, int]] | None,
    holdings: dict[str, list[tuple[int, int]]],
    catalog: Catalog,
    start: int,
    cut: int,
) -> Explanation:
    """Explain one user from their sessions and holdings; ``sessions`` None means unknown."""
    if sessions is None:
        return Explanation(user_id, user_id, 0, None, None, (), UNKNOWN_USER)
    present = sorted(s for s in sessions if overlap(s, start, cut) > 0)
    logged_in = sum(overlap(s, start, cut) for s in present)
    families = []
    for family in catalog.families:
        held = [
            (product, min(h for h in holdings.get(product.name, []) if overlap(h, start, cut) > 0))
            for product in catalog.user_products
            if product.family == family and any(overlap(h, start, cut) > 0 for h in holdings.get(product.name, []))
        ]
        if not held:
            families.append(FamilyCharge(family, None, None, NO_LICENSE))
        elif not present:
            families.append(FamilyCharge(family, None, None, NOT_LOGGED_IN))
        else:
            product = catalog.charged(product for product, _ in held)
            holding = next(holding for held_product, holding in held if held_product == product)
            families.append(FamilyCharge(family, product.name, holding, None))
    billed = any(f.reason is None for f in families)
    reason: Reason | None = None if billed else (NOT_LOGGED_IN if not present else NO_LICENSE)
    first = present[0] if present and billed else None
    return Explanation(
        user_id,
        display_name or user_id,
        logged_in,
        max(start, first[0]) if first else None,
        first,
        tuple(families),
        reason,
    )
