"""Writes in flight: when a claimed statement id's write began, until the statement store applies it

The consistency watermark is held below the oldest write still in flight (DESIGN invariant 9).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("polku_claims", sa.Column("in_flight_since", sa.String(40), nullable=True))
    op.create_index("polku_claims_in_flight", "polku_claims", ["in_flight_since"])


def downgrade() -> None:
    op.drop_index("polku_claims_in_flight", table_name="polku_claims")
    with op.batch_alter_table("polku_claims") as batch:
        batch.drop_column("in_flight_since")
