"""Writes in flight in a table of their own, pages read in index order, and statistics for the planner

- ``polku_in_flight`` (namespace, key, since; indexed by namespace and since): a claimed write's
  mark, from its claim until a projection has applied it, when the row goes. The marks were a
  column of ``polku_claims``, which keeps one row per statement ever written: without statistics,
  SQLite answered the consistency watermark's question (the oldest write still in flight) by
  reading every claim of the namespace (issue 19). The marks still set are moved over;
  ``polku_claims.in_flight_since`` and its index go.
- ``xapi_statements``' indexes by verb, registration and authority end in (stored, id), the
  order every page is read in: a page of one verb is read from its index in order and stops at
  the page's end, on both databases, instead of walking the stored-time index and filtering
  (PostgreSQL) or sorting the ties of each stored time (SQLite);
- the planner's statistics gathered once (SQLite ``ANALYZE``; PostgreSQL ``ANALYZE``), so that a
  database upgraded from an earlier revision is planned from its real sizes at once; a running
  server keeps them current (lrs/storage/statistics.py).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "polku_in_flight",
        sa.Column("namespace", sa.String(50), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("since", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("namespace", "key"),
    )
    op.create_index("polku_in_flight_since", "polku_in_flight", ["namespace", "since"])
    op.execute(
        "INSERT INTO polku_in_flight (namespace, key, since) "
        "SELECT namespace, key, in_flight_since FROM polku_claims WHERE in_flight_since IS NOT NULL"
    )
    op.drop_index("polku_claims_in_flight", table_name="polku_claims")
    with op.batch_alter_table("polku_claims") as batch:
        batch.drop_column("in_flight_since")
    for name, column in _ORDERED:
        op.drop_index(name, table_name="xapi_statements")
        op.create_index(name, "xapi_statements", [column, "stored", "id"])
    op.execute("ANALYZE")


_ORDERED = [("ix_xapi_statements_verb", "verb_id"), ("ix_xapi_statements_registration", "registration"),
            ("ix_xapi_statements_authority", "authority")]


def downgrade() -> None:
    for name, column in _ORDERED:
        op.drop_index(name, table_name="xapi_statements")
        op.create_index(name, "xapi_statements", [column, "stored"])
    op.add_column("polku_claims", sa.Column("in_flight_since", sa.String(40), nullable=True))
    op.create_index("polku_claims_in_flight", "polku_claims", ["in_flight_since"])
    op.execute(
        "UPDATE polku_claims SET in_flight_since = (SELECT f.since FROM polku_in_flight f "
        "WHERE f.namespace = polku_claims.namespace AND f.key = polku_claims.key)"
    )
    op.drop_index("polku_in_flight_since", table_name="polku_in_flight")
    op.drop_table("polku_in_flight")
