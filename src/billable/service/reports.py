"""Computing the billable usage report of an organization for a period."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from sqlalchemy import Connection

from billable.rules.catalog import Catalog, LicensingModel, UserProduct
from billable.rules.errors import FieldProblem, InvalidInput
from billable.rules.instants import Period, format_instant
from billable.rules.report import (
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
from billable.service.concurrency import LevelCurve
from billable.store import reports as queries
from billable.store import history
from billable.store.organizations import Organization
from billable.store.reports import Sources
from billable.store.sql import planned_for_their_parameters


def check_as_of(org: Organization, as_of: int, now: int) -> None:
    """Refuse an ``asOf`` in the future or before the organization existed: no report was
    ever said then."""
    if as_of > now:
        raise InvalidInput("asOf may not be in the future", [FieldProblem("asOf", "in.future", "asOf is in the future")])
    if as_of < org.created_at:
        message = f"asOf is before the organization existed (created {format_instant(org.created_at)})"
        raise InvalidInput(message, [FieldProblem("asOf", "before.organization", message)])


def sources_at(conn: Connection, org_id: str, now: int, as_of: int | None) -> tuple[Sources, int]:
    """What a report (or an explanation) reads, and the instant it is cut off at: now, or as
    it was at ``as_of``. The rest of the transaction is planned for a report's statements."""
    planned_for_their_parameters(conn)
    if as_of is None:
        return queries.NOW, now
    return history.as_of(conn, org_id, as_of), min(now, as_of)


def _charges(conn: Connection, org: Organization, catalog: Catalog, start: int, cut: int, src: Sources
             ) -> tuple[dict[str, list[Resource]], list[UserProduct], list[tuple[str, int, int]]]:
    """Resources per product, the products under the concurrent or hourly model, and
    ``(user, index into those products, first session)`` for each user charged one of them,
    in the order of that product's resources."""
    resources: dict[str, list[Resource]] = defaultdict(list)
    metered = [p for p in catalog.user_products if p.model_under(org.model) is not LicensingModel.NAMED]
    metered_index = {product.name: index for index, product in enumerate(metered)}
    # What a set of products held is charged is decided once per set: few sets, many users.
    charged_for: dict[str, list[tuple[list[Resource], int | None]]] = {}
    charged_metered = []
    for user_id, display_name, names, first_session in queries.held_in_period(conn, org.id, start, cut, src):
        if first_session is None or first_session >= cut:
            continue  # not logged in during the period: charged nothing
        charged = charged_for.get(names)
        if charged is None:
            charged = charged_for[names] = [(resources[product.name], metered_index.get(product.name))
                                            for product in _charged(catalog, names.split(queries.PRODUCT_SEPARATOR))]
        resource = Resource(display_name, max(start, first_session))
        for billed, index in charged:
            billed.append(resource)
            if index is not None:
                charged_metered.append((user_id, index, first_session))
    return resources, metered, charged_metered


def _charged(catalog: Catalog, names: list[str]) -> list[UserProduct]:
    """The products charged a user who held those ``names``: one per family (``Catalog.charged``);
    a product the catalog no longer has is charged nothing."""
    held: dict[str, list[UserProduct]] = defaultdict(list)
    for name in names:
        product = catalog.products_by_name.get(name)
        if product is not None:
            held[product.family].append(product)
    return [catalog.charged(family_held) for family_held in held.values()]


def _sessions_by_product(conn: Connection, org: Organization, metered: list[UserProduct],
                         charged: list[tuple[str, int, int]], start: int, cut: int, src: Sources
                         ) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each of ``metered``, the starts and ends of its charged users' sessions read for
    ``[start, cut)``, neither dropped nor clipped to it (``LevelCurve.of`` does both)."""
    found = queries.charged_sessions(conn, org.id, charged, start, cut, src)
    none = np.empty((0, 2), dtype=np.int64)
    return [(rows[:, 0], rows[:, 1]) for rows in (found.get(index, none) for index in range(len(metered)))]


def billable_usage_report(
    conn: Connection, org: Organization, period: Period, catalog: Catalog, now: int, as_of: int | None = None
) -> BillableUsageReport:
    """The report of billing-rules.md for ``org`` over ``period``, cut off at ``now``; with
    ``as_of``, the report as it was at that instant: of the events acknowledged by then,
    without the voids that came later, cut off then."""
    src, now = sources_at(conn, org.id, now, as_of)
    start, cut = period.start, period.cut_off(now)
    if cut <= start:
        return BillableUsageReport.of(period, [])
    resources, metered, charged_metered = _charges(conn, org, catalog, start, cut, src)
    totals = {p.name: count_total(len(resources[p.name])) for p in catalog.user_products}
    if org.model is LicensingModel.HOURLY:
        milliseconds = queries.charged_session_hours(conn, org.id, charged_metered, start, cut, src)
        for index, product in enumerate(metered):
            per_user = milliseconds.get(index, {})
            totals[product.name] = hours_total(sum(per_user.values()))
            users = [user_id for user_id, of, _ in charged_metered if of == index]  # in the order of its resources
            # A new resource, not ``dataclasses.replace``: 100,000 in 88 ms instead of 194.
            resources[product.name] = [Resource(resource.name, resource.date, hours_total(per_user.get(user_id, 0)))
                                       for resource, user_id in zip(resources[product.name], users, strict=True)]
    elif org.model is LicensingModel.CONCURRENT:
        sessions = _sessions_by_product(conn, org, metered, charged_metered, start, cut, src)
        for product, (started, ended) in zip(metered, sessions, strict=True):
            totals[product.name] = count_total(LevelCurve.of(started, ended, start, cut).peak())
    usages = [Usage.of(p.name, totals[p.name], resources[p.name]) for p in catalog.user_products]

    devices: dict[str, list[Resource]] = defaultdict(list)
    for type_name, device_id, first_active in queries.first_device_activity(conn, org.id, start, cut, src):
        devices[type_name].append(Resource(device_id, first_active))
    for device_type in catalog.device_types:
        found = devices[device_type.name]
        usages.append(Usage.of(device_type.name, count_total(len(found)), found))
    return BillableUsageReport.of(period, usages)


def concurrent_usage_report(
    conn: Connection, org: Organization, period: Period, catalog: Catalog, now: int, as_of: int | None = None
) -> ConcurrentUsageReport:
    """Daily and period peaks of each product billed under the concurrent or hourly model
    (``as_of`` as for ``billable_usage_report``)."""
    src, now = sources_at(conn, org.id, now, as_of)
    start, cut = period.start, period.cut_off(now)
    if cut <= start or org.model is LicensingModel.NAMED:
        return ConcurrentUsageReport(period, org.model.value, ())
    _, metered, charged_metered = _charges(conn, org, catalog, start, cut, src)
    products = []
    sessions = _sessions_by_product(conn, org, metered, charged_metered, start, cut, src)
    for product, (started, ended) in zip(metered, sessions, strict=True):
        curve = LevelCurve.of(started, ended, start, cut)
        days = []
        for day, lo, hi in day_windows(start, cut):
            of_day = curve.within(lo, hi)
            peak = of_day.peak()
            days.append(DayPeak(day, peak, of_day.time_at_least(peak) // 60_000, of_day.logged_in()))
        products.append(ProductPeaks(product.name, curve.peak(), tuple(days)))
    return ConcurrentUsageReport(period, org.model.value, tuple(products))
