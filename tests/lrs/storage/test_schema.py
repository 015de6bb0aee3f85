"""The schema comes from the migrations: they build exactly the tables the models declare, an
upgrade is idempotent and safe when many processes run it at once, and a database behind or ahead
of the code is named as such (with what to run) before anything starts on it."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import threading

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata

from events.sql import make_engine
from lrs.storage import schema
from lrs.app import create_app
from lrs.services import build_services
from lrs.config.settings import Settings, SettingsError
from tests.fixtures.databases import MASTER_KEY
from tests.fixtures.server import POLKU, ROOT


def differences(engine: sa.Engine) -> list:
    with engine.connect() as conn:
        return compare_metadata(schema.migration_context(conn), schema.target_metadata())


def tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names()) - {schema.VERSION_TABLE}


def stamp(engine: sa.Engine, revision: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {schema.VERSION_TABLE} SET version_num = :r"), {"r": revision})


# ---- the migrations build the models ------------------------------------------------------------

def test_the_migrations_build_exactly_the_tables_the_models_declare(blank_engine):
    schema.upgrade(blank_engine)
    assert differences(blank_engine) == []
    assert tables(blank_engine) == set(schema.target_metadata().tables)


def test_the_comparison_sees_a_lost_bytewise_collation_and_a_missing_index(engine):
    """The check above would notice drift: a changed type (on PostgreSQL, the ``C`` collation of
    a byte-wise column, which Alembic alone passes over) and a dropped index."""
    with engine.begin() as conn:
        conn.execute(sa.text("DROP INDEX ix_cohort_rows_week"))
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text('ALTER TABLE xapi_statements ALTER COLUMN stored TYPE VARCHAR(32) COLLATE "default"'))
    found = set()
    for diff in differences(engine):
        if isinstance(diff, list):  # column changes come as a list of (kind, schema, table, column, ...)
            found.update((kind, table) for kind, _schema, table, *_ in diff)
        else:  # (kind, object)
            found.add((diff[0], diff[1].name))
    assert ("add_index", "ix_cohort_rows_week") in found
    if engine.dialect.name == "postgresql":
        assert ("modify_type", "xapi_statements") in found


def test_the_cohort_guard_row_is_there_after_the_migrations(engine):
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT id, revision FROM cohort_guard")).all() == [(1, 0)]


def test_the_initial_revision_downgrades_to_an_empty_database(engine):
    with engine.connect() as conn:
        command.downgrade(schema.alembic_config(conn), "base")
        conn.commit()
    assert tables(engine) == set()
    assert schema.current(engine) is None


# ---- upgrade, current, check --------------------------------------------------------------------

REVISIONS = ["0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008"]


def test_upgrade_applies_the_pending_revisions_once_and_then_nothing(blank_engine):
    assert REVISIONS[-1] == schema.head()
    assert [step.revision for step in schema.upgrade(blank_engine)] == REVISIONS
    assert schema.upgrade(blank_engine) == []
    assert schema.current(blank_engine) == schema.head()
    schema.check(blank_engine)


def test_an_empty_database_is_behind_and_check_names_polku_db_upgrade(blank_engine):
    assert schema.current(blank_engine) is None
    with pytest.raises(schema.SchemaBehind, match="polku db upgrade"):
        schema.check(blank_engine)


def test_a_database_at_a_revision_this_code_does_not_know_is_ahead_and_refused(engine):
    stamp(engine, "9999_from_the_future")
    with pytest.raises(schema.SchemaAhead, match="older than the database"):
        schema.check(engine)
    with pytest.raises(schema.SchemaAhead, match="older than the database"):
        schema.upgrade(engine)
    assert schema.current(engine) == "9999_from_the_future"


def test_a_database_made_before_migrations_is_recorded_at_the_first_revision(blank_engine):
    # what every constructor used to do: the tables of the first revision, and no version
    with blank_engine.begin() as conn:
        command.upgrade(schema.alembic_config(conn), "0001")
        conn.execute(sa.text(f"DROP TABLE {schema.VERSION_TABLE}"))
    applied = schema.upgrade(blank_engine)
    assert [step.revision for step in applied] == REVISIONS and "recorded" in applied[0].description
    assert schema.current(blank_engine) == schema.head()
    assert differences(blank_engine) == []


def test_a_database_with_only_some_of_the_old_tables_is_refused_naming_the_missing_ones(blank_engine):
    metadata = schema.target_metadata()
    metadata.tables["polku_credentials"].create(blank_engine)
    with pytest.raises(schema.SchemaError, match="polku_event_log"):
        schema.upgrade(blank_engine)
    assert tables(blank_engine) == {"polku_credentials"}


# ---- many at once ---------------------------------------------------------------------------------

def test_threads_upgrading_a_fresh_database_at_once_all_succeed(database_url):
    engines = [make_engine(database_url) for _ in range(8)]
    start = threading.Barrier(len(engines))
    results: list = []

    def run(engine):
        start.wait()
        try:
            results.append(schema.upgrade(engine))
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            results.append(exc)

    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert not [r for r in results if isinstance(r, BaseException)], results
        assert sorted(len(r) for r in results) == [0] * 7 + [len(REVISIONS)], "exactly one applied the revisions"
        assert differences(engines[0]) == []
    finally:
        for e in engines:
            e.dispose()


def test_processes_running_polku_db_upgrade_at_once_on_a_fresh_database_all_succeed(database_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLKU_")} | {"POLKU_DATABASE_URL": database_url, "POLKU_MASTER_KEY": MASTER_KEY}
    procs = [
        subprocess.Popen(POLKU + ["db", "upgrade"], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, outputs
    assert sum("applied 0003" in out for out in outputs) == 1, outputs
    assert sum("up to date" in out for out in outputs) == 3, outputs
    engine = make_engine(database_url)
    try:
        assert differences(engine) == []
    finally:
        engine.dispose()


# ---- at start-up ----------------------------------------------------------------------------------

def test_services_in_auto_mode_migrate_a_fresh_database(database_url):
    services = build_services(Settings(database_url=database_url, master_key=MASTER_KEY, run_projections=False))
    try:
        schema.check(services.engine)
        assert services.credentials.list() == []
    finally:
        services.close()


def test_services_in_check_mode_refuse_a_database_that_is_behind_naming_polku_db_upgrade(blank_engine, database_url):
    with pytest.raises(schema.SchemaBehind, match="polku db upgrade"):
        build_services(Settings(database_url=database_url, master_key=MASTER_KEY, migrate="check"))
    assert tables(blank_engine) == set(), "check mode changes nothing"


def test_services_in_check_mode_start_on_a_database_at_head(engine, database_url):
    services = build_services(Settings(database_url=database_url, master_key=MASTER_KEY, migrate="check", run_projections=False))
    services.close()


@pytest.mark.parametrize("migrate", ["auto", "check"])
def test_services_refuse_a_database_ahead_of_the_code_in_either_mode(engine, database_url, migrate):
    stamp(engine, "9999_from_the_future")
    with pytest.raises(schema.SchemaAhead, match="older than the database"):
        build_services(Settings(database_url=database_url, master_key=MASTER_KEY, migrate=migrate))


def test_the_app_factory_migrates_a_fresh_database(database_url):
    app = create_app(Settings(database_url=database_url, master_key=MASTER_KEY, run_projections=False))
    try:
        assert app.test_client().get("/xapi/about").status_code == 200
        schema.check(app.extensions["polku"].engine)
    finally:
        app.extensions["polku"].close()


def test_polku_migrate_is_auto_by_default_and_accepts_only_auto_or_check():
    assert Settings.from_env({}).migrate == "auto"
    assert Settings.from_env({"POLKU_MIGRATE": "check"}).migrate == "check"
    with pytest.raises(SettingsError, match="POLKU_MIGRATE"):
        Settings.from_env({"POLKU_MIGRATE": "sometimes"})


def test_a_database_at_the_first_revision_upgrades_keeping_its_claims(blank_engine):
    with blank_engine.begin() as conn:
        command.upgrade(schema.alembic_config(conn), "0001")
        conn.execute(sa.text("INSERT INTO polku_claims (namespace, key, fingerprint) VALUES ('statement-id', 'a', 'f')"))
    assert [step.revision for step in schema.upgrade(blank_engine)] == REVISIONS[1:]
    with blank_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT key, fingerprint FROM polku_claims")).all() == [("a", "f")]
        assert conn.execute(sa.text("SELECT count(*) FROM polku_in_flight")).scalar_one() == 0
    assert differences(blank_engine) == []


def test_0008_moves_the_writes_still_in_flight_out_of_the_claims(blank_engine):
    """A mark set before 0008 still holds the watermark below its write after the upgrade; an
    applied write (no mark) leaves no row behind."""
    with blank_engine.begin() as conn:
        command.upgrade(schema.alembic_config(conn), "0007")
        conn.execute(sa.text(
            "INSERT INTO polku_claims (namespace, key, fingerprint, in_flight_since) VALUES "
            "('statement-id', 'flying', 'f1', '2026-12-08T10:00:00.000000Z'), ('statement-id', 'landed', 'f2', NULL)"
        ))
    schema.upgrade(blank_engine)
    with blank_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT key, fingerprint FROM polku_claims ORDER BY key")).all() == [("flying", "f1"), ("landed", "f2")]
        assert conn.execute(sa.text("SELECT namespace, key, since FROM polku_in_flight")).all() == [
            ("statement-id", "flying", "2026-12-08T10:00:00.000000Z")]
    assert differences(blank_engine) == []


def test_statements_stored_before_0003_get_their_authority(blank_engine):
    body = '{"id": "s1", "authority": {"objectType": "Agent", "account": {"homePage": "https://h.example", "name": "k1"}}}'
    with blank_engine.begin() as conn:
        command.upgrade(schema.alembic_config(conn), "0002")
        conn.execute(sa.text(
            "INSERT INTO xapi_statements (id, stored, verb_id, voided, fingerprint, body) "
            "VALUES ('s1', '2026-01-01T00:00:00.000000Z', 'v', false, 'f', :body)"
        ), {"body": body})
    schema.upgrade(blank_engine)
    with blank_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT authority FROM xapi_statements")).scalar() == "account:https://h.example|k1"


def test_credentials_sharing_a_name_before_0004_keep_working_under_unique_names(blank_engine):
    with blank_engine.begin() as conn:
        command.upgrade(schema.alembic_config(conn), "0003")
        for key, created in (("k2", "2026-01-02"), ("k1", "2026-01-01")):
            conn.execute(sa.text(
                "INSERT INTO polku_credentials (key, name, salt, secret_sha256, scopes, created) "
                "VALUES (:key, 'lms', 's', 'h', 'all', :created)"
            ), {"key": key, "created": created})
    schema.upgrade(blank_engine)
    with blank_engine.connect() as conn:
        names = dict(conn.execute(sa.text("SELECT key, name FROM polku_credentials")).all())
    assert names == {"k1": "lms", "k2": "lms (k2)"}, "the oldest keeps the name"
    assert differences(blank_engine) == []


def test_statements_stored_before_0005_are_indexed_by_the_people_and_attachments_they_carry(blank_engine):
    """What an erasure finds them by: their actor, the people they name, their attachments."""
    body = json.dumps({
        "id": "s1", "actor": {"mbox": "mailto:Aino@example.org"}, "context": {"instructor": {"account": {"homePage": "https://h.example", "name": "onni"}}},
        "attachments": [{"sha2": "ab" * 32, "usageType": "u", "display": {}, "contentType": "text/plain", "length": 1}],
    })
    with blank_engine.begin() as conn:
        command.upgrade(schema.alembic_config(conn), "0004")
        conn.execute(sa.text(
            "INSERT INTO xapi_statements (id, stored, verb_id, voided, fingerprint, body) "
            "VALUES ('s1', '2026-01-01T00:00:00.000000Z', 'v', false, 'f', :body)"
        ), {"body": body})
    schema.upgrade(blank_engine)
    with blank_engine.connect() as conn:
        people = set(conn.execute(sa.text("SELECT person, is_actor FROM xapi_statement_people")).all())
        hashes = conn.execute(sa.text("SELECT sha2 FROM xapi_statement_attachments")).scalars().all()
    assert {(p, bool(a)) for p, a in people} == {
        ("sha1:" + hashlib.sha1(b"mailto:aino@example.org").hexdigest(), True), ("account:https://h.example|onni", False)}
    assert hashes == ["ab" * 32]


def test_statements_stored_before_0007_are_found_by_agent_verb_and_since_and_read_back_whole(blank_engine):
    """0007 fills in the verb and stored time beside each agent key, and deflates the bodies already
    stored: the agent filter reads them from its index, and each body reads back as it was."""
    from projections.statements import StatementFilter, StatementReader

    body = json.dumps({"id": "s1", "actor": {"mbox": "mailto:aino@example.org"}, "verb": {"id": "http://example.org/v"}, "stored": "2026-01-01T00:00:00.000000Z"})
    with blank_engine.begin() as conn:
        command.upgrade(schema.alembic_config(conn), "0006")
        conn.execute(sa.text(
            "INSERT INTO xapi_statements (id, stored, verb_id, voided, fingerprint, body) "
            "VALUES ('s1', '2026-01-01T00:00:00.000000Z', 'http://example.org/v', false, 'f', :body)"
        ), {"body": body})
        conn.execute(sa.text(
            "INSERT INTO xapi_statement_agents (statement_id, agent, is_primary) VALUES ('s1', 'mbox:mailto:aino@example.org', true), "
            "('s1', 'mbox:mailto:aino@example.org', false)"
        ))
    schema.upgrade(blank_engine)
    assert differences(blank_engine) == []
    reader = StatementReader(blank_engine)
    found = reader.query(StatementFilter(agent="mbox:mailto:aino@example.org", verb="http://example.org/v", since="2025-12-31T00:00:00.000000Z"), 10)
    assert found.statements == [json.loads(body)]
    assert reader.query(StatementFilter(agent="mbox:mailto:aino@example.org", verb="http://example.org/other"), 10).statements == []
    with blank_engine.connect() as conn:
        stored = bytes(conn.execute(sa.text("SELECT body FROM xapi_statements")).scalar())
    assert len(stored) < len(body) and body.encode() not in stored
