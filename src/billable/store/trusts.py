"""Trust between organizations (tables.trusts): a trustee reads its trustors' billing overviews."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select

from billable.store.tables import organizations, trusts


@dataclass(frozen=True)
class Trust:
    """``trustor`` lets ``trustee`` read its billing overview, since ``created_at``."""

    trustor_org_id: str
    trustor_name: str
    trustee_org_id: str
    created_at: int
    created_by: str


def add_trust(conn: Connection, trustor: str, trustee: str, now: int, created_by: str) -> bool:
    """Let ``trustee`` read ``trustor``'s overview; False if it already could."""
    if is_trusted(conn, trustor, trustee):
        return False
    conn.execute(insert(trusts).values(trustor_org_id=trustor, trustee_org_id=trustee, created_at=now,
                                       created_by=created_by))
    return True


def remove_trust(conn: Connection, trustor: str, trustee: str) -> bool:
    """Withdraw the trust; False if there was none."""
    t = trusts.c
    return conn.execute(delete(trusts).where(t.trustor_org_id == trustor, t.trustee_org_id == trustee)).rowcount > 0


def is_trusted(conn: Connection, trustor: str, trustee: str) -> bool:
    t = trusts.c
    return conn.execute(select(t.created_at).where(t.trustor_org_id == trustor, t.trustee_org_id == trustee)
                        ).first() is not None


def trusts_of(conn: Connection, trustee: str) -> list[Trust]:
    """The organizations that trust ``trustee``, by name. Two statements, so that on Citus
    each prunes: the trusts (a reference table) on any node, then the organizations named."""
    t, o = trusts.c, organizations.c
    found = conn.execute(select(t.trustor_org_id, t.created_at, t.created_by).where(t.trustee_org_id == trustee)).all()
    names = dict(conn.execute(select(o.id, o.name).where(o.id.in_([row.trustor_org_id for row in found]))).all()) \
        if found else {}
    return sorted((Trust(row.trustor_org_id, names.get(row.trustor_org_id, ""), trustee, row.created_at, row.created_by)
                   for row in found), key=lambda trust: (trust.trustor_name, trust.trustor_org_id))
