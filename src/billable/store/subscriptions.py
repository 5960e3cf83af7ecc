"""Subscriptions as they were set, each kept (tables.subscriptions)."""

from __future__ import annotations

from sqlalchemy import Connection, Select, insert, select

from billable.store.tables import subscriptions

_s = subscriptions.c


def add_subscription(conn: Connection, org_id: str, set_at: int, set_by: str, document: str) -> None:
    """Keep ``document`` as the organization's subscription from ``set_at`` on; one set in
    the same millisecond as an earlier one replaces it."""
    conn.execute(subscriptions.delete().where(_s.org_id == org_id, _s.set_at == set_at))
    conn.execute(insert(subscriptions).values(org_id=org_id, set_at=set_at, set_by=set_by, document=document))


def subscription_then(conn: Connection, org_id: str, instant: int) -> tuple[int, str, str] | None:
    """The subscription in effect at ``instant`` (the last set at or before it): when it was
    set, by whom, and its document; None if the organization had none."""
    return _first(conn, _kept(org_id).where(_s.set_at <= instant).order_by(_s.set_at.desc()))


def first_subscription(conn: Connection, org_id: str) -> tuple[int, str, str] | None:
    """The first subscription the organization was given, as ``subscription_then`` answers."""
    return _first(conn, _kept(org_id).order_by(_s.set_at))


def _kept(org_id: str) -> Select[tuple[int, str, str]]:
    return select(_s.set_at, _s.set_by, _s.document).where(_s.org_id == org_id)


def _first(conn: Connection, query: Select[tuple[int, str, str]]) -> tuple[int, str, str] | None:
    found = conn.execute(query.limit(1)).first()
    return None if found is None else (found.set_at, found.set_by, found.document)
