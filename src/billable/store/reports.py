"""The queries a billable usage report is computed from.

They read only what touches the period: holdings that overlap it, for each holder one
index seek to the first session ending after its start, the sessions of charged users
that overlap it, and device activity inside it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import CTE, Connection, and_, case, func, select, text, tuple_

from billable.rules.catalog import Catalog, UserProduct
from billable.store.sql import greatest, least
from billable.store.tables import events, holdings, sessions, users

_DEVICE_ACTIVE = text("events.type = 'device.active'")  # literal, so the partial index applies


@dataclass(frozen=True, slots=True)
class ChargedUser:
    """A user billable in one family: the charge's rank, and their first session in the period."""

    user_id: str
    display_name: str
    family: str
    rank: int
    first_session: int


def _charged(org_id: str, catalog: Catalog, start: int, cut: int) -> CTE:
    """Per user and family: the highest rank held in ``[start, cut)``, for users logged in then."""
    family = case({p.name: p.family for p in catalog.user_products}, value=holdings.c.product).label("family")
    rank = case({p.name: p.rank for p in catalog.user_products}, value=holdings.c.product)
    held = (
        select(holdings.c.user_id, family, func.max(rank).label("rank"))
        .where(holdings.c.org_id == org_id, holdings.c.started_at < cut, holdings.c.ended_at > start)
        .group_by(holdings.c.user_id, family)
        .cte("held")
    )
    holders = select(held.c.user_id).distinct().subquery("holders")
    first_session = (
        select(sessions.c.started_at)
        .where(sessions.c.org_id == org_id, sessions.c.user_id == holders.c.user_id, sessions.c.ended_at > start)
        .order_by(sessions.c.ended_at)
        .limit(1)
        .scalar_subquery()
    )
    present = select(holders.c.user_id, first_session.label("first_session")).cte("present")
    return (
        select(held.c.user_id, held.c.family, held.c.rank, present.c.first_session)
        .join(present, present.c.user_id == held.c.user_id)
        .where(present.c.first_session < cut)
        .cte("charged")
    )


def charged_users(conn: Connection, org_id: str, catalog: Catalog, start: int, cut: int) -> list[ChargedUser]:
    charged = _charged(org_id, catalog, start, cut)
    query = select(
        charged.c.user_id,
        func.coalesce(users.c.email, charged.c.user_id),
        charged.c.family,
        charged.c.rank,
        charged.c.first_session,
    ).outerjoin(users, and_(users.c.org_id == org_id, users.c.user_id == charged.c.user_id))
    return [ChargedUser(*row) for row in conn.execute(query)]


def _charged_sessions(org_id: str, catalog: Catalog, start: int, cut: int, products: list[UserProduct]):  # type: ignore[no-untyped-def]
    """Sessions of users charged one of ``products``, clipped to ``[start, cut)``."""
    charged = _charged(org_id, catalog, start, cut)
    started = greatest(sessions.c.started_at, start)
    ended = least(sessions.c.ended_at, cut)
    overlapping = and_(
        sessions.c.org_id == org_id,
        sessions.c.user_id == charged.c.user_id,
        sessions.c.ended_at > start,
        sessions.c.started_at < cut,
    )
    chosen = tuple_(charged.c.family, charged.c.rank).in_([(p.family, p.rank) for p in products])
    return charged, started, ended, overlapping, chosen


def charged_session_hours(
    conn: Connection, org_id: str, catalog: Catalog, start: int, cut: int, products: list[UserProduct]
) -> dict[tuple[str, int], int]:
    """Total clipped session milliseconds per charged ``(family, rank)``."""
    charged, started, ended, overlapping, chosen = _charged_sessions(org_id, catalog, start, cut, products)
    query = (
        select(charged.c.family, charged.c.rank, func.sum(ended - started))
        .join(sessions, overlapping)
        .where(chosen)
        .group_by(charged.c.family, charged.c.rank)
    )
    return {(family, rank): int(total) for family, rank, total in conn.execute(query)}


def charged_session_intervals(
    conn: Connection, org_id: str, catalog: Catalog, start: int, cut: int, products: list[UserProduct]
) -> list[tuple[int, int, int]]:
    """``(i, started, ended)`` of every clipped session of users charged ``products[i]``."""
    charged, started, ended, overlapping, chosen = _charged_sessions(org_id, catalog, start, cut, products)
    index = case(
        *[(and_(charged.c.family == p.family, charged.c.rank == p.rank), i) for i, p in enumerate(products)]
    )
    query = select(index, started, ended).join(sessions, overlapping).where(chosen)
    return [tuple(row) for row in conn.execute(query)]  # type: ignore[misc]


def first_device_activity(conn: Connection, org_id: str, start: int, cut: int) -> list[tuple[str, str, int]]:
    """``(device_type, device_id, first active instant)`` for devices active in ``[start, cut)``."""
    query = (
        select(events.c.device_type, events.c.subject, func.min(events.c.time))
        .where(events.c.org_id == org_id, _DEVICE_ACTIVE, events.c.time >= start, events.c.time < cut)
        .group_by(events.c.device_type, events.c.subject)
    )
    return [tuple(row) for row in conn.execute(query)]  # type: ignore[misc]
