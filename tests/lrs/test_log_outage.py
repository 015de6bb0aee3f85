"""Nothing acknowledged unless the log accepted it: with the Kafka broker gone, a POST is
answered 503 (with Retry-After), never 200, and the server recovers when the broker returns."""

from __future__ import annotations

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
