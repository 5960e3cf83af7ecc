"""Organizations and their OAuth clients."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, func, select, update

from billable.rules.catalog import LicensingModel
from billable.rules.errors import NotFound
from billable.store.tables import oauth_clients, organizations


@dataclass(frozen=True)
class Organization:
    id: str
    name: str
    model: LicensingModel
    last_seq: int
    created_at: int
    history_since: int  # the sequence from which the derived state keeps its history
    latest_event_time: int | None = None  # of the log, voided events included; None: no events
    earliest_event_time: int | None = None  # likewise


@dataclass(frozen=True)
class OAuthClient:
    client_id: str
    org_id: str
    secret_hash: str
    permissions: tuple[str, ...]
    created_at: int
    revoked_at: int | None
    name: str = ""  # what people call it; '' for a client made before clients had names


def insert_organization(conn: Connection, org_id: str, name: str, model: LicensingModel, now: int) -> None:
    """A new organization; on SQLite numbered after the last (``tables.OrgKey``)."""
    number = (select(func.coalesce(func.max(organizations.c.number), 0) + 1).scalar_subquery()
              if conn.dialect.name == "sqlite" else None)
    conn.execute(organizations.insert().values(id=org_id, name=name, model=model.value, last_seq=0, created_at=now,
                                               number=number))


def _organization(row: Row[Any]) -> Organization:
    return Organization(row.id, row.name, LicensingModel(row.model), row.last_seq, row.created_at, row.history_since,
                        row.latest_event_time, row.earliest_event_time)


def get_organization(conn: Connection, org_id: str, *, lock: bool = False) -> Organization:
    """The organization, or ``NotFound``; ``lock`` holds its row until the transaction ends."""
    query = select(organizations).where(organizations.c.id == org_id)
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise NotFound("organization", org_id)
    return _organization(row)


def list_organizations(conn: Connection) -> list[Organization]:
    """Every organization, by name."""
    return [_organization(row) for row in conn.execute(select(organizations).order_by(organizations.c.name,
                                                                                      organizations.c.id))]


def set_model(conn: Connection, org_id: str, model: LicensingModel) -> bool:
    """Change the organization's licensing model; False when there is no such organization."""
    changed = conn.execute(update(organizations).where(organizations.c.id == org_id).values(model=model.value)
                           .returning(organizations.c.id)).first()
    return changed is not None


def set_last_seq(conn: Connection, org_id: str, last_seq: int) -> None:
    conn.execute(update(organizations).where(organizations.c.id == org_id).values(last_seq=last_seq))


def set_log_end(conn: Connection, org_id: str, last_seq: int, earliest_event_time: int, latest_event_time: int
                ) -> None:
    """After events were appended: the last arrival sequence, the earliest and the latest
    event time."""
    conn.execute(update(organizations).where(organizations.c.id == org_id).values(
        last_seq=last_seq, earliest_event_time=earliest_event_time, latest_event_time=latest_event_time))


def event_times(conn: Connection, org_id: str) -> tuple[int, int] | None:
    """The earliest and the latest event time of the organization's log; None: it is empty."""
    row = conn.execute(select(organizations.c.earliest_event_time, organizations.c.latest_event_time)
                       .where(organizations.c.id == org_id)).first()
    return None if row is None or row[0] is None else (row[0], row[1])


def insert_client(
    conn: Connection, client_id: str, org_id: str, secret_hash: str, permissions: tuple[str, ...], now: int,
    name: str = "",
) -> None:
    conn.execute(
        oauth_clients.insert().values(
            client_id=client_id,
            org_id=org_id,
            secret_hash=secret_hash,
            permissions=" ".join(permissions),
            name=name,
            created_at=now,
        )
    )


def _client(row: Row[Any]) -> OAuthClient:
    return OAuthClient(row.client_id, row.org_id, row.secret_hash, tuple(row.permissions.split()), row.created_at,
                       row.revoked_at, row.name)


def get_client(conn: Connection, client_id: str) -> OAuthClient | None:
    row = conn.execute(select(oauth_clients).where(oauth_clients.c.client_id == client_id)).first()
    return None if row is None else _client(row)


def list_clients(conn: Connection, org_id: str) -> list[OAuthClient]:
    """The organization's clients, oldest first, revoked ones included."""
    query = select(oauth_clients).where(oauth_clients.c.org_id == org_id).order_by(oauth_clients.c.created_at,
                                                                                    oauth_clients.c.client_id)
    return [_client(row) for row in conn.execute(query)]


def revoke_client(conn: Connection, client_id: str, now: int) -> bool:
    """Mark the client revoked; False when there is no such client."""
    result = conn.execute(
        update(oauth_clients).where(oauth_clients.c.client_id == client_id).values(revoked_at=func.coalesce(
            oauth_clients.c.revoked_at, now)).returning(oauth_clients.c.client_id)
    ).first()
    return result is not None
