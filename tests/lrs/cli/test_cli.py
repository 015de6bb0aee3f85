"""The `polku` command: `serve` prints the endpoint and a first credential that works,
`credentials create` validates scopes, `projections status` shows positions and lag."""

from __future__ import annotations

import os
import subprocess
import time

import requests

from tests.fixtures.server import POLKU, ROOT, free_port
from tests.fixtures.statements_builders import statement
from tests.fixtures.databases import MASTER_KEY

V2 = {"X-Experience-API-Version": "2.0.0"}


def _env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLKU_")}
    env["POLKU_DATABASE_URL"] = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def test_serve_prints_the_endpoint_and_a_first_credential_that_works(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        POLKU + ["serve", "--port", str(port)], env=_env(tmp_path), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        printed: dict[str, str] = {}
        deadline = time.monotonic() + 60
        while "secret" not in printed and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if ":" in line:
                name, _, value = line.strip().partition(":")
                printed[name.strip()] = value.strip()
        assert printed["xAPI endpoint"] == f"http://127.0.0.1:{port}/xapi/"
        endpoint, auth = printed["xAPI endpoint"], (printed["key"], printed["secret"])
        for _ in range(100):
            try:
                requests.get(endpoint + "about", timeout=5)
                break
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.1)
        s = statement()
        assert requests.post(endpoint + "statements", json=s, auth=auth, headers=V2).status_code == 200
        assert requests.get(endpoint + "statements", params={"statementId": s["id"]}, auth=auth, headers=V2).json()["id"] == s["id"]
        dashboard = printed["Dashboard"].split()[0]  # the printed address leads a browser to sign in
        assert dashboard == f"http://127.0.0.1:{port}/"
        page = requests.get(dashboard, headers={"Accept": "text/html"})
        assert page.url.endswith("/sign-in") and 'name="secret"' in page.text
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_credentials_create_rejects_an_unknown_scope(tmp_path):
    result = subprocess.run(
        POLKU + ["credentials", "create", "--name", "x", "--scopes", "statements/write,everything"],
        env=_env(tmp_path), cwd=ROOT, capture_output=True, text=True,
    )
    assert result.returncode != 0
    assert "everything" in result.stderr


def test_credentials_are_stored_hashed(tmp_path):
    env = _env(tmp_path)
    out = subprocess.run(POLKU + ["credentials", "create", "--name", "x", "--scopes", "all"], env=env, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    secret = next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("secret"))
    assert secret.encode() not in (tmp_path / "cli.sqlite3").read_bytes()


def test_projections_status_shows_position_end_and_lag(tmp_path):
    env = _env(tmp_path)
    result = subprocess.run(POLKU + ["projections", "status"], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    log_line, header, *rows = result.stdout.splitlines()
    assert log_line.startswith("log: sql:"), "names the log it projects"
    assert header.split() == ["projection", "partition", "applied", "end", "lag"]
    assert any(row.split()[0] == "statements" for row in rows)
    assert "retention: off" in rows, "retention is off by default, and says so"


# ---- the schema: polku db, and start-up ------------------------------------------------------------

def _invoke(database_url: str, *args: str, **env: str):
    from click.testing import CliRunner

    from lrs.cli import main

    return CliRunner().invoke(main, list(args), env={"POLKU_DATABASE_URL": database_url, "POLKU_MASTER_KEY": MASTER_KEY, **env})


def test_db_upgrade_says_what_it_applied_and_then_that_it_is_up_to_date(database_url):
    first = _invoke(database_url, "db", "upgrade")
    assert first.exit_code == 0, first.output
    assert all(f"applied {r}" in first.output for r in ("0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008"))
    again = _invoke(database_url, "db", "upgrade")
    assert again.exit_code == 0, again.output
    assert "up to date at 0008" in again.output and "applied" not in again.output


def test_db_current_shows_the_revision_and_the_head(database_url):
    before = _invoke(database_url, "db", "current")
    assert before.exit_code == 0, before.output
    assert before.output.splitlines()[:2] == ["current: (none)", "head:    0008"]
    assert "polku db upgrade" in before.output
    _invoke(database_url, "db", "upgrade")
    after = _invoke(database_url, "db", "current")
    assert after.output.splitlines() == ["current: 0008", "head:    0008", "up to date"]


def test_serve_in_check_mode_refuses_a_database_that_is_behind_and_names_polku_db_upgrade(database_url):
    result = _invoke(database_url, "serve", POLKU_MIGRATE="check")
    assert result.exit_code != 0
    assert "polku db upgrade" in result.output


def test_serve_and_project_started_at_once_on_a_fresh_database_both_come_up(tmp_path, database_url):
    """The race this replaced: both used to CREATE TABLE at once, and one died of it."""
    env = _env(tmp_path) | {"POLKU_DATABASE_URL": database_url, "POLKU_MASTER_KEY": MASTER_KEY}
    port = free_port()
    commands = {"serve": ["serve", "--port", str(port)], "project": ["project"]}
    outputs = {name: open(tmp_path / f"{name}.log", "w") for name in commands}
    procs = {
        name: subprocess.Popen(POLKU + args, env=env, cwd=ROOT, stdout=outputs[name], stderr=subprocess.STDOUT)
        for name, args in commands.items()
    }

    def printed(name: str) -> str:
        return (tmp_path / f"{name}.log").read_text()

    try:
        deadline = time.monotonic() + 60
        serving = working = False
        while not (serving and working) and time.monotonic() < deadline:
            for name, proc in procs.items():
                assert proc.poll() is None, f"polku {name} exited:\n{printed(name)}"
            working = "projection worker:" in printed("project")
            try:
                serving = serving or requests.get(f"http://127.0.0.1:{port}/xapi/about", timeout=1).ok
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.1)
        assert serving and working, printed("serve") + printed("project")
    finally:
        for proc in procs.values():
            proc.terminate()
            proc.wait(timeout=30)
        for output in outputs.values():
            output.close()
