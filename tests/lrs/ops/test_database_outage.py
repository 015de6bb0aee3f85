"""A database outage is a 503 with Retry-After on every route, reads and authentication included
-- never a 500, never a hang past its bound -- and Polku recovers by itself (issue 9, defect 7)."""

from __future__ import annotations

import time

import pytest
import requests

from tests.fixtures.proxy import TcpProxy
from tests.fixtures.server import free_port
from tests.fixtures.statements_builders import statement

pytestmark = pytest.mark.postgres

V2 = {"X-Experience-API-Version": "2.0.0"}


def test_database_gone_is_503_on_every_route_and_polku_recovers_when_it_returns(fresh_lrs, postgres_url):
    port = free_port()
    with TcpProxy(port, ("127.0.0.1", 5432)) as proxy:
        url = postgres_url.replace("127.0.0.1:5432", f"127.0.0.1:{port}")  # a database of this test's own
        lrs = fresh_lrs("embedded", POLKU_DATABASE_URL=url, POLKU_DB_CONNECT_TIMEOUT_S="2")
        session = requests.Session()
        session.auth = lrs.auth
        before = statement()
        assert session.post(lrs.endpoint + "/statements", json=before, headers=V2, timeout=30).status_code == 200

        proxy.cut()
        requests_during = {
            "POST statements": lambda: session.post(lrs.endpoint + "/statements", json=statement(), headers=V2, timeout=60),
            "GET statements": lambda: session.get(lrs.endpoint + "/statements", headers=V2, timeout=60),
            "GET state": lambda: session.get(
                lrs.endpoint + "/activities/state",
                params={"activityId": "http://example.org/a", "agent": '{"mbox": "mailto:a@example.org"}'},
                headers=V2, timeout=60,
            ),
            "GET cohorts": lambda: session.get(f"http://127.0.0.1:{lrs.port}/api/v1/cohorts", timeout=60),
        }
        for name, send in requests_during.items():
            started = time.monotonic()
            response = send()
            took = time.monotonic() - started
            assert response.status_code == 503, f"{name}: {response.status_code} {response.text}"
            assert response.headers.get("Retry-After"), name
            assert "Traceback" not in response.text and "psycopg" not in response.text
            assert took < 15, f"{name} took {took:.1f}s"

        proxy.restore()
        deadline = time.monotonic() + 30
        after = statement()
        while (response := session.post(lrs.endpoint + "/statements", json=after, headers=V2, timeout=60)).status_code != 200:
            assert time.monotonic() < deadline, f"no recovery: {response.status_code} {response.text}"
            time.sleep(0.5)
        assert session.get(lrs.endpoint + "/statements", params={"statementId": before["id"]}, headers=V2).status_code == 200
        assert all(p.poll() is None for p in lrs.processes.values())
        lrs.kill()
