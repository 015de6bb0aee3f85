"""Personal data: data keys per person, the erasure record, and what erasure finds by

- ``polku_data_keys``: each person's data keys, wrapped by the master key (events/keyring.py);
- ``polku_erased_people``: the keyed hash of every person an erasure reached (events written before
  sealing name people in clear: opening them honours the erasure by this list);
- ``polku_erasures``: who erased whom (by keyed hash only), when, and how much (lrs/personal_data/erasure.py);
- ``xapi_statement_people``: (statement, person key, is the actor?) for every identified Agent or
  Group a statement names, so an erasure finds a person's statements and mentions by index;
- ``xapi_statement_attachments``: (statement, sha2) of every attachment a statement carries, so
  an erasure deletes the bytes only the erased person's statements referenced.

Statements stored before this revision are indexed here, from the stored statements. (Unlike
0003, this revision uses the pure core's walk, ``schemas.personal.persons_in``, rather than a copy:
the rows must be exactly those the statement store writes, or an erasure would miss what a
rebuild finds.) Their events on the log stay as they were written, in clear.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

import json

import sqlalchemy as sa
from alembic import op

from schemas.personal import persons_in

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade() -> None:
    op.create_table(
        "polku_data_keys",
        sa.Column("kid", sa.String(32), primary_key=True),
        sa.Column("person", sa.String(64), nullable=False),
        sa.Column("wrapped", sa.String(120), nullable=False),
        sa.Column("created", sa.String(40), nullable=False),
        sa.Column("retired", sa.String(40), nullable=True),
    )
    op.create_index("ix_polku_data_keys_person", "polku_data_keys", ["person"])
    op.create_index(
        "ix_polku_data_keys_current", "polku_data_keys", ["person"], unique=True,
        sqlite_where=sa.text("retired IS NULL"), postgresql_where=sa.text("retired IS NULL"),
    )
    op.create_table(
        "polku_erased_people",
        sa.Column("person", sa.String(64), primary_key=True),
        sa.Column("since", sa.String(40), nullable=False),
    )
    op.create_table(
        "polku_erasures",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("person", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("requested", sa.String(40), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("finished", sa.String(40), nullable=True),
        sa.Column("kids", sa.Text, nullable=False),
        sa.Column("statements", sa.Integer, nullable=False),
        sa.Column("mentions", sa.Integer, nullable=False),
        sa.Column("documents", sa.Integer, nullable=False),
        sa.Column("attachments", sa.Integer, nullable=False),
        sa.Column("log_partition", sa.Integer, nullable=True),
        sa.Column("log_offset", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_polku_erasures_person", "polku_erasures", ["person", "requested"])
    op.create_table(
        "xapi_statement_people",
        sa.Column("statement_id", sa.String(36), sa.ForeignKey("xapi_statements.id"), primary_key=True),
        sa.Column("person", sa.String(300), primary_key=True),
        sa.Column("is_actor", sa.Boolean, primary_key=True),
    )
    op.create_index("ix_xapi_statement_people_person", "xapi_statement_people", ["person", "is_actor", "statement_id"])
    op.create_table(
        "xapi_statement_attachments",
        sa.Column("statement_id", sa.String(36), sa.ForeignKey("xapi_statements.id"), primary_key=True),
        sa.Column("sha2", sa.String(128), primary_key=True),
    )
    op.create_index("ix_xapi_statement_attachments_sha2", "xapi_statement_attachments", ["sha2", "statement_id"])
    _index_existing_statements()


def _index_existing_statements() -> None:
    statements = sa.table("xapi_statements", sa.column("id", sa.String), sa.column("body", sa.Text))
    people = sa.table("xapi_statement_people", sa.column("statement_id"), sa.column("person"), sa.column("is_actor"))
    attachments = sa.table("xapi_statement_attachments", sa.column("statement_id"), sa.column("sha2"))
    conn = op.get_bind()
    last = ""
    while True:
        rows = conn.execute(
            sa.select(statements.c.id, statements.c.body).where(statements.c.id > last).order_by(statements.c.id).limit(BATCH)
        ).all()
        if not rows:
            break
        people_rows, attachment_rows = [], []
        for row in rows:
            statement = json.loads(row.body)
            people_rows += [{"statement_id": row.id, "person": k[:300], "is_actor": a} for k, a in sorted(persons_in(statement))]
            hashes = {a["sha2"] for a in statement.get("attachments") or [] if isinstance(a, dict) and isinstance(a.get("sha2"), str)}
            attachment_rows += [{"statement_id": row.id, "sha2": h} for h in sorted(hashes)]
        if people_rows:
            conn.execute(people.insert(), people_rows)
        if attachment_rows:
            conn.execute(attachments.insert(), attachment_rows)
        last = rows[-1].id


def downgrade() -> None:
    op.drop_table("xapi_statement_attachments")
    op.drop_table("xapi_statement_people")
    op.drop_table("polku_erasures")
    op.drop_table("polku_erased_people")
    op.drop_table("polku_data_keys")
