"""Computed reports shared by every server process, and the lease of who computes one."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, and_, or_, select, update

from billable.store.sql import insert_for
from billable.store.tables import computed_reports, organizations


@dataclass(frozen=True)
class ReportKey:
    org_id: str
    kind: str
    period_start: int
    period_end: int
    subject: str = ""

    def where(self):  # type: ignore[no-untyped-def]
        c = computed_reports.c
        return and_(
            c.org_id == self.org_id,
            c.kind == self.kind,
            c.period_start == self.period_start,
            c.period_end == self.period_end,
            c.subject == self.subject,
        )


@dataclass(frozen=True)
class Lookup:
    """What is known of a report right now."""

    current_version: int
    body: str | None  # a body still valid now, if any
    computing: bool  # someone holds an unexpired lease on the current version


def look_up(conn: Connection, key: ReportKey, now: int, lease_ms: int) -> Lookup:
    """The organization's version, and a stored body if it is still valid."""
    c = computed_reports.c
    query = (
        select(organizations.c.last_seq, c.version, c.body, c.fresh_until, c.computing_version, c.computing_since)
        .select_from(organizations.outerjoin(computed_reports, key.where()))
        .where(organizations.c.id == key.org_id)
    )
    row = conn.execute(query).one()
    valid = row.body is not None and row.version == row.last_seq and (row.fresh_until is None or row.fresh_until > now)
    computing = (
        row.computing_version == row.last_seq and row.computing_since is not None and row.computing_since > now - lease_ms
    )
    return Lookup(row.last_seq, row.body if valid else None, computing)


def claim(conn: Connection, key: ReportKey, version: int, now: int, lease_ms: int) -> bool:
    """Take the lease to compute ``version`` of the report, unless another holds it."""
    insert = insert_for(conn, computed_reports)
    c = computed_reports.c
    free = and_(
        # Nobody stored this version meanwhile (a live report's age is not checked here:
        # the caller saw it stale, and recomputing one twice is harmless) …
        or_(c.version.is_(None), c.version < version, c.fresh_until.is_not(None)),
        # … and nobody holds a live lease on it.
        or_(
            c.computing_since.is_(None),
            c.computing_since <= now - lease_ms,
            c.computing_version.is_(None),
            c.computing_version < version,
        ),
    )
    values = {
        "org_id": key.org_id,
        "kind": key.kind,
        "period_start": key.period_start,
        "period_end": key.period_end,
        "subject": key.subject,
        "computing_version": version,
        "computing_since": now,
    }
    claimed = conn.execute(
        insert.values(**values)
        .on_conflict_do_update(
            index_elements=[c.org_id, c.kind, c.period_start, c.period_end, c.subject],
            set_={"computing_version": version, "computing_since": now},
            where=free,
        )
        .returning(c.computing_since)
    ).first()
    return claimed is not None


def store_body(conn: Connection, key: ReportKey, version: int, body: str, fresh_until: int | None) -> None:
    """Keep a computed body, unless a newer version is already kept; release the lease."""
    c = computed_reports.c
    conn.execute(
        update(computed_reports)
        .where(key.where(), or_(c.version.is_(None), c.version <= version))
        .values(version=version, body=body, fresh_until=fresh_until)
    )
    conn.execute(
        update(computed_reports)
        .where(key.where(), c.computing_version <= version)
        .values(computing_version=None, computing_since=None)
    )


def release(conn: Connection, key: ReportKey, version: int) -> None:
    """Give the lease back without a body (the computation failed)."""
    c = computed_reports.c
    conn.execute(
        update(computed_reports)
        .where(key.where(), c.computing_version == version)
        .values(computing_version=None, computing_since=None)
    )
