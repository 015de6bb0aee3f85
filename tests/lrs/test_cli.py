"""The `polku` command: `serve` prints the endpoint and a first credential that works,
`credentials create` validates scopes, `projections status` shows positions and lag."""

from __future__ import annotations

import os
import subprocess
import time

import requests

from tests.fixtures.server import POLKU, ROOT, free_port
from tests.fixtures.statements_builders import statement

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
