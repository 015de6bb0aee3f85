"""Attachments over real HTTP, in both modes (xAPI 2.0.0 Data 2.4.11, Communication 1.5.2 and
2.1.3; 1.0.3 the same sections): multipart/mixed in and out, hash checks, fileUrl-only
attachments, contents kept beside the log rather than on it, and the request size limit."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest

from events.sql import make_engine
from lrs.statements import multipart
from lrs.services import open_log
from lrs.config.settings import Settings
from tests.fixtures.statements_builders import statement
from tests.fixtures.xapi_client import MULTIPART, XapiClient, attachment, multipart_body, part

TEXT = b"here is a simple attachment"
OTHER = b"here is another simple attachment"


@pytest.fixture
def api(lrs_server):
    return XapiClient(lrs_server)


def with_attachments(*attachments_: dict, **kw) -> dict:
    return statement(**kw) | {"attachments": list(attachments_)}


def parts_of(response) -> list[multipart.Part]:
    assert response.headers["Content-Type"].startswith("multipart/mixed; boundary=")
    return multipart.parse(response.content, multipart.boundary_of(response.headers["Content-Type"]))


# ---- in ---------------------------------------------------------------------------------------

def test_statement_with_attachment_content_in_multipart_mixed_is_stored(api):
    s = with_attachments(attachment(TEXT), attachment(OTHER))
    response = api.post_multipart(multipart_body(s, part(TEXT), part(OTHER)))
    assert response.status_code == 200, response.text
    assert response.json() == [s["id"]]


def test_put_with_multipart_mixed_is_204(api):
    s = with_attachments(attachment(TEXT))
    response = api.request("PUT", params={"statementId": s["id"]}, data=multipart_body(s, part(TEXT)), headers=MULTIPART)
    assert response.status_code == 204, response.text


def test_one_part_serves_every_attachment_with_its_hash(api):
    batch = [with_attachments(attachment(TEXT)), with_attachments(attachment(TEXT))]
    assert api.post_multipart(multipart_body(batch, part(TEXT))).status_code == 200


def test_file_url_attachments_need_no_part_and_may_be_sent_as_json(api):
    s = with_attachments(attachment(TEXT, fileUrl="https://files.example.com/a.txt"))
    assert api.post(s).status_code == 200
    s2 = with_attachments(attachment(OTHER, fileUrl="https://files.example.com/b.txt"))
    assert api.post_multipart(multipart_body(s2)).status_code == 200


def test_multipart_mixed_without_attachments_is_accepted(api):
    assert api.post_multipart(multipart_body(statement())).status_code == 200


@pytest.mark.parametrize(
    "build, says",
    [
        (lambda s: multipart_body(s), "multipart"),  # no part for an attachment without fileUrl
        (lambda s: multipart_body(s, part(TEXT), part(OTHER)), "no attachment"),  # an excess part
        (lambda s: multipart_body(s, part(TEXT, X_Experience_API_Hash=None)), "X-Experience-API-Hash"),
        (lambda s: multipart_body(s, part(OTHER, sha2=hashlib.sha256(TEXT).hexdigest())), "hash"),
        (lambda s: multipart_body(s, part(TEXT, Content_Transfer_Encoding="base64")), "Content-Transfer-Encoding"),
        (lambda s: multipart_body(s, part(TEXT), first_type="text/plain"), "first part"),
        (lambda s: multipart_body(s, part(TEXT))[:-30], "malformed"),
    ],
    ids=["missing part", "excess part", "no hash header", "hash mismatch", "not binary", "first part not json", "truncated"],
)
def test_multipart_requests_that_break_the_attachment_rules_are_400(api, build, says):
    s = with_attachments(attachment(TEXT))
    response = api.post_multipart(build(s))
    assert response.status_code == 400
    assert says in response.json()["error"]["message"]
    assert api.get(statementId=s["id"]).status_code == 404


def test_attachment_without_file_url_in_a_json_request_is_400(api):
    s = with_attachments(attachment(TEXT))
    response = api.post(s)
    assert response.status_code == 400
    assert "fileUrl" in response.json()["error"]["message"]


@pytest.mark.parametrize("content_type", ["multipart/mixed", "multipart/form-data; boundary=x", "text/plain"])
def test_other_content_types_or_no_boundary_are_400(api, content_type):
    s = with_attachments(attachment(TEXT))
    response = api.post_multipart(multipart_body(s, part(TEXT)), headers={"Content-Type": content_type})
    assert response.status_code == 400


# ---- out --------------------------------------------------------------------------------------

def test_get_with_attachments_true_returns_multipart_with_the_contents(api):
    image = bytes(range(256)) * 40  # binary, with CRLFs and NULs inside
    elsewhere = uuid.uuid4().bytes  # content the LRS never received: no part for it
    s = with_attachments(attachment(TEXT), attachment(image, "image/png"), attachment(elsewhere, fileUrl="https://x.example/o"))
    assert api.post_multipart(multipart_body(s, part(TEXT), part(image, "image/png"))).status_code == 200
    response = api.get(statementId=s["id"], attachments=True)
    assert response.status_code == 200
    first, *rest = parts_of(response)
    assert first.mimetype == "application/json"
    assert first.body.startswith(b"{") and s["id"].encode() in first.body
    held = {p.headers["x-experience-api-hash"]: (p.mimetype, p.headers["content-transfer-encoding"], p.body) for p in rest}
    assert held == {
        hashlib.sha256(TEXT).hexdigest(): ("text/plain", "binary", TEXT),
        hashlib.sha256(image).hexdigest(): ("image/png", "binary", image),
    }


def test_without_attachments_true_the_answer_is_json(api):
    s = with_attachments(attachment(TEXT))
    api.post_multipart(multipart_body(s, part(TEXT)))
    for params in ({}, {"attachments": False}):
        response = api.get(statementId=s["id"], **params)
        assert response.headers["Content-Type"].startswith("application/json")
        assert response.json()["attachments"][0]["sha2"] == hashlib.sha256(TEXT).hexdigest()


def test_query_with_attachments_true_returns_a_statement_result_and_keeps_it_on_more_pages(api):
    activity = f"http://example.org/activities/{uuid.uuid4()}"
    batch = [with_attachments(attachment(c), activity=activity) for c in (b"one", b"two", b"three")]
    for s, content in zip(batch, (b"one", b"two", b"three")):
        assert api.post_multipart(multipart_body(s, part(content))).status_code == 200
    response = api.get(activity=activity, attachments=True, limit=2, ascending=True)
    first, *rest = parts_of(response)
    result = json.loads(first.body)
    assert [x["id"] for x in result["statements"]] == [batch[0]["id"], batch[1]["id"]]
    assert sorted(p.body for p in rest) == [b"one", b"two"]
    following = api.get_url(result["more"])
    first, *rest = parts_of(following)
    assert [p.body for p in rest] == [b"three"]


# ---- beside the log, not on it -------------------------------------------------------------------

def test_attachment_contents_travel_beside_the_log_not_on_it(api):
    big = bytes(range(256)) * (12 * 1024)  # 3 MiB: more than a Kafka message may hold by default
    s = with_attachments(attachment(big, "application/octet-stream"))
    response = api.post_multipart(multipart_body(s, part(big, "application/octet-stream")))
    assert response.status_code == 200, response.text
    settings = Settings.from_env(api.lrs.env)
    engine = make_engine(settings.sqlalchemy_url)
    log = open_log(settings, engine)
    try:
        events = [r.event for p in range(log.partitions) for r in log.read(p, 0, 100_000)]
        (event,) = [e for e in events if e.data["statement"]["id"] == s["id"]]
        assert event.data["statement"]["attachments"][0]["sha2"] == hashlib.sha256(big).hexdigest()
        assert max(len(str(e.data)) for e in events) < 100_000
    finally:
        log.close()
        engine.dispose()
    _, content = parts_of(api.get(statementId=s["id"], attachments=True))
    assert content.body == big


def test_a_request_over_the_size_limit_is_413_with_a_json_body(fresh_lrs):
    lrs = fresh_lrs("embedded", POLKU_MAX_REQUEST_BYTES="20000")
    api = XapiClient(lrs)
    big = b"x" * 30000
    response = api.post_multipart(multipart_body(with_attachments(attachment(big)), part(big)))
    assert response.status_code == 413
    assert "limit" in response.json()["error"]["message"]
    assert api.post(statement()).status_code == 200
