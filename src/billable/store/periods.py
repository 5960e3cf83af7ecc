"""Closed periods: kept reports, immutable."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, select

from billable.store.tables import closed_periods


@dataclass(frozen=True)
class ClosedPeriod:
    start: int
    end: int
    closed_at: int
    closed_by: str
    sequence: int  # the organization's sequence the kept report saw
    computed_under: str  # the rules, catalog and model it was computed under


_c = closed_periods.c
_FIELDS = (_c.period_start, _c.period_end, _c.closed_at, _c.closed_by, _c.sequence, _c.computed_under)


def insert_closed(conn: Connection, org_id: str, closed: ClosedPeriod, body: str) -> None:
    conn.execute(closed_periods.insert().values(
        org_id=org_id, period_start=closed.start, period_end=closed.end, closed_at=closed.closed_at,
        closed_by=closed.closed_by, sequence=closed.sequence, computed_under=closed.computed_under, body=body))


def list_closed(conn: Connection, org_id: str) -> list[ClosedPeriod]:
    """The organization's closed periods, earliest first."""
    query = select(*_FIELDS).where(_c.org_id == org_id).order_by(_c.period_start, _c.period_end)
    return [ClosedPeriod(*row) for row in conn.execute(query)]


def overlapping(conn: Connection, org_id: str, start: int, end: int) -> ClosedPeriod | None:
    """A closed period that shares an instant with ``[start, end)``, if one does."""
    query = select(*_FIELDS).where(_c.org_id == org_id, _c.period_start < end, _c.period_end > start).limit(1)
    row = conn.execute(query).first()
    return None if row is None else ClosedPeriod(*row)


def _exactly(org_id: str, start: int, end: int) -> tuple[ColumnElement[bool], ...]:
    return _c.org_id == org_id, _c.period_start == start, _c.period_end == end


def find_closed(conn: Connection, org_id: str, start: int, end: int) -> tuple[ClosedPeriod, str] | None:
    """The closed period ``[start, end)`` and its kept body, if that period is closed."""
    row = conn.execute(select(*_FIELDS, _c.body).where(*_exactly(org_id, start, end))).first()
    return None if row is None else (ClosedPeriod(*row[:-1]), row[-1])


def kept_body(conn: Connection, org_id: str, start: int, end: int) -> str | None:
    """The kept report of exactly ``[start, end)``, if that period is closed."""
    return conn.execute(select(_c.body).where(*_exactly(org_id, start, end))).scalar()
