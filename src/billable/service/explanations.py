"""Explaining one user's charges from the derived state."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from billable.rules.catalog import Catalog
from billable.rules.explanation import Explanation, explain
from billable.rules.instants import Period
from billable.service.reports import check_as_of, sources_at
from billable.store import history
from billable.store.organizations import get_organization
from billable.store.periods import ClosedPeriod, closed_period
from billable.store.reports import Sources, user_intervals, user_named


@dataclass(frozen=True)
class ExplainedUser:
    """An explanation, and the closed period whose kept report it explains (None: the
    report of now, or as of an instant)."""

    explanation: Explanation
    closed: ClosedPeriod | None = None


def explain_request(conn: Connection, org_id: str, user: str, period: Period, catalog: Catalog, now: int,
                    as_of: int | None = None) -> ExplainedUser:
    """An explanation of the report a request for ``period`` answers with
    (report_requests.answer_report): as of ``as_of`` if given; else, for a closed period,
    of its kept report (the events its close saw, without the voids made after it); else
    of the report now."""
    closed = None if as_of is not None else closed_period(conn, org_id, period)
    if closed is None:
        return ExplainedUser(explain_user(conn, org_id, user, period, catalog, now, as_of))
    kept = history.at_sequence(conn, org_id, closed.sequence)
    return ExplainedUser(_explained(conn, org_id, user, period, catalog, closed.closed_at, kept), closed)


def explain_user(conn: Connection, org_id: str, user: str, period: Period, catalog: Catalog, now: int,
                 as_of: int | None = None) -> Explanation:
    """Why ``user`` (a user id, or the email a report names a user by) is or is not billed in
    ``period``, cut off at ``now`` (with ``as_of``: as the report said at that instant,
    refused as ``answer_report`` refuses it)."""
    if as_of is not None:
        check_as_of(get_organization(conn, org_id), as_of, now)
    src, now = sources_at(conn, org_id, now, as_of)
    return _explained(conn, org_id, user, period, catalog, now, src)


def _explained(conn: Connection, org_id: str, user: str, period: Period, catalog: Catalog, now: int, src: Sources
               ) -> Explanation:
    user_id = user_named(conn, org_id, user, src) or user
    start, cut = period.start, max(period.start, period.cut_off(now))
    found = user_intervals(conn, org_id, user_id, start, cut, src)
    return explain(user_id, found.display_name, found.sessions, found.holdings, catalog, start, cut)
