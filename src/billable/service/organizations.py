"""Creating organizations and their OAuth clients."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Connection

from billable.rules.catalog import LicensingModel
from billable.rules.errors import FieldProblem, InvalidInput, NotFound
from billable.service.credentials import hash_secret, new_secret
from billable.store import organizations as store

READ_REPORTS = ("billing:subscription:view", "billing:subscription:read")
INGEST_EVENTS = "billing:usage:ingest"
VOID_EVENTS = "billing:events:void"
CLOSE_PERIODS = "billing:period:close"
# A partner's: the billing overview of each organization that trusts it (service/overview.py).
READ_CLIENT_BILLING = "affiliateOrganization:clientBilling:view"
# Alerts and webhooks: create and delete them, and read the webhooks and their deliveries.
MANAGE_ALERTS = "billing:alerts:manage"
PERMISSIONS = (*READ_REPORTS, INGEST_EVENTS, VOID_EVENTS, CLOSE_PERIODS, READ_CLIENT_BILLING, MANAGE_ALERTS)


@dataclass(frozen=True)
class NewClient:
    """A client just created: the only moment its secret is known in clear."""

    client_id: str
    client_secret: str
    org_id: str
    permissions: tuple[str, ...]
    name: str = ""


_MODEL_PROBLEM = FieldProblem("model", "invalid.value", "model must be named, concurrent or hourly")


def create_organization(conn: Connection, name: str, model: str, now: int) -> store.Organization:
    name = name.strip()
    problems = []
    if not name or len(name) > 200:
        problems.append(FieldProblem("name", "invalid.value", "name must have 1 to 200 characters"))
    licensing = _model(model)
    if licensing is None:
        problems.append(_MODEL_PROBLEM)
    if problems or licensing is None:
        raise InvalidInput(problems[0].message, problems)
    org_id = str(uuid.uuid4())
    store.insert_organization(conn, org_id, name, licensing, now)
    return store.Organization(org_id, name, licensing, 0, now, 0)


def change_model(conn: Connection, org_id: str, model: str) -> store.Organization:
    """Bill the organization under another licensing model from now on. Every report is
    computed again under it, closed periods included: a stored report names the model it
    was computed under."""
    licensing = _model(model)
    if licensing is None:
        raise InvalidInput(_MODEL_PROBLEM.message, [_MODEL_PROBLEM])
    if not store.set_model(conn, org_id, licensing):
        raise NotFound("organization", org_id)
    return store.get_organization(conn, org_id)


def _model(name: str) -> LicensingModel | None:
    try:
        return LicensingModel(name)
    except ValueError:
        return None


MAX_CLIENT_NAME = 100


def create_client(conn: Connection, org_id: str, permissions: list[str], now: int, name: str = "") -> NewClient:
    """A new client of the organization, named ``name`` (what people call it: the page says
    who voided an event by it), with ``permissions``."""
    unknown = [p for p in permissions if p not in PERMISSIONS]
    if unknown or not permissions:
        message = f"permissions must be among {', '.join(PERMISSIONS)}" + (f"; unknown: {', '.join(unknown)}" if unknown else "")
        raise InvalidInput(message, [FieldProblem("permission", "invalid.value", message)])
    name = name.strip()
    if len(name) > MAX_CLIENT_NAME or "\x00" in name:
        message = f"a client's name is at most {MAX_CLIENT_NAME} characters"
        raise InvalidInput(message, [FieldProblem("name", "invalid.value", message)])
    store.get_organization(conn, org_id)
    granted = tuple(dict.fromkeys(permissions))
    client = NewClient(str(uuid.uuid4()), new_secret(), org_id, granted, name)
    store.insert_client(conn, client.client_id, org_id, hash_secret(client.client_secret), granted, now, name)
    return client


def revoke_client(conn: Connection, client_id: str, now: int) -> None:
    """Refuse the client from now on: its tokens stop working and it cannot log in."""
    if not store.revoke_client(conn, client_id, now):
        raise NotFound("client", client_id)
