"""Trust between organizations: a partner (the trustee) reads the billing overview of each
organization that trusts it (the trustor), and of no other."""

from __future__ import annotations

from sqlalchemy import Connection

from billable.rules.errors import FieldProblem, InvalidInput, NotPermitted
from billable.service.organizations import READ_CLIENT_BILLING, READ_REPORTS
from billable.store import trusts as store
from billable.store.organizations import get_organization
from billable.store.trusts import Trust


def trust(conn: Connection, trustor: str, trustee: str, now: int, created_by: str) -> bool:
    """Let ``trustee`` read ``trustor``'s billing overview; False if it already could."""
    if trustor == trustee:
        message = "an organization reads its own overview with its own clients: trust another one"
        raise InvalidInput(message, [FieldProblem("trustee", "invalid.value", message)])
    get_organization(conn, trustor, lock=True)
    get_organization(conn, trustee)
    return store.add_trust(conn, trustor, trustee, now, created_by)


def untrust(conn: Connection, trustor: str, trustee: str) -> bool:
    """Withdraw the trust; False if there was none."""
    get_organization(conn, trustor, lock=True)
    return store.remove_trust(conn, trustor, trustee)


def trustors(conn: Connection, trustee: str) -> list[Trust]:
    """The organizations that trust ``trustee``, by name."""
    get_organization(conn, trustee)
    return store.trusts_of(conn, trustee)


def check_overview_reader(conn: Connection, reader_org: str, permissions: tuple[str, ...], trustor: str) -> None:
    """``NotPermitted`` unless a client of ``reader_org`` holding ``permissions`` may read
    ``trustor``'s billing overview: its own, with a permission to read reports, or one of an
    organization that trusts it, with ``READ_CLIENT_BILLING``. Whether ``trustor`` exists is
    not said to a reader who may not read it."""
    if reader_org == trustor and set(READ_REPORTS) & set(permissions):
        return
    if READ_CLIENT_BILLING in permissions and reader_org != trustor and store.is_trusted(conn, trustor, reader_org):
        return
    raise NotPermitted(f"organization {trustor!r} does not trust this client's organization with its billing, "
                       f"or the client lacks {READ_CLIENT_BILLING} (its own: {' or '.join(READ_REPORTS)})")
