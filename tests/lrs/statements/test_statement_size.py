"""One size limit in every mode (issue 8): a statement within POLKU_MAX_REQUEST_BYTES is stored
on either log -- also past Kafka's 1 MB default message size, because Polku creates its topic to
admit it -- and a larger one is 413 naming the limit, with nothing stored."""

from __future__ import annotations

import json

import pytest
import requests

from tests.fixtures.statements_builders import statement
from tests.fixtures.xapi_client import XapiClient, attachment, multipart_body, part

V2 = {"X-Experience-API-Version": "2.0.0"}
LIMIT = 2_000_000


def with_text(size: int) -> dict:
    return statement(result={"response": "x" * size})


@pytest.mark.parametrize("mode", ["embedded", pytest.param("scale-out", marks=[pytest.mark.postgres, pytest.mark.kafka])])
def test_the_statement_size_limit_is_the_same_in_every_mode(fresh_lrs, mode):
    lrs = fresh_lrs(mode, POLKU_MAX_REQUEST_BYTES=str(LIMIT))
    session = requests.Session()
    session.auth = lrs.auth

    under = with_text(LIMIT - 50_000)  # its sealed parts (base64) are larger than the request was
    stored = session.post(lrs.endpoint + "/statements", json=under, headers=V2, timeout=60)
    assert stored.status_code == 200, stored.text
    got = session.get(lrs.endpoint + "/statements", params={"statementId": under["id"]}, headers=V2, timeout=60)
    assert got.status_code == 200 and got.json()["result"]["response"] == under["result"]["response"]

    over = with_text(LIMIT + 1000)
    refused = session.post(lrs.endpoint + "/statements", json=over, headers=V2, timeout=60)
    assert refused.status_code == 413
    assert "limit" in refused.json()["error"]["message"]
    # the same keep-alive connection carries the next request: the refused body was read and dropped
    assert session.get(lrs.endpoint + "/statements", params={"statementId": over["id"]}, headers=V2).status_code == 404
    smaller = dict(over, result={"response": "fits now"})
    assert session.post(lrs.endpoint + "/statements", json=smaller, headers=V2).status_code == 200, "the id stayed free"


@pytest.mark.postgres
@pytest.mark.kafka
def test_a_statement_over_an_existing_topics_smaller_limit_is_413_and_its_id_stays_free(fresh_lrs, kafka_bootstrap):
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    topic = f"small-{statement()['id'][:8]}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        admin.create_topics([NewTopic(topic, 1, 1, topic_configs={"max.message.bytes": "20000"})])
    finally:
        admin.close()
    lrs = fresh_lrs("scale-out", POLKU_KAFKA_TOPIC=topic)
    session = requests.Session()
    session.auth = lrs.auth
    too_big = with_text(30_000)
    refused = session.post(lrs.endpoint + "/statements", json=too_big, headers=V2, timeout=60)
    assert refused.status_code == 413 and "limit" in refused.json()["error"]["message"]
    fits = dict(too_big, result={"response": "fits"})
    assert session.post(lrs.endpoint + "/statements", json=fits, headers=V2, timeout=60).status_code == 200


@pytest.mark.parametrize("mode", ["embedded", pytest.param("scale-out", marks=[pytest.mark.postgres, pytest.mark.kafka])])
def test_a_page_of_statements_holds_at_most_the_size_limit_and_more_pages_through_the_rest(fresh_lrs, mode):
    """The page size caps how many statements a page holds, not how large it is: without a bound
    on its bytes, a page of 1000 statements near the size limit each is built whole in memory. A
    page stops before its statements pass POLKU_MAX_REQUEST_BYTES (a statement larger alone is a
    page of its own), and its ``more`` link goes on from there."""
    lrs = fresh_lrs(mode, POLKU_MAX_REQUEST_BYTES=str(LIMIT))
    session = requests.Session()
    session.auth = lrs.auth
    activity = "http://example.org/activities/" + statement()["id"]
    sent = [statement(activity=activity, result={"response": "x" * (LIMIT // 3)}) for _ in range(7)]
    for s in sent:
        assert session.post(lrs.endpoint + "/statements", json=s, headers=V2, timeout=60).status_code == 200

    seen, pages, url, params = [], 0, lrs.endpoint + "/statements", {"activity": activity, "limit": "1000", "ascending": "true"}
    while url:
        page = session.get(url, params=params, headers=V2, timeout=60)
        assert page.status_code == 200, page.text
        assert len(page.content) <= LIMIT + 10_000, f"a page of {len(page.content)} bytes"
        body = page.json()
        assert body["statements"], "every page holds at least one statement"
        seen += [s["id"] for s in body["statements"]]
        pages += 1
        url, params = (lrs.endpoint[: -len("/xapi")] + body["more"]) if body["more"] else "", None
    assert seen == [s["id"] for s in sent], "every statement once, in order"
    assert pages >= 3


def test_a_page_with_attachments_holds_at_most_the_size_limit_of_statements_and_their_contents(fresh_lrs):
    """With ``attachments=true`` a page carries the contents of its statements' attachments too; it
    stops before statements and contents together pass POLKU_MAX_REQUEST_BYTES, and pages on."""
    lrs = fresh_lrs("embedded", POLKU_MAX_REQUEST_BYTES=str(LIMIT))
    api = XapiClient(lrs)
    activity = "http://example.org/activities/" + statement()["id"]
    sent = []
    for n in range(5):
        content = bytes([n]) * (LIMIT // 3)
        s = statement(activity=activity, attachments=[attachment(content)])
        assert api.post_multipart(multipart_body(s, part(content)), timeout=60).status_code == 200
        sent.append(s["id"])

    seen, pages, url = [], 0, None
    params = {"activity": activity, "attachments": "true", "ascending": "true", "limit": "1000"}
    while True:
        page = api.session.get(url or api.base + "/statements", params=None if url else params, timeout=60)
        assert page.status_code == 200, page.text
        assert len(page.content) <= LIMIT + 10_000, f"a page of {len(page.content)} bytes"
        document = json.loads(page.content.split(b"\r\n\r\n", 1)[1].split(b"\r\n--", 1)[0])
        seen += [s["id"] for s in document["statements"]]
        pages += 1
        if not document["more"]:
            break
        url = f"http://127.0.0.1:{lrs.port}" + document["more"]
    assert seen == sent
    assert pages >= 3
