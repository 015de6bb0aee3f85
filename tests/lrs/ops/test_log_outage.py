"""Nothing acknowledged unless the log accepted it: with the Kafka broker gone, a POST is
answered 503 (with Retry-After), never 200, and the server recovers when the broker returns."""

from __future__ import annotations

import time

import pytest
import requests

from tests.fixtures.statements_builders import statement

V2 = {"X-Experience-API-Version": "2.0.0"}


@pytest.mark.postgres
@pytest.mark.kafka
def test_post_while_the_broker_is_down_is_503_and_nothing_is_stored(fresh_lrs, private_broker):
    lrs = fresh_lrs("scale-out", POLKU_KAFKA_BOOTSTRAP_SERVERS=private_broker.bootstrap, POLKU_LOG_TIMEOUT_S="2")
    before = statement()
    assert requests.post(lrs.endpoint + "/statements", json=before, auth=lrs.auth, headers=V2).status_code == 200

    private_broker.kill()
    during = statement()
    response = requests.post(lrs.endpoint + "/statements", json=during, auth=lrs.auth, headers=V2, timeout=60)
    assert response.status_code == 503
    assert response.headers.get("Retry-After")
    assert "retry" in response.json()["error"]["message"]
    found = requests.get(lrs.endpoint + "/statements", params={"statementId": during["id"]}, auth=lrs.auth, headers=V2)
    assert found.status_code == 404
    assert requests.get(lrs.endpoint + "/statements", params={"statementId": before["id"]}, auth=lrs.auth, headers=V2).status_code == 200


@pytest.mark.postgres
@pytest.mark.kafka
def test_an_unconfirmed_append_is_503_telling_the_client_to_retry_with_the_same_ids(fresh_lrs, private_broker):
    """The log may still store what it did not confirm (issue 9): the 503 says to retry with the
    same ids, and names the ids Polku gave statements sent without one, so the retry is a no-op
    rather than a second copy."""
    lrs = fresh_lrs("scale-out", POLKU_KAFKA_BOOTSTRAP_SERVERS=private_broker.bootstrap, POLKU_LOG_TIMEOUT_S="2")
    private_broker.kill()
    with_id, without_id = statement(), statement(with_id=False)
    response = requests.post(lrs.endpoint + "/statements", json=[with_id, without_id], auth=lrs.auth, headers=V2, timeout=60)
    assert response.status_code == 503 and response.headers.get("Retry-After")
    message = response.json()["error"]["message"]
    assert "retry with the same statements and the same ids" in message
    given = message.split("were given: ")[1].rstrip(")")
    assert with_id["id"] not in message and len(given) == 36

    private_broker.start()
    retry = dict(without_id, id=given)
    for _ in range(60):
        again = requests.post(lrs.endpoint + "/statements", json=[with_id, retry], auth=lrs.auth, headers=V2, timeout=60)
        if again.status_code != 503:
            break
    assert again.status_code == 200 and again.json() == [with_id["id"], given]
    # the projection worker comes back from the outage on its own time (a write waits for it only
    # while it moves): read until both are there, then each is there once
    for _ in range(120):
        listed = requests.get(lrs.endpoint + "/statements", params={"verb": with_id["verb"]["id"], "limit": 0},
                              auth=lrs.auth, headers=V2).json()["statements"]
        if len(listed) >= 2:
            break
        time.sleep(0.5)
    assert sorted(s["id"] for s in listed) == sorted([with_id["id"], given])
