"""Signed statements over real HTTP, in both modes (xAPI 2.0.0 and 1.0.3 Data 2.6): a JWS
attachment whose payload is the statement; RS256/RS384/RS512 only; an x5c certificate, when
present, must verify the signature; anything else is 400 and stores nothing."""

from __future__ import annotations

import copy

import pytest

from tests.fixtures.signing import jws, signature_attachment
from tests.fixtures.statements_builders import statement
from tests.fixtures.xapi_client import XapiClient, attachment, multipart_body, part


@pytest.fixture
def api(lrs_server):
    return XapiClient(lrs_server)


def signed(payload_changes: dict | None = None, content_type: str = "application/octet-stream", **sign) -> tuple[dict, bytes]:
    """A statement, and the JWS of it (of it changed by ``payload_changes``) as its signature."""
    s = statement()
    payload = copy.deepcopy(s) | (payload_changes or {})
    signature = jws(payload, **sign)
    return s | {"attachments": [signature_attachment(signature, content_type)]}, signature


def send(api, s: dict, signature: bytes):
    return api.post_multipart(multipart_body(s, part(signature, "application/octet-stream")))


@pytest.mark.parametrize("alg", ["RS256", "RS384", "RS512"])
def test_signed_statement_with_an_rs_algorithm_is_stored_with_its_signature(api, alg):
    s, signature = signed(alg=alg)
    response = send(api, s, signature)
    assert response.status_code == 200, response.text
    stored = api.get(statementId=s["id"], attachments=True)
    assert signature in stored.content


def test_signature_that_verifies_against_its_x5c_certificate_is_accepted(api):
    s, signature = signed(alg="RS384", x5c_of="signer")
    assert send(api, s, signature).status_code == 200


def test_signature_that_does_not_verify_against_its_x5c_certificate_is_400(api):
    s, signature = signed(key_name="impostor", x5c_of="signer")
    response = send(api, s, signature)
    assert response.status_code == 400
    assert "x5c" in response.json()["error"]["message"]
    assert api.get(statementId=s["id"]).status_code == 404


def test_signature_with_hs256_is_400(api):
    s, signature = signed(alg="HS256")
    response = send(api, s, signature)
    assert response.status_code == 400
    assert "RS256" in response.json()["error"]["message"]


def test_payload_that_is_not_the_statement_is_400(api):
    s, signature = signed({"verb": {"id": "http://adlnet.gov/expapi/verbs/failed"}})
    response = send(api, s, signature)
    assert response.status_code == 400
    assert "payload" in response.json()["error"]["message"]


def test_payload_compared_by_the_statement_comparison_rules(api):
    """2.0.0 §4.2.7: durations compare to 0.01 s, so a payload with more precision still matches."""
    s = statement() | {"result": {"duration": "P1DT12H36M0.12S"}}
    payload = s | {"result": {"duration": "P1DT12H36M0.1237S"}}
    signature = jws(payload)
    s["attachments"] = [signature_attachment(signature)]
    assert send(api, s, signature).status_code == 200


def test_malformed_jws_is_400(api):
    s = statement()
    signature = b"not.a-jws"
    s["attachments"] = [signature_attachment(signature)]
    assert send(api, s, signature).status_code == 400


def test_signature_attachment_with_another_content_type_is_400(api):
    s, signature = signed(content_type="text/plain; charset=ascii")
    assert send(api, s, signature).status_code == 400


def test_signature_attachment_without_its_content_is_400(api):
    s, signature = signed()
    s["attachments"][0]["fileUrl"] = "https://files.example.com/signature.jws"
    response = api.post(s)
    assert response.status_code == 400
    assert "multipart" in response.json()["error"]["message"]


def test_other_attachments_may_travel_with_a_signature(api):
    s, signature = signed()
    s["attachments"].append(attachment(b"notes"))
    body = multipart_body(s, part(signature, "application/octet-stream"), part(b"notes"))
    assert api.post_multipart(body).status_code == 200
