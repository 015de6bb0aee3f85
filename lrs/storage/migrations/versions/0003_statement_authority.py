"""The statement store keeps each statement's authority, for the statements/read/mine scope

Existing rows get theirs from the stored statement.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade() -> None:
    op.add_column("xapi_statements", sa.Column("authority", sa.String(300), nullable=True))
    op.create_index("ix_xapi_statements_authority", "xapi_statements", ["authority", "stored"])
    table = sa.table("xapi_statements", sa.column("id", sa.String), sa.column("body", sa.Text), sa.column("authority", sa.String))
    conn = op.get_bind()
    last = ""
    while True:
        rows = conn.execute(sa.select(table.c.id, table.c.body).where(table.c.id > last).order_by(table.c.id).limit(BATCH)).all()
        if not rows:
            break
        for row in rows:
            key = _key((json.loads(row.body) or {}).get("authority"))
            if key:
                conn.execute(table.update().where(table.c.id == row.id).values(authority=key))
        last = rows[-1].id


def _key(agent) -> str | None:
    """As projections.statements.agent_key was when this revision was written (a revision keeps
    its own copy: the code it would import may change)."""
    if not isinstance(agent, dict):
        return None
    if agent.get("mbox"):
        key = "mbox:" + str(agent["mbox"]).lower()
    elif agent.get("mbox_sha1sum"):
        key = "mbox_sha1sum:" + str(agent["mbox_sha1sum"]).lower()
    elif agent.get("openid"):
        key = "openid:" + str(agent["openid"])
    elif isinstance(agent.get("account"), dict) and "homePage" in agent["account"] and "name" in agent["account"]:
        key = f"account:{agent['account']['homePage']}|{agent['account']['name']}"
    else:
        return None
    return key[:300]


def downgrade() -> None:
    op.drop_index("ix_xapi_statements_authority", table_name="xapi_statements")
    with op.batch_alter_table("xapi_statements") as batch:
        batch.drop_column("authority")
