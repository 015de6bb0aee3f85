"""A log that is not the one Polku projects, or that went backwards, stops writes with a 503 that
names the problem (never a 200 for a statement that could not be shown), `polku projections
status` says so, and `polku log accept` is the way out (issue 8, docs/design.md, invariant 8)."""

from __future__ import annotations

import signal
import time

import pytest
import requests
import sqlalchemy as sa

from tests.fixtures.statements_builders import statement

V2 = {"X-Experience-API-Version": "2.0.0"}


def post(lrs, body) -> requests.Response:
    return requests.post(lrs.endpoint + "/statements", json=body, auth=lrs.auth, headers=V2, timeout=60)


def get(lrs, statement_id: str) -> requests.Response:
    return requests.get(lrs.endpoint + "/statements", params={"statementId": statement_id}, auth=lrs.auth, headers=V2, timeout=30)


def assert_writes_stopped_naming(lrs, words: str) -> None:
    refused = statement()
    response = post(lrs, refused)
    assert response.status_code == 503, response.text
    assert response.headers.get("Retry-After")
    message = response.json()["error"]["message"]
    assert words in message and "polku log accept" in message
    assert get(lrs, refused["id"]).status_code == 404
    status = lrs.cli("projections", "status", check=False)
    assert status.returncode == 1 and words in status.stderr


def accept_and_write_again(lrs, kept: list[dict]) -> None:
    if "project" in lrs.processes:
        lrs.kill(signal.SIGTERM, only="project")  # as the command's help asks
    refused = lrs.cli("log", "accept", check=False, input_text="n\n")
    assert refused.returncode != 0, "asks for confirmation and does nothing without it"
    accepted = lrs.cli("log", "accept", "--yes")
    assert "accepted" in accepted.stdout
    if lrs.scale_out:
        lrs.spawn("project")
    after = statement()
    deadline = time.monotonic() + 15  # a running server looks at the log again within seconds
    while (response := post(lrs, after)).status_code == 503 and time.monotonic() < deadline:
        time.sleep(float(response.headers.get("Retry-After", "1")))
    assert response.status_code == 200, response.text
    assert get(lrs, after["id"]).status_code == 200
    for s in kept:
        assert get(lrs, s["id"]).status_code == 200, "what the accepted log holds is shown again"
    assert lrs.cli("projections", "status").returncode == 0


def test_embedded_log_that_ends_below_the_applied_position_stops_writes_until_accepted(fresh_lrs):
    lrs = fresh_lrs("embedded")
    first = [statement() for _ in range(3)]
    later = [statement() for _ in range(3)]
    assert post(lrs, first).status_code == 200
    assert post(lrs, later).status_code == 200

    # with Polku stopped, the log table comes back from an older backup: its last three events are gone
    lrs.kill()
    engine = sa.create_engine(lrs.env["POLKU_DATABASE_URL"])
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM polku_event_log WHERE log_offset > (SELECT max(log_offset) - 3 FROM polku_event_log)"))
    engine.dispose()
    lrs.start()

    assert_writes_stopped_naming(lrs, "went backwards")
    accept_and_write_again(lrs, kept=first)
    assert get(lrs, later[0]["id"]).status_code == 404, "the rebuild shows the accepted log, nothing else"


@pytest.mark.postgres
@pytest.mark.kafka
def test_a_wiped_broker_is_not_the_log_polku_projects_and_writes_stop_until_accepted(fresh_lrs, private_broker):
    lrs = fresh_lrs("scale-out", POLKU_KAFKA_BOOTSTRAP_SERVERS=private_broker.bootstrap, POLKU_LOG_TIMEOUT_S="3")
    before = [statement() for _ in range(4)]
    assert post(lrs, before).status_code == 200

    # what `docker compose down && up` does to a Kafka without a volume
    lrs.kill()
    private_broker.wipe()
    private_broker.start()
    lrs.start()  # serve creates the topic anew on the new cluster

    assert_writes_stopped_naming(lrs, "not the one Polku projects")
    for s in before:
        assert get(lrs, s["id"]).status_code == 200, "reads go on from the views"
    accept_and_write_again(lrs, kept=[])
    assert get(lrs, before[0]["id"]).status_code == 404, "the old log's statements are not on the new one"
