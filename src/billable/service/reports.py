"""Computing the billable usage report of an organization for a period."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from sqlalchemy import Connection

from billable.rules.catalog import Catalog, LicensingModel
from billable.rules.instants import Period
from billable.rules.report import BillableUsageReport, Resource, Usage, count_total, hours_total
from billable.service.concurrency import concurrent_peak
from billable.store import reports as queries
from billable.store.organizations import Organization


def billable_usage_report(
    conn: Connection, org: Organization, period: Period, catalog: Catalog, now: int
) -> BillableUsageReport:
    """The report of billing-rules.md for ``org`` over ``period``, cut off at ``now``."""
    start, cut = period.start, period.cut_off(now)
    if cut <= start:
        return BillableUsageReport.of(period, [])
    resources: dict[str, list[Resource]] = defaultdict(list)
    metered = [p for p in catalog.user_products if p.model_under(org.model) is not LicensingModel.NAMED]
    metered_index = {product.name: index for index, product in enumerate(metered)}
    charged_metered = []
    for charged in queries.charged_users(conn, org.id, catalog, start, cut):
        product = catalog.product_of_rank(charged.family, charged.rank)
        resources[product.name].append(Resource(charged.display_name, max(start, charged.first_session)))
        if product.name in metered_index:
            charged_metered.append((charged.user_id, metered_index[product.name]))

    usages = []
    totals = {p.name: count_total(len(resources[p.name])) for p in catalog.user_products}
    if org.model is LicensingModel.HOURLY:
        milliseconds = queries.charged_session_hours(conn, org.id, charged_metered, start, cut)
        for index, product in enumerate(metered):
            totals[product.name] = hours_total(milliseconds.get(index, 0))
    elif org.model is LicensingModel.CONCURRENT:
        rows = queries.charged_session_intervals(conn, org.id, charged_metered, start, cut)
        intervals = np.array(rows, dtype=np.int64).reshape(-1, 3)
        for index, product in enumerate(metered):
            mine = intervals[intervals[:, 0] == index]
            totals[product.name] = count_total(concurrent_peak(mine[:, 1], mine[:, 2], start, cut))
    for product in catalog.user_products:
        usages.append(Usage.of(product.name, totals[product.name], resources[product.name]))

    devices: dict[str, list[Resource]] = defaultdict(list)
    for device_type, device_id, first_active in queries.first_device_activity(conn, org.id, start, cut):
        devices[device_type].append(Resource(device_id, first_active))
    for device_type in catalog.device_types:
        found = devices[device_type.name]
        usages.append(Usage.of(device_type.name, count_total(len(found)), found))
    return BillableUsageReport.of(period, usages)
