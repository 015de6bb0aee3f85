"""Fuzzing the write routes in-process (issue 9): whatever JSON-ish bytes arrive at the statement,
document and admin routes, the answer is never a 5xx, and a refused statement request writes
nothing to the log."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lrs.app import create_app
from lrs.config.settings import Settings

# JSON values, with the strings that break stores (NUL, lone surrogates) and the numbers that
# break JSON (NaN, infinities) among them
_text = st.text(alphabet=st.characters(codec=None, min_codepoint=0, max_codepoint=0xFFFF), max_size=12)
_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | _text
_json = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4), max_leaves=20)
#: Statement-shaped values: the right keys with fuzzed values, so validation is reached, not only parsing
_statementish = st.fixed_dictionaries(
    {"actor": _json | st.fixed_dictionaries({"mbox": _text}), "verb": _json | st.fixed_dictionaries({"id": _text}),
     "object": _json | st.fixed_dictionaries({"id": _text})},
    optional={"id": _text, "result": _json, "context": _json, "timestamp": _text, "version": _text},
)


def _encode(value) -> bytes:
    try:
        return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")
    except (ValueError, TypeError):
        return b"{}"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    app = create_app(Settings(database_url=f"sqlite:///{folder / 'fuzz.sqlite3'}", run_projections=True))
    services = app.extensions["polku"]
    _, secret = services.credentials.create("fuzz", {"all"})
    key = services.credentials.list()[0].key
    token = base64.b64encode(f"{key}:{secret}".encode()).decode()
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Basic {token}"
    yield client, services
    services.close()


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@FUZZ
@given(body=_statementish | _json | st.lists(_statementish, max_size=3))
def test_a_statement_post_is_never_a_5xx_and_a_refused_one_writes_nothing(client, body):
    client, services = client
    before = services.log.end(0)
    response = client.post("/xapi/statements", data=_encode(body), headers={"X-Experience-API-Version": "2.0.0",
                                                                            "Content-Type": "application/json"})
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code != 200:
        assert services.log.end(0) == before, "a refused request appended nothing"


@FUZZ
@given(body=_json, state_id=_text.filter(lambda t: not any(0xD800 <= ord(c) <= 0xDFFF for c in t)),
       method=st.sampled_from(["PUT", "POST"]))
def test_a_document_write_is_never_a_5xx(client, body, state_id, method):
    """(A URL cannot carry a lone surrogate, so the document id has none; the body may.)"""
    client, _services = client
    response = client.open(
        "/xapi/activities/state", method=method, data=_encode(body),
        query_string={"activityId": "http://example.org/a", "agent": '{"mbox": "mailto:a@example.org"}', "stateId": state_id or "s"},
        headers={"X-Experience-API-Version": "2.0.0", "Content-Type": "application/json"},
    )
    assert response.status_code < 500, response.get_data(as_text=True)


@FUZZ
@given(body=_json | st.fixed_dictionaries({"name": _json, "items": st.lists(_json, max_size=3)}))
def test_an_admin_programme_put_is_never_a_5xx(client, body):
    client, _services = client
    response = client.put("/api/v1/programmes/fuzz", data=_encode(body), headers={"Content-Type": "application/json"})
    assert response.status_code < 500, response.get_data(as_text=True)


@pytest.mark.parametrize("header", ["Basic ä", "Basic \u00ff\u00fe", "Basic", "Basic !!!!", "Bearer token", "Basic w6Q6w6Q="])
def test_a_malformed_authorization_header_is_401_never_500(client, header):
    client, _services = client
    response = client.get("/xapi/statements", headers={"Authorization": header, "X-Experience-API-Version": "2.0.0"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")
