"""The database schema, by migrations: which version a database is at, bringing it to this code's
version, and refusing to run on one that is behind or ahead.

Each table is declared beside the code that uses it (a ``metadata`` in every store and projection
module); the Alembic revisions in ``lrs/storage/migrations/versions`` create and change them. Nothing else
issues DDL: two processes starting at once on a fresh database used to race their CREATE TABLEs,
and a constructor cannot know what an older table looks like.

:func:`upgrade` runs under a lock held for the whole upgrade, so any number of processes may call
it at once: the first applies the pending revisions, the others wait for it and then find nothing
to do.

- PostgreSQL: a session advisory lock taken on the very connection Alembic migrates with (it
  outlives the migration's own transaction and is released when the upgrade ends, or when the
  connection dies).
- SQLite: an exclusive ``flock`` on ``<database file>.migrate.lock``. SQLite's own locks cannot
  serve: its DDL runs outside a transaction here, so nothing of SQLite spans the whole upgrade.

Writing a new revision: change the models, then, on a database at head,
``alembic.command.revision(schema.alembic_config(conn), message=..., autogenerate=True)``; read and
tidy what it writes (explicit operations, never ``create_all``: a revision must stay valid when the
models change again).
"""

from __future__ import annotations

import fcntl
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import OperationalError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: Where a database records its revision (Alembic's ``alembic_version``, under Polku's prefix).
VERSION_TABLE = "polku_schema_version"
#: How long a process waits for another one's upgrade before giving up.
LOCK_TIMEOUT_S = 300.0
#: The PostgreSQL advisory lock key of migrations ("polkumg"; appends use "polku").
_MIGRATION_LOCK_ID = 0x706F6C6B756D67
#: SQLite databases with no file (``:memory:``) lock within this process only.
_IN_PROCESS = threading.Lock()

UPGRADE_HINT = "run `polku db upgrade`"


class SchemaError(RuntimeError):
    """The database's schema is not one this code can run on, or could not be upgraded."""


class SchemaBehind(SchemaError):
    """The database lacks revisions this code needs."""


class SchemaAhead(SchemaError):
    """The database was upgraded by a newer Polku than this one."""


@dataclass(frozen=True)
class Applied:
    revision: str
    description: str


