"""A crash of PostgreSQL loses no acknowledged statement. Projection transactions commit without
waiting for PostgreSQL's disk flush (projections/runner.py): what a crash takes of them is
applied again from the log, because their positions move in the same transactions."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.fixtures.server import free_port
from tests.fixtures.statements_builders import statement
from tests.lrs.statements.test_durability import V2, post_all

pytestmark = [pytest.mark.postgres, pytest.mark.kafka]

SCRIPT = Path(__file__).resolve().parents[3] / "deploy" / "services" / "postgres.sh"


class PrivatePostgres:
    """A PostgreSQL cluster of this test's own (the shared one must not crash under others)."""

    def __init__(self) -> None:
        # not under pytest's temporary folder: PostgreSQL's own user must reach it
        self.folder = Path("/var/tmp") / f"polku-crash-{uuid.uuid4().hex[:8]}"
        self.env = os.environ | {"POLKU_SERVICES_DIR": str(self.folder), "POLKU_PG_PORT": str(free_port())}
        self.url = f"postgresql://postgres@127.0.0.1:{self.env['POLKU_PG_PORT']}/polku"

    def run(self, verb: str) -> None:
        subprocess.run(["bash", str(SCRIPT), verb], env=self.env, check=True, timeout=120, capture_output=True)

    def remove(self) -> None:
        subprocess.run(["bash", str(SCRIPT), "crash"], env=self.env, timeout=60, capture_output=True)
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def private_postgres():
    postgres = PrivatePostgres()
    postgres.run("start")
    yield postgres
    postgres.remove()


def readable_ids(lrs, expected: int, timeout: float) -> list[str]:
    """Every statement id the LRS returns once it returns ``expected`` (answers other than 200
    while the database restarts are waited out)."""
    session = requests.Session()
    session.auth = lrs.auth
    deadline = time.monotonic() + timeout
    ids: list[str] = []
    while time.monotonic() < deadline:
        url, params, ids = lrs.endpoint + "/statements", {"limit": 500, "ascending": "true"}, []
        try:
            while url:
                response = session.get(url, params=params, headers=V2, timeout=30)
                if response.status_code != 200:
                    break
                body = response.json()
                ids.extend(s["id"] for s in body["statements"])
                url, params = (f"http://127.0.0.1:{lrs.port}{body['more']}" if body["more"] else None), None
            else:
                if len(ids) >= expected:
                    return ids
        except requests.RequestException:
            pass
        time.sleep(0.5)
    return ids


def test_a_postgresql_crash_loses_no_acknowledged_statement_and_duplicates_none(fresh_lrs, private_postgres):
    lrs = fresh_lrs("scale-out", POLKU_DATABASE_URL=private_postgres.url)
    acknowledged = post_all(lrs, [statement(actor=f"learner{i % 23}") for i in range(400)])
    assert len(acknowledged) == 400

    private_postgres.run("crash")  # immediate shutdown: no checkpoint, unflushed commits are gone
    private_postgres.run("start")

    ids = readable_ids(lrs, 400, timeout=120)
    assert len(ids) == len(set(ids)) == 400, "every statement once, the server and worker never restarted"
    assert set(ids) == acknowledged
