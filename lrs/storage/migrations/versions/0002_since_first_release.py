"""Since the first release: log identity, installation key, dead letters, writes in flight

- ``polku_event_log_identity`` (the embedded log's own id) and ``polku_projected_log`` (the log
  the views were applied from): the log can never silently go backwards (docs/design.md, invariant 8);
- ``polku_server_key``: the key that signs ``more`` tokens;
- ``polku_dead_letters``: events a projection set aside (docs/design.md, invariant 7);
- ``polku_claims.in_flight_since``: when a claimed statement's write began, until the statement
  store applies it; the consistency watermark stays below the oldest (docs/design.md, invariant 9);
- on SQLite, ``polku_event_log`` rebuilt with AUTOINCREMENT, so that an offset is never handed
  out twice, even after the last rows were deleted (PostgreSQL's identity never reuses one).

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
    op.create_table(
        "polku_event_log_identity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("log_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "polku_server_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_hex", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "polku_projected_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identity", sa.String(300), nullable=False),
        sa.Column("recorded", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "polku_dead_letters",
        sa.Column("projection", sa.String(100), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("log_offset", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("error", sa.String(1000), nullable=False),
        sa.Column("set_aside", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("projection", "partition", "log_offset"),
    )
    op.add_column("polku_claims", sa.Column("in_flight_since", sa.String(40), nullable=True))
    op.create_index("polku_claims_in_flight", "polku_claims", ["in_flight_since"])
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("polku_event_log", recreate="always", table_kwargs={"sqlite_autoincrement": True}):
            pass


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("polku_event_log", recreate="always", table_kwargs={"sqlite_autoincrement": False}):
            pass
    op.drop_index("polku_claims_in_flight", table_name="polku_claims")
    with op.batch_alter_table("polku_claims") as batch:
        batch.drop_column("in_flight_since")
    for table in ("polku_dead_letters", "polku_projected_log", "polku_server_key", "polku_event_log_identity"):
        op.drop_table(table)
