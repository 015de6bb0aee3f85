"""Personal data: data keys per person, the erasure record, and what erasure finds by

- ``polku_data_keys``: each person's data keys, wrapped by the master key (events/keyring.py);
- ``polku_erasures``: who erased whom (by keyed hash only), when, and how much (lrs/erasure.py);
- ``xapi_statement_people``: (statement, person key, is the actor?) for every identified Agent or
  Group a statement names, so an erasure finds a person's statements and mentions by index;
- ``xapi_statement_attachments``: (statement, sha2) of every attachment a statement carries, so
  an erasure deletes the bytes only the erased person's statements referenced.

Statements stored before this revision are indexed by the next ``polku projections rebuild
statements`` (the tables start empty; erasure before that finds nothing of them).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


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


def downgrade() -> None:
    op.drop_table("xapi_statement_attachments")
    op.drop_table("xapi_statement_people")
    op.drop_table("polku_erasures")
    op.drop_table("polku_data_keys")
