"""Each organization keeps the latest event time of its log (``latest_event_time``): a batch
whose events of a key all come at or after it extends that key's intervals without walking
the log again. An existing log gives it its latest event, voided or not.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("organizations", sa.Column("latest_event_time", sa.BigInteger, nullable=True))
    connection = op.get_bind()
    # One plain update per organization: a correlated update of one distributed table from
    # another is not what every Citus version plans.
    latest = connection.execute(sa.text("SELECT org_id, max(time) FROM events GROUP BY org_id")).all()
    for org_id, time in latest:
        connection.execute(sa.text("UPDATE organizations SET latest_event_time = :time WHERE id = :org"),
                           {"time": time, "org": org_id})


def downgrade() -> None:
    with op.batch_alter_table("organizations") as table:
        table.drop_column("latest_event_time")
