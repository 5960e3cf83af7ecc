"""How the schema spreads over a Citus cluster (docs/operating.md, "Past one machine").

The tenant is the organization: ``organizations`` is distributed by ``id`` and every table
of an organization's data by ``org_id``, colocated with it, so all rows of one
organization live on one worker and every statement that names ``org_id`` runs there as
a single task. Three tables are looked up without knowing the organization:

- ``oauth_clients``, by client id at each login: a reference table, copied to every node
  (few rows, rarely written, read by the token check's join on any worker);
- ``trusts``, by the trustee (a partner listing its trustors) as by the trustor: a reference
  table too;
- ``access_tokens``, by the hash of the token on every request: distributed by that hash,
  in a colocation group of its own, so the check is one task on one worker and a login
  writes one row on one worker (a reference table would write every node).

A migration that adds a table calls ``follow_plan`` for it, so that ``db upgrade`` keeps a
distributed database distributed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from billable.rules.errors import BillingError
from billable.store import request_counts


@dataclass(frozen=True)
class Placement:
    """Distributed by ``column`` (colocated as ``colocate_with`` says), or a reference table."""

    column: str | None = None  # None: a reference table
    colocate_with: str = "organizations"


_BY_ORGANIZATION = Placement("org_id")
PLAN: dict[str, Placement] = {
    "organizations": Placement("id", colocate_with="default"),
    "events": _BY_ORGANIZATION,
    "event_sources": _BY_ORGANIZATION,
    "event_emails": _BY_ORGANIZATION,
    "event_voids": _BY_ORGANIZATION,
    "arrivals": _BY_ORGANIZATION,
    "users": _BY_ORGANIZATION,
    "sessions": _BY_ORGANIZATION,
    "session_weeks": _BY_ORGANIZATION,
    "holdings": _BY_ORGANIZATION,
    "device_days": _BY_ORGANIZATION,
    "computed_reports": _BY_ORGANIZATION,
    "request_counts": _BY_ORGANIZATION,
    "closed_periods": _BY_ORGANIZATION,
    "subscriptions": _BY_ORGANIZATION,
    "alerts": _BY_ORGANIZATION,
    "alert_states": _BY_ORGANIZATION,
    "alert_checks": _BY_ORGANIZATION,
    "webhooks": _BY_ORGANIZATION,
    "webhook_messages": _BY_ORGANIZATION,
    "webhook_attempts": _BY_ORGANIZATION,
    "users_retired": _BY_ORGANIZATION,
    "sessions_retired": _BY_ORGANIZATION,
    "holdings_retired": _BY_ORGANIZATION,
    "device_days_retired": _BY_ORGANIZATION,
    "oauth_clients": Placement(),
    "trusts": Placement(),
    "access_tokens": Placement("token_hash", colocate_with="none"),
}


class CitusMissing(BillingError):
    """The database is not a Citus coordinator."""

    def __init__(self) -> None:
        super().__init__(
            "this database has no citus extension: it is not a Citus coordinator. Install Citus, run "
            "CREATE EXTENSION citus on the coordinator and on every worker, add the workers with "
            "citus_add_node, then distribute (docs/operating.md, 'Past one machine')")


def has_citus(conn: Connection) -> bool:
    if conn.dialect.name != "postgresql":
        return False
    return conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'citus'")).first() is not None


def placed(conn: Connection) -> set[str]:
    """The tables Citus already distributes or copies (of this schema)."""
    rows = conn.execute(text(
        "SELECT c.relname FROM pg_dist_partition p JOIN pg_class c ON c.oid = p.logicalrelid "
        "WHERE c.relnamespace = current_schema()::regnamespace"))
    return {name for (name,) in rows}


def is_distributed(conn: Connection) -> bool:
    """Whether this database is a Citus coordinator whose schema has been distributed."""
    return has_citus(conn) and "organizations" in placed(conn)


_DISTRIBUTED = "billable_distributed"  # is_distributed_here's answer, in a pooled connection's info


def is_distributed_here(conn: Connection) -> bool:
    """``is_distributed``, asked once per connection of the pool (a statement that must stay
    one task on Citus chooses by it on every request)."""
    if conn.dialect.name != "postgresql":
        return False
    info = conn.connection.info
    if _DISTRIBUTED not in info:
        info[_DISTRIBUTED] = is_distributed(conn)
    return bool(info[_DISTRIBUTED])


def distribute(conn: Connection) -> list[str]:
    """Distribute every table of ``PLAN`` not yet placed; the tables placed now, in order.
    Running it again places nothing. Raises ``CitusMissing`` off Citus."""
    if not has_citus(conn):
        raise CitusMissing()
    request_counts.create_counts(conn)  # made on first use elsewhere; distributed with the rest
    already = placed(conn)
    done = []
    for name in PLAN:  # organizations first: the others are colocated with it
        # A table of a later migration is placed by that migration (follow_plan).
        exists = conn.execute(text("SELECT to_regclass(:name) IS NOT NULL"), {"name": name}).scalar_one()
        if name not in already and exists:
            place(conn, name)
            done.append(name)
    return done


def follow_plan(conn: Connection, name: str) -> None:
    """For a migration that adds table ``name``: on a distributed database, place it as
    ``PLAN`` says (elsewhere nothing)."""
    if is_distributed(conn) and name not in placed(conn):
        place(conn, name)


def place(conn: Connection, name: str) -> None:
    """Place table ``name`` as ``PLAN`` says (it is not placed yet)."""
    placement = PLAN[name]
    # Citus moves shards online with logical replication, which an UNLOGGED table (the rate
    # limit's counts, elsewhere) cannot take part in: one would block every move of the
    # organizations' shards it is colocated with. On Citus the counts are logged.
    conn.execute(text(f"ALTER TABLE {name} SET LOGGED"))
    if placement.column is None:
        conn.execute(text("SELECT create_reference_table(:name)"), {"name": name})
    else:
        conn.execute(text("SELECT create_distributed_table(:name, :column, colocate_with => :with)"),
                     {"name": name, "column": placement.column, "with": placement.colocate_with})
    # Rows a table held before are copied to the shards; the coordinator's copy goes.
    conn.execute(text("SELECT truncate_local_data_after_distributing_table(:name)"), {"name": name})
