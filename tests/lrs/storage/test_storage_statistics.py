"""The planner's statistics are part of operating the database (issue 19): a process that opens a
database gathers those missing, SQLite's are refreshed beside the runner, and ``polku db check``
shows the hot reads' plans."""

from __future__ import annotations

import os
import subprocess
import time

import pytest
import sqlalchemy as sa

from lrs.storage import statistics as storage_statistics
from lrs.services import build_services
from lrs.config.settings import Settings
from tests.fixtures.databases import MASTER_KEY
from tests.fixtures.server import POLKU, ROOT


def _fill_claims(engine: sa.Engine, count: int = 300) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO polku_claims (namespace, key, fingerprint) VALUES ('statement-id', :k, 'f')"),
                     [{"k": f"s{n}"} for n in range(count)])


def _analysed(engine: sa.Engine, table: str, wait_s: float = 0) -> bool:
    """Whether ``table`` has statistics; PostgreSQL reports an ANALYZE's time when its backend
    next flushes its counters, so that is waited for, bounded by ``wait_s``."""
    deadline = time.monotonic() + wait_s
    while True:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                return conn.execute(sa.text("SELECT 1 FROM sqlite_stat1 WHERE tbl = :t"), {"t": table}).first() is not None
            found = conn.execute(sa.text(
                "SELECT last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = :t"
            ), {"t": table}).scalar_one()
        if found or time.monotonic() >= deadline:
            return found
        time.sleep(0.2)


def _forget_statistics(engine: sa.Engine) -> None:
    """As a database restored from a dump: no record of an ANALYZE."""
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM sqlite_stat1" if engine.dialect.name == "sqlite" else "SELECT pg_stat_reset()")


def test_a_process_that_opens_the_database_gathers_the_statistics_never_gathered(engine, database_url):
    _fill_claims(engine)
    _forget_statistics(engine)
    assert not _analysed(engine, "polku_claims")
    services = build_services(Settings(database_url=database_url, master_key=MASTER_KEY, run_projections=False))
    services.close()
    assert _analysed(engine, "polku_claims", wait_s=15)


class _Runner:
    after_round = None


def test_sqlite_statistics_are_refreshed_beside_the_runner_at_most_every_period(sqlite_url):
    from events.sql import make_engine
    from lrs.storage.schema import upgrade

    engine = make_engine(sqlite_url)
    try:
        upgrade(engine)
        runner, earlier = _Runner(), []
        runner.after_round = lambda: earlier.append(1)
        storage_statistics.beside(runner, engine, every_s=3600)
        _fill_claims(engine)
        runner.after_round()
        assert earlier == [1], "what was there before still runs"
        assert not _analysed(engine, "polku_claims"), "not yet: the process refreshed them when it opened the database"
        storage_statistics.beside(runner, engine, every_s=0)
        runner.after_round()
        assert _analysed(engine, "polku_claims")
    finally:
        engine.dispose()


def test_polku_db_check_shows_each_hot_reads_plan_and_passes_on_a_fresh_store(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLKU_")}
    env["POLKU_DATABASE_URL"] = f"sqlite:///{tmp_path / 'check.sqlite3'}"
    assert subprocess.run(POLKU + ["db", "upgrade"], env=env, cwd=ROOT, capture_output=True, timeout=120).returncode == 0
    done = subprocess.run(POLKU + ["db", "check", "--all"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok  claim watermark (oldest write in flight)" in done.stdout
    assert "polku_in_flight" in done.stdout
    assert "statements: agent+verb+since" in done.stdout
    assert "0 with a problem" in done.stdout


def test_polku_db_check_exits_1_and_names_a_read_planned_by_a_full_scan(tmp_path):
    """The check can fail: with the index the credential lookup needs gone, it says so."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLKU_")}
    env["POLKU_DATABASE_URL"] = f"sqlite:///{tmp_path / 'check.sqlite3'}"
    assert subprocess.run(POLKU + ["db", "upgrade"], env=env, cwd=ROOT, capture_output=True, timeout=120).returncode == 0
    from events.sql import make_engine

    engine = make_engine(env["POLKU_DATABASE_URL"])
    with engine.begin() as conn:  # the document store's key read, left without its index
        conn.exec_driver_sql("CREATE TABLE t AS SELECT * FROM xapi_documents")
        conn.exec_driver_sql("DROP TABLE xapi_documents")
        conn.exec_driver_sql("ALTER TABLE t RENAME TO xapi_documents")
    engine.dispose()
    done = subprocess.run(POLKU + ["db", "check"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "PROBLEM  document by key" in done.stdout and "full scan of xapi_documents" in done.stdout


@pytest.mark.parametrize("dialect", ["sqlite"])
def test_refresh_never_raises_for_a_database_that_is_away(dialect, tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'missing' / 'no.sqlite3'}")
    assert storage_statistics.refresh(engine) == []
    engine.dispose()
