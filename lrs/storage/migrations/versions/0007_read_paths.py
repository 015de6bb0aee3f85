"""Read paths: the agent filter served from one index, in stored order

- ``xapi_statement_agents.verb_id`` and ``.stored``: the statement's verb and stored time beside
  each agent key, filled in from ``xapi_statements`` for the rows already there;
- ``ix_xapi_statement_agents_read`` (agent, is_primary, verb_id, stored, statement_id): GET
  /statements with ``agent`` (and ``verb``, ``since``, ``until``, a page's position) reads the
  page's entries from it in order, however many statements the store holds, instead of walking
  every statement of the verb since ``since``; it replaces ``ix_xapi_statement_agents_agent``
  (agent, statement_id), which it makes redundant;
- ``xapi_statements.body``: binary, the statement's JSON deflated (events.sql.DeflatedText), the
  bodies already there deflated in batches (text stored whole would still read as it is);
- on SQLite, the statement store's index tables (agents, activities, people, attachments) become
  WITHOUT ROWID tables: each was a table of rows and, beside it, its primary key's index holding the
  same columns again; now the primary key's tree is the table (PostgreSQL keeps heap and key).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

from events.envelope import deflate, inflate

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _bytewise(length: int) -> sa.types.TypeEngine:
    """A string compared byte by byte (the ``C`` collation on PostgreSQL), as events.sql.bytewise."""
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("xapi_statement_agents") as batch:
        batch.add_column(sa.Column("verb_id", sa.Text, nullable=True))
        batch.add_column(sa.Column("stored", _bytewise(32), nullable=True))
    # a row whose statement is gone could never be returned (queries join the statement): not kept
    op.execute("DELETE FROM xapi_statement_agents WHERE statement_id NOT IN (SELECT id FROM xapi_statements)")
    op.execute(
        "UPDATE xapi_statement_agents SET "
        "verb_id = (SELECT s.verb_id FROM xapi_statements s WHERE s.id = xapi_statement_agents.statement_id), "
        "stored = (SELECT s.stored FROM xapi_statements s WHERE s.id = xapi_statement_agents.statement_id)"
    )
    with op.batch_alter_table("xapi_statement_agents", **_without_rowid()) as batch:
        batch.alter_column("verb_id", existing_type=sa.Text, nullable=False)
        batch.alter_column("stored", existing_type=_bytewise(32), nullable=False)
        batch.drop_index("ix_xapi_statement_agents_agent")
        batch.create_index("ix_xapi_statement_agents_read", ["agent", "is_primary", "verb_id", "stored", "statement_id"])
    if _sqlite():
        for table in ROWID_FREE[1:]:
            with op.batch_alter_table(table, **_without_rowid()):
                pass
    with op.batch_alter_table("xapi_statements") as batch:
        batch.alter_column("body", type_=sa.LargeBinary, existing_type=sa.Text, existing_nullable=False,
                           postgresql_using="convert_to(body, 'UTF8')")
    _rewrite_bodies(lambda body: deflate(bytes(body) if not isinstance(body, str) else body.encode("utf-8")))


BATCH = 1000


def _rewrite_bodies(change) -> None:
    """Every statement's body through ``change``, a batch at a time in id order."""
    statements = sa.table("xapi_statements", sa.column("id", sa.String), sa.column("body", sa.LargeBinary))
    conn = op.get_bind()
    last = ""
    while True:
        rows = conn.execute(
            sa.select(statements.c.id, statements.c.body).where(statements.c.id > last).order_by(statements.c.id).limit(BATCH)
        ).all()
        if not rows:
            return
        conn.execute(
            statements.update().where(statements.c.id == sa.bindparam("key")).values(body=sa.bindparam("new_body")),
            [{"key": row.id, "new_body": change(row.body)} for row in rows],
        )
        last = rows[-1].id


#: the tables that are WITHOUT ROWID on SQLite from this revision on
ROWID_FREE = ("xapi_statement_agents", "xapi_statement_activities", "xapi_statement_people", "xapi_statement_attachments")


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _without_rowid(rowid: bool = False) -> dict:
    """On SQLite, the batch arguments that rebuild a table with or without its rowid."""
    return {"recreate": "always", "table_kwargs": {"sqlite_with_rowid": rowid}} if _sqlite() else {}


def downgrade() -> None:
    _rewrite_bodies(lambda body: inflate(bytes(body) if not isinstance(body, str) else body.encode("utf-8")))
    with op.batch_alter_table("xapi_statements") as batch:
        batch.alter_column("body", type_=sa.Text, existing_type=sa.LargeBinary, existing_nullable=False,
                           postgresql_using="convert_from(body, 'UTF8')")
    if _sqlite():
        for table in ROWID_FREE[1:]:
            with op.batch_alter_table(table, **_without_rowid(rowid=True)):
                pass
    with op.batch_alter_table("xapi_statement_agents", **_without_rowid(rowid=True)) as batch:
        batch.drop_index("ix_xapi_statement_agents_read")
        batch.create_index("ix_xapi_statement_agents_agent", ["agent", "statement_id"])
        batch.drop_column("stored")
        batch.drop_column("verb_id")
