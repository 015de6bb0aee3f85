"""`polku demo` never mixes with real data (issue 10): it loads into the configured database only
while that holds no statements but the demo's (a new installation, or one with the demo already),
refuses otherwise naming what to do, and loads into a database of its own with --separate."""

from __future__ import annotations

import base64

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from lrs.app import create_app
from lrs.cli import DEMO_DATABASE_URL, main
from lrs.config.settings import Settings
from projections.cohorts import programmes
from tests.fixtures.databases import MASTER_KEY
from tests.fixtures.statements_builders import statement

SMALL = ["--members", "2", "--now", "2026-06-17T15:00:00Z"]


def polku(database_url: str, *args: str):
    return CliRunner().invoke(main, list(args), env={"POLKU_DATABASE_URL": database_url, "POLKU_MASTER_KEY": MASTER_KEY})


def post_a_real_statement(database_url: str) -> None:
    app = create_app(Settings(database_url=database_url, master_key=MASTER_KEY, run_projections=True))
    services = app.extensions["polku"]
    try:
        credential, secret = services.credentials.create("lms", {"all"})
        token = base64.b64encode(f"{credential.key}:{secret}".encode()).decode()
        response = app.test_client().post("/xapi/statements", json=statement(),
                                          headers={"Authorization": f"Basic {token}", "X-Experience-API-Version": "2.0.0"})
        assert response.status_code == 200
    finally:
        services.close()


def demo_programme_defined(database_url: str) -> bool:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.select(programmes.c.key).where(programmes.c.key == "supervisors")).first() is not None
    finally:
        engine.dispose()


def test_the_demo_loads_into_an_empty_database_and_again_finds_it_there(sqlite_url):
    loaded = polku(sqlite_url, "demo", *SMALL)
    assert loaded.exit_code == 0, loaded.output
    assert "sent" in loaded.output and demo_programme_defined(sqlite_url)
    again = polku(sqlite_url, "demo", *SMALL)
    assert again.exit_code == 0, again.output
    assert "there already" in again.output, "the demo's own statements are not real data"


def test_the_demo_refuses_a_database_holding_other_statements_and_loads_nothing(sqlite_url):
    post_a_real_statement(sqlite_url)
    refused = polku(sqlite_url, "demo", *SMALL)
    assert refused.exit_code != 0
    assert "not the demo's" in refused.output
    assert "--separate" in refused.output and "--into-current" in refused.output
    assert not demo_programme_defined(sqlite_url)


def test_the_demo_into_current_mixes_it_in_when_told(sqlite_url):
    post_a_real_statement(sqlite_url)
    mixed = polku(sqlite_url, "demo", "--into-current", *SMALL)
    assert mixed.exit_code == 0, mixed.output
    assert demo_programme_defined(sqlite_url)


def test_the_demo_separate_loads_into_its_own_database_and_says_how_to_serve_it(sqlite_url, tmp_path, monkeypatch):
    post_a_real_statement(sqlite_url)
    monkeypatch.chdir(tmp_path)
    separate = polku(sqlite_url, "demo", "--separate", *SMALL)
    assert separate.exit_code == 0, separate.output
    assert f"POLKU_DATABASE_URL={DEMO_DATABASE_URL} polku serve" in separate.output
    assert not demo_programme_defined(sqlite_url), "the configured database is untouched"
    assert demo_programme_defined(f"sqlite:///{tmp_path / 'data' / 'demo' / 'polku.sqlite3'}")


@pytest.mark.parametrize("flags", [["--separate", "--into-current"], ["--url", "http://127.0.0.1:9", "--separate"]])
def test_the_demo_refuses_flags_that_contradict_each_other(sqlite_url, flags):
    result = polku(sqlite_url, "demo", *flags)
    assert result.exit_code == 2
