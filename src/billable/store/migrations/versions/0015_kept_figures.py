"""A closed period keeps its report's figures in the store's own form (``kept``,
``store/periods.KEPT_FORM``) instead of the API's body (``body``): the body is written from
them when it is served. Every kept body is read into that form, its figures unchanged.

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Row

from billable.rules.instants import Period, parse_instant
from billable.rules.json_text import compact_json, parse_json

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_ROW = "org_id, period_start, period_end, closed_at, closed_by, sequence"
_KEY = "org_id = :org_id AND period_start = :period_start AND period_end = :period_end"


def _rewrite(source: str, target: str, rewrite: Callable[[Row[Any], Any], str]) -> None:
    """Fill ``target`` of every closed period from ``source``, one plain update a period (Citus)."""
    op.add_column("closed_periods", sa.Column(target, sa.Text, nullable=True))
    connection = op.get_bind()
    for row in connection.execute(sa.text(f"SELECT {_ROW}, {source} FROM closed_periods")).all():
        connection.execute(sa.text(f"UPDATE closed_periods SET {target} = :value WHERE {_KEY}"),
                           {"value": rewrite(row, parse_json(row[-1])), "org_id": row.org_id,
                            "period_start": row.period_start, "period_end": row.period_end})
    with op.batch_alter_table("closed_periods") as table:
        table.alter_column(target, existing_type=sa.Text, nullable=False)
        table.drop_column(source)


def _kept(row: Row[Any], body: dict[str, Any]) -> str:
    usages = [[u["name"], u["totalUsage"], [[r["name"], parse_instant(r["date"])] for r in u["resources"]]]
              for u in body["usages"]]
    return compact_json({"form": 1, "usages": usages}).decode()


def _body(row: Row[Any], kept: dict[str, Any]) -> str:
    """The body as 0014 kept it: the API's, with its closed mark, written by this release's
    writer (the shape 0014 served)."""
    from billable.store.periods import ClosedPeriod, kept_figures
    from billable.wire.writers import api_body, closed_mark

    period = Period(row.period_start, row.period_end)
    closed = ClosedPeriod(row.period_start, row.period_end, row.closed_at, row.closed_by, row.sequence, "")
    body = api_body(row.org_id, kept_figures(period, compact_json(kept)))
    return compact_json({**body, "closed": closed_mark(closed)}).decode()


def upgrade() -> None:
    _rewrite("body", "kept", _kept)


def downgrade() -> None:
    _rewrite("kept", "body", _body)
