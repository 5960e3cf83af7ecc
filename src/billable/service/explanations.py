"""Explaining one user's charges from the derived state."""

from __future__ import annotations

from sqlalchemy import Connection

from billable.rules.catalog import Catalog
from billable.rules.explanation import Explanation, explain
from billable.rules.instants import Period
from billable.service.reports import check_as_of, sources_at
from billable.store import derived
from billable.store.organizations import get_organization
from billable.store.reports import user_intervals


def explain_user(conn: Connection, org_id: str, user: str, period: Period, catalog: Catalog, now: int,
                 as_of: int | None = None) -> Explanation:
    """Why ``user`` (a user id, or the email a report names a user by) is or is not billed in
    ``period``, cut off at ``now`` (with ``as_of``: as the report said at that instant,
    refused as ``answer_report`` refuses it)."""
    if as_of is not None:
        check_as_of(get_organization(conn, org_id), as_of, now)
    user_id = derived.user_named(conn, org_id, user) or user
    src, now = sources_at(conn, org_id, now, as_of)
    start, cut = period.start, max(period.start, period.cut_off(now))
    found = user_intervals(conn, org_id, user_id, start, cut, src)
    return explain(user_id, found.display_name, found.sessions, found.holdings, catalog, start, cut)
