"""Credentials with a life cycle: expiry, last use, revocation, and unique names

- ``polku_credentials.expires``, ``last_used``, ``revoked`` (UTC times, NULL: never / not yet /
  not revoked);
- names unique among credentials not revoked (a partial unique index). Credentials that shared a
  name before get their key added to their name, all but the oldest.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("polku_credentials") as batch:
        batch.add_column(sa.Column("expires", sa.String(40), nullable=True))
        batch.add_column(sa.Column("last_used", sa.String(40), nullable=True))
        batch.add_column(sa.Column("revoked", sa.String(40), nullable=True))
    table = sa.table("polku_credentials", sa.column("key", sa.String), sa.column("name", sa.String), sa.column("created", sa.String))
    conn = op.get_bind()
    seen: set[str] = set()
    for row in conn.execute(sa.select(table.c.key, table.c.name).order_by(table.c.created, table.c.key)).all():
        if row.name in seen:
            conn.execute(table.update().where(table.c.key == row.key).values(name=f"{row.name[:170]} ({row.key})"))
        else:
            seen.add(row.name)
    op.create_index(
        "ix_polku_credentials_name_live", "polku_credentials", ["name"], unique=True,
        sqlite_where=sa.text("revoked IS NULL"), postgresql_where=sa.text("revoked IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_polku_credentials_name_live", table_name="polku_credentials")
    with op.batch_alter_table("polku_credentials") as batch:
        batch.drop_column("revoked")
        batch.drop_column("last_used")
        batch.drop_column("expires")
