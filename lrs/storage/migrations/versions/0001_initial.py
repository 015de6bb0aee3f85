"""The tables Polku kept before it had migrations

Exactly what each store's and projection's ``create_all`` made until then (Polku as released at
f25f087), grouped by the module that owns the tables, with the seed row of ``cohort_guard``. Types are spelled out here rather
than taken from the models: this revision must keep building the same tables when they change.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _bytewise(length: int) -> sa.types.TypeEngine:
    """A string compared byte by byte (the ``C`` collation on PostgreSQL), as events.sql.bytewise."""
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def upgrade() -> None:
    # ---- events/: the embedded log and its identity, claims, blobs ----
    op.create_table(
        "polku_event_log",
        sa.Column("log_offset", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("log_offset"),
    )
    op.create_table(
        "polku_claims",
        sa.Column("namespace", sa.String(50), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("fingerprint", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("namespace", "key"),
    )
    op.create_table(
        "polku_blobs",
        sa.Column("digest", sa.String(128), nullable=False),
        sa.Column("length", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("digest"),
    )

    # ---- lrs/: documents, credentials and the installation's signing key ----
    op.create_table(
        "xapi_documents",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("activity_id", sa.Text(), nullable=False),
        sa.Column("agent", sa.Text(), nullable=False),
        sa.Column("registration", sa.String(36), nullable=False),
        sa.Column("document_id", sa.Text(), nullable=False),
        sa.Column("content_type", sa.Text(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("etag", sa.String(40), nullable=False),
        sa.Column("updated", _bytewise(32), nullable=False),
        sa.Column("revision", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_xapi_documents_scope", "xapi_documents", ["scope", "updated"])
    op.create_table(
        "polku_credentials",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("salt", sa.String(64), nullable=False),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        sa.Column("scopes", sa.String(500), nullable=False),
        sa.Column("created", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )

    # ---- projections/tracking.py: positions, the log they belong to, dead letters ----
    op.create_table(
        "polku_projection_positions",
        sa.Column("projection", sa.String(100), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        sa.Column("last_recorded", sa.String(40), nullable=True),
        sa.PrimaryKeyConstraint("projection", "partition"),
    )

    # ---- projections/statements.py: the statement store ----
    op.create_table(
        "xapi_statements",
        sa.Column("id", _bytewise(36), nullable=False),
        sa.Column("stored", _bytewise(32), nullable=False),
        sa.Column("verb_id", sa.Text(), nullable=False),
        sa.Column("registration", sa.String(36), nullable=True),
        sa.Column("voided", sa.Boolean(), nullable=False),
        sa.Column("voids", sa.String(36), nullable=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_xapi_statements_stored", "xapi_statements", ["stored", "id"])
    op.create_index("ix_xapi_statements_verb", "xapi_statements", ["verb_id", "stored"])
    op.create_index("ix_xapi_statements_registration", "xapi_statements", ["registration", "stored"])
    op.create_table(
        "xapi_statement_agents",
        sa.Column("statement_id", sa.String(36), nullable=False),
        sa.Column("agent", sa.Text(), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["statement_id"], ["xapi_statements.id"]),
        sa.PrimaryKeyConstraint("statement_id", "agent", "is_primary"),
    )
    op.create_index("ix_xapi_statement_agents_agent", "xapi_statement_agents", ["agent", "statement_id"])
    op.create_table(
        "xapi_statement_activities",
        sa.Column("statement_id", sa.String(36), nullable=False),
        sa.Column("activity", sa.Text(), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["statement_id"], ["xapi_statements.id"]),
        sa.PrimaryKeyConstraint("statement_id", "activity", "is_primary"),
    )
    op.create_index("ix_xapi_statement_activities_activity", "xapi_statement_activities", ["activity", "statement_id"])
    op.create_table(
        "xapi_voids",
        sa.Column("target_id", sa.String(36), nullable=False),
        sa.Column("voiding_id", sa.String(36), nullable=False),
        sa.PrimaryKeyConstraint("target_id"),
    )
    op.create_table(
        "xapi_statement_refs",
        sa.Column("statement_id", sa.String(36), nullable=False),
        sa.Column("target_id", sa.String(36), nullable=False),
        sa.PrimaryKeyConstraint("statement_id", "target_id"),
    )
    op.create_index("ix_xapi_statement_refs_target", "xapi_statement_refs", ["target_id", "statement_id"])

    # ---- projections/cohorts.py: programmes, cohorts, statement facts, the guard ----
    op.create_table(
        "cohort_programmes",
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("defined", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "cohort_programme_items",
        sa.Column("programme_key", sa.String(100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("activity", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("due", sa.String(10), nullable=True),
        sa.Column("measure", sa.String(4), nullable=True),
        sa.PrimaryKeyConstraint("programme_key", "position"),
    )
    op.create_index("ix_cohort_programme_items_activity", "cohort_programme_items", ["programme_key", "activity"])
    op.create_table(
        "cohort_cohorts",
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("programme_key", sa.String(100), nullable=False),
        sa.Column("iri", sa.Text(), nullable=False),
        sa.Column("starts", sa.String(10), nullable=False),
        sa.Column("ends", sa.String(10), nullable=False),
        sa.Column("defined", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_cohort_cohorts_iri", "cohort_cohorts", ["iri"])
    op.create_index("ix_cohort_cohorts_programme", "cohort_cohorts", ["programme_key"])
    op.create_table(
        "cohort_members",
        sa.Column("cohort_key", sa.String(100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("agent", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("cohort_key", "position"),
    )
    op.create_table(
        "cohort_member_keys",
        sa.Column("cohort_key", sa.String(100), nullable=False),
        sa.Column("ifi", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("cohort_key", "ifi"),
    )
    op.create_index("ix_cohort_member_keys_ifi", "cohort_member_keys", ["ifi", "cohort_key"])
    op.create_table(
        "cohort_facts",
        sa.Column("statement_id", sa.String(36), nullable=False),
        sa.Column("actor", sa.Text(), nullable=True),
        *_fact_columns(),
        sa.PrimaryKeyConstraint("statement_id"),
    )
    op.create_index("ix_cohort_facts_actor", "cohort_facts", ["actor"])
    op.create_index("ix_cohort_facts_object", "cohort_facts", ["object_id", "actor"])
    op.create_table(
        "cohort_fact_contexts",
        sa.Column("statement_id", sa.String(36), nullable=False),
        sa.Column("relation", sa.String(8), nullable=False),
        sa.Column("activity", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("statement_id", "relation", "activity"),
    )
    op.create_index("ix_cohort_fact_contexts_activity", "cohort_fact_contexts", ["activity", "relation", "statement_id"])
    op.create_table(
        "cohort_voids",
        sa.Column("target_id", sa.String(36), nullable=False),
        sa.Column("voiding_id", sa.String(36), nullable=False),
        sa.PrimaryKeyConstraint("target_id"),
    )
    op.create_table(
        "cohort_rows",
        sa.Column("cohort_key", sa.String(100), nullable=False),
        sa.Column("statement_id", _bytewise(36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=True),
        *_fact_columns(),
        sa.PrimaryKeyConstraint("cohort_key", "statement_id"),
    )
    op.create_index(
        "ix_cohort_rows_member", "cohort_rows", ["cohort_key", "position", "day", "at", "contributes", "completes", "object_id"]
    )
    op.create_index("ix_cohort_rows_week", "cohort_rows", ["cohort_key", "week", "position", "contributes", "day"])
    op.create_index(
        "ix_cohort_rows_object",
        "cohort_rows",
        ["cohort_key", "object_id", "position", "at", "statement_id", "success", "scaled", "completes", "day"],
    )
    op.create_index("ix_cohort_rows_statement", "cohort_rows", ["statement_id"])
    guard = op.create_table(
        "cohort_guard",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(guard, [{"id": 1, "revision": 0}])  # the one row whose lock the cohort projection takes

    # ---- projections/activities.py and agents.py ----
    op.create_table(
        "xapi_activity_definitions",
        sa.Column("activity_hash", sa.String(64), nullable=False),
        sa.Column("definition_hash", sa.String(64), nullable=False),
        sa.Column("activity_id", sa.Text(), nullable=False),
        sa.Column("stored", _bytewise(32), nullable=False),
        sa.Column("statement_id", _bytewise(36), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("activity_hash", "definition_hash"),
    )
    op.create_table(
        "xapi_agent_names",
        sa.Column("agent_hash", sa.String(64), nullable=False),
        sa.Column("name_hash", sa.String(64), nullable=False),
        sa.Column("agent", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("first_stored", _bytewise(32), nullable=False),
        sa.PrimaryKeyConstraint("agent_hash", "name_hash"),
    )


def _fact_columns() -> list[sa.Column]:
    """The columns a statement fact and a cohort row share."""
    return [
        sa.Column("at", sa.String(27), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("week", sa.String(8), nullable=False),
        sa.Column("object_id", sa.Text(), nullable=True),
        sa.Column("completes", sa.Boolean(), nullable=False),
        sa.Column("contributes", sa.Boolean(), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=True),
        sa.Column("scaled", sa.Float(), nullable=True),
    ]


def downgrade() -> None:
    """Drop every table (their indexes go with them), dependents first."""
    for table in (
        "xapi_agent_names", "xapi_activity_definitions",
        "cohort_guard", "cohort_rows", "cohort_voids", "cohort_fact_contexts", "cohort_facts",
        "cohort_member_keys", "cohort_members", "cohort_cohorts", "cohort_programme_items", "cohort_programmes",
        "xapi_statement_refs", "xapi_voids", "xapi_statement_activities", "xapi_statement_agents", "xapi_statements",
        "polku_projection_positions",
        "polku_credentials", "xapi_documents",
        "polku_blobs", "polku_claims", "polku_event_log",
    ):
        op.drop_table(table)
