"""Retention: what expiring old statements needs

- ``cohort_programmes.retention_days``: a programme's own retention (``retentionDays``), or NULL;
- ``cohort_facts.stored``: when the LRS stored the fact's statement, which retention compares with
  its cutoff (facts made before this revision have none: their timestamp stands in);
- ``xapi_agent_names.last_stored``: the latest ``stored`` a name was seen at, so a name still used
  by a retained statement outlives the cutoff (rows made before this revision: the first).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _bytewise(length: int) -> sa.types.TypeEngine:
    """A string compared byte by byte (the ``C`` collation on PostgreSQL), as events.sql.bytewise."""
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("cohort_programmes") as batch:
        batch.add_column(sa.Column("retention_days", sa.Integer, nullable=True))
    with op.batch_alter_table("cohort_facts") as batch:
        batch.add_column(sa.Column("stored", _bytewise(32), nullable=True))
    with op.batch_alter_table("xapi_agent_names") as batch:
        batch.add_column(sa.Column("last_stored", _bytewise(32), nullable=True))
    op.execute("UPDATE xapi_agent_names SET last_stored = first_stored")


def downgrade() -> None:
    with op.batch_alter_table("xapi_agent_names") as batch:
        batch.drop_column("last_stored")
    with op.batch_alter_table("cohort_facts") as batch:
        batch.drop_column("stored")
    with op.batch_alter_table("cohort_programmes") as batch:
        batch.drop_column("retention_days")