def target_metadata() -> sa.MetaData:
    """Every table Polku keeps, gathered from the modules that own them: what the migrations build."""
    from events import blobs, claims, keyring, sql
    from lrs.stores import credentials, documents
    from lrs.stores import erasures as erasure_records
    from projections import tracking
    from projections.registry import all_projections

    owners = [sql.metadata, claims.metadata, blobs.metadata, documents.metadata, credentials.metadata, tracking.metadata]
    owners += [keyring.metadata, erasure_records.metadata]
    owners += [projection.metadata for projection in all_projections()]
    merged = sa.MetaData()
    for metadata in owners:
        for table in metadata.tables.values():
            if table.name in merged.tables:
                raise RuntimeError(f"two modules declare the table {table.name}")
            table.to_metadata(merged)
    return merged


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """Alembic's configuration, made in code (no alembic.ini): the revisions shipped in the package,
    run on ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.attributes["connection"] = connection
    config.attributes["applied"] = []
    return config


def migration_context(connection: sa.Connection) -> MigrationContext:
    """A context that reads (not changes) the database behind ``connection``: its revision, and
    how its tables differ from the models (``alembic.autogenerate.compare_metadata``)."""
    return MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE, "compare_type": compare_type})


def compare_type(context, inspected_column, metadata_column, inspected_type, metadata_type) -> bool | None:
    """Alembic's type comparison, plus the collation, which Alembic passes over: a byte-wise column
    (``events.sql.bytewise``) that lost its ``C`` collation would sort ids differently on PostgreSQL.
    None leaves the rest of the comparison to Alembic."""
    wanted = getattr(metadata_type.dialect_impl(context.dialect), "collation", None)
    if wanted != getattr(inspected_type, "collation", None):
        return True
    return None


def head() -> str:
    """The revision this code needs."""
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:  # pragma: no cover - a branched history is a mistake to fix before release
        raise RuntimeError(f"the migrations have {len(heads)} heads; merge them")
    return heads[0]


def current(engine: sa.Engine) -> str | None:
    """The revision the database is at (None: it has no Polku schema yet)."""
    with engine.connect() as conn:
        return migration_context(conn).get_current_revision()


def check(engine: sa.Engine) -> None:
    """Insist that the database is at this code's revision.

    Raises :class:`SchemaBehind` (with what to run) or :class:`SchemaAhead`.
    """
    _refuse_unless_at(current(engine), head())


def upgrade(engine: sa.Engine, timeout_s: float = LOCK_TIMEOUT_S) -> list[Applied]:
    """Apply every pending revision, under the migration lock; return what was applied (nothing
    when the database was up to date already). Refuses a database that is ahead of this code."""
    with _migration_lock(engine, timeout_s) as conn:
        at = migration_context(conn).get_current_revision()
        if at == head():
            return []
        if at is not None and not _known(at):
            _refuse_unless_at(at, head())
        config = alembic_config(conn)
        if at is None and _adopt(conn):
            command.stamp(config, _BASELINE)
        conn.commit()  # Alembic begins and commits the migration's own transaction
        command.upgrade(config, "head")
        conn.commit()
        return list(config.attributes["applied"])


def prepare(engine: sa.Engine, migrate: str) -> None:
    """At start-up: bring the schema to this code's revision (``auto``), or only insist that it is
    there (``check``). A database ahead of the code is refused either way."""
    if migrate == "check":
        check(engine)
        return
    for step in upgrade(engine):
        log.info("schema: applied %s (%s)", step.revision, step.description)


def _known(revision: str) -> bool:
    return revision in {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def _refuse_unless_at(at: str | None, needed: str) -> None:
    if at == needed:
        return
    if at is None:
        raise SchemaBehind(f"the database has no Polku schema yet: {UPGRADE_HINT}")
    if not _known(at):
        raise SchemaAhead(
            f"the database is at schema revision {at}, which this Polku does not know: the code is older "
            f"than the database (it needs {needed}). Run the newer Polku that upgraded it."
        )
    raise SchemaBehind(f"the database is at schema revision {at}, this Polku needs {needed}: {UPGRADE_HINT}")


# ---- databases from before migrations ------------------------------------------------------

#: The first revision, which creates exactly the tables ``create_all`` made before migrations.
_BASELINE = "0001"
_BASELINE_TABLES = frozenset({
    "polku_event_log", "polku_claims", "polku_blobs", "xapi_documents",
    "polku_credentials", "polku_projection_positions",
    "xapi_statements", "xapi_statement_agents", "xapi_statement_activities",
    "xapi_voids", "xapi_statement_refs", "cohort_programmes", "cohort_programme_items", "cohort_cohorts",
    "cohort_members", "cohort_member_keys", "cohort_facts", "cohort_fact_contexts", "cohort_voids",
    "cohort_rows", "cohort_guard", "xapi_activity_definitions", "xapi_agent_names",
})


def _adopt(conn: sa.Connection) -> bool:
    """Whether an unversioned database holds the tables a Polku from before migrations made: then it
    is at the baseline already (True). Some of them but not all is a state no revision can start from."""
    present = _BASELINE_TABLES & set(sa.inspect(conn).get_table_names())
    if not present:
        return False
    if present == _BASELINE_TABLES:
        log.warning("schema: the database's tables predate migrations; recording them as revision %s", _BASELINE)
        return True
    raise SchemaError(
        "the database has some of Polku's tables but no schema version, and lacks "
        f"{', '.join(sorted(_BASELINE_TABLES - present))}; upgrade it from an empty database, or add those tables by hand"
    )


# ---- the lock ------------------------------------------------------------------------------

@contextmanager
def _migration_lock(engine: sa.Engine, timeout_s: float) -> Iterator[sa.Connection]:
    """A connection to migrate with, held alone among every process that calls this."""
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine, timeout_s) as conn:
            yield conn
    elif engine.dialect.name == "sqlite":
        with _file_lock(engine.url.database, timeout_s), engine.connect() as conn:
            yield conn
    else:  # pragma: no cover - Polku runs on SQLite and PostgreSQL only
        raise NotImplementedError(f"no migration lock for {engine.dialect.name}")


@contextmanager
def _advisory_lock(engine: sa.Engine, timeout_s: float) -> Iterator[sa.Connection]:
    """A session advisory lock: outlives transactions, so it spans the whole upgrade."""
    with engine.connect() as conn:
        try:
            # lock_timeout bounds the wait, and is local to this transaction only
            conn.execute(sa.select(sa.func.set_config("lock_timeout", f"{int(timeout_s * 1000)}", True)))
            # the lock wait is bounded above; the migration's DDL may take longer than a request may
            conn.execute(sa.select(sa.func.set_config("statement_timeout", "0", False)))
            conn.execute(sa.select(sa.func.pg_advisory_lock(_MIGRATION_LOCK_ID)))
            conn.commit()
        except OperationalError as exc:
            raise SchemaError(f"another process has been upgrading the schema for {timeout_s:.0f} s; try again") from exc
        try:
            yield conn
        finally:
            try:
                conn.rollback()
                conn.execute(sa.select(sa.func.pg_advisory_unlock(_MIGRATION_LOCK_ID)))
                conn.commit()
            except sa.exc.DBAPIError:
                conn.invalidate()  # the session ends, and its lock with it


@contextmanager
def _file_lock(database: str | None, timeout_s: float) -> Iterator[None]:
    """An exclusive ``flock`` beside the database file (each open file is locked on its own, so
    threads of one process exclude each other too)."""
    if not database or database == ":memory:" or "mode=memory" in database:
        with _IN_PROCESS:
            yield
        return
    deadline = time.monotonic() + timeout_s
    with open(f"{database}.migrate.lock", "a") as lock_file:
        while True:
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise SchemaError(f"another process has been upgrading the schema for {timeout_s:.0f} s; try again") from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
