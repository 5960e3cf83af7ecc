"""The product catalog: user products (licenses) and device types."""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from functools import cached_property
from importlib import resources
from operator import attrgetter
from pathlib import Path


class LicensingModel(str, Enum):
    """How an organization pays for products marked ``concurrent`` in the catalog."""

    NAMED = "named"
    CONCURRENT = "concurrent"
    HOURLY = "hourly"


@dataclass(frozen=True)
class UserProduct:
    name: str
    family: str
    rank: int
    concurrent: bool

    def model_under(self, model: LicensingModel) -> LicensingModel:
        """The model this product is billed under in an organization with ``model``."""
        return model if self.concurrent else LicensingModel.NAMED


_RANK = attrgetter("rank")


@dataclass(frozen=True)
class DeviceType:
    name: str


@dataclass(frozen=True)
class Catalog:
    user_products: tuple[UserProduct, ...]
    device_types: tuple[DeviceType, ...]

    def __post_init__(self) -> None:
        names = [p.name for p in self.user_products] + [d.name for d in self.device_types]
        if len(set(names)) != len(names):
            raise ValueError("catalog names must be unique across products and device types")
        if any(not name.isprintable() for name in names):  # the store joins names with a control character
            raise ValueError("catalog names must be printable text")
        ranks = [(p.family, p.rank) for p in self.user_products]
        if len(set(ranks)) != len(ranks):
            raise ValueError("two products of one family share a rank")

    @cached_property
    def digest(self) -> str:
        """A fingerprint of everything in the catalog, in order: two catalogs that bill alike
        have the same digest, and a change of a name, family, rank, model or order changes it."""
        return hashlib.sha256(repr((self.user_products, self.device_types)).encode()).hexdigest()

    @property
    def products_by_name(self) -> dict[str, UserProduct]:
        return {p.name: p for p in self.user_products}

    @property
    def device_type_names(self) -> frozenset[str]:
        return frozenset(d.name for d in self.device_types)

    @property
    def families(self) -> tuple[str, ...]:
        return tuple(sorted({p.family for p in self.user_products}))

    @staticmethod
    def charged(held: Iterable[UserProduct]) -> UserProduct:
        """Of the products of one family a user held in a period, the one charged: the
        highest rank (billing-rules.md)."""
        return max(held, key=_RANK)

    @classmethod
    def from_toml(cls, text: str) -> "Catalog":
        document = tomllib.loads(text)
        return cls(
            user_products=tuple(
                UserProduct(
                    name=str(entry["name"]),
                    family=str(entry["family"]),
                    rank=int(entry["rank"]),
                    concurrent=bool(entry["concurrent"]),
                )
                for entry in document.get("user_product", [])
            ),
            device_types=tuple(DeviceType(name=str(entry["name"])) for entry in document.get("device_type", [])),
        )

    @classmethod
    def load(cls, path: str | Path | None = None) -> "Catalog":
        """The catalog at ``path``, or the default one shipped with the package."""
        if path is None:
            text = resources.files("billable.rules").joinpath("default_catalog.toml").read_text("utf-8")
        else:
            text = Path(path).read_text("utf-8")
        return cls.from_toml(text)
