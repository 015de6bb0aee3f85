"""Alembic's environment for Polku: migrate on the connection :func:`lrs.storage.schema.upgrade` hands
over (it holds the migration lock), towards the tables every module declares.

There is no offline (``--sql``) mode and no URL of its own: the schema module is the only caller.
"""

from alembic import context

from lrs.storage import schema

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Polku's migrations run through lrs.storage.schema (polku db upgrade), on a connection it gives")


def _record(ctx, step, heads, run_args) -> None:
    """Keep what each step did, for ``polku db upgrade`` to print."""
    revision = step.up_revision
    if revision is not None and step.is_upgrade:
        description = "recorded, tables there already" if step.is_stamp else (revision.doc or "").strip()
        config.attributes["applied"].append(schema.Applied(revision.revision, description))


context.configure(
    connection=connection,
    target_metadata=schema.target_metadata(),
    version_table=schema.VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    compare_type=schema.compare_type,
    on_version_apply=_record,
)
with context.begin_transaction():
    context.run_migrations()
