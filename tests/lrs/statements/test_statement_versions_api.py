"""Versions, the 1.0.3 Alternate Request Syntax and error answers on the Statement Resource, over
real HTTP in both modes (xAPI 2.0.0 Communication 1.3, 3.2, 3.3; 1.0.3 Part Three 1.3, 3.2, 3.3).

One server speaks 2.0.0 and 1.0.3, answering each client in the version it asked for; a request
without the version header is 400 everywhere but the About resource."""

from __future__ import annotations

import json
import uuid
from urllib.parse import urlencode

import pytest
import requests

from tests.fixtures.statements_builders import statement
from tests.fixtures.xapi_client import XapiClient

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def api(lrs_server):
    return XapiClient(lrs_server)


@pytest.fixture
def api_1(lrs_server):
    return XapiClient(lrs_server, "1.0.3")


def basic(lrs) -> str:
    return requests.Request("GET", "http://x", auth=lrs.auth).prepare().headers["Authorization"]


CONTEXT_AGENTS = {"contextAgents": [{"objectType": "contextAgent", "agent": {"mbox": "mailto:peer@example.org"}}]}


# ---- versions ---------------------------------------------------------------------------------

def test_each_client_is_answered_in_the_version_it_asked_for(api, api_1):
    s = statement()
    assert api.post(s).headers["X-Experience-API-Version"] == "2.0.0"
    assert api_1.get(statementId=s["id"]).headers["X-Experience-API-Version"] == "1.0.3"
    assert XapiClient(api.lrs, "1.0").get(limit=1).headers["X-Experience-API-Version"] == "1.0.3"


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT"])
def test_a_statements_request_without_the_version_header_is_400(lrs_server, method):
    response = requests.request(
        method, lrs_server.endpoint + "/statements", auth=lrs_server.auth,
        params={"statementId": str(uuid.uuid4())} if method == "PUT" else None, json=statement(),
    )
    assert response.status_code == 400
    if method != "HEAD":
        assert "X-Experience-API-Version" in response.json()["error"]["message"]


def test_an_unsupported_version_is_400(lrs_server):
    assert XapiClient(lrs_server, "0.95").get(limit=1).status_code == 400
    assert XapiClient(lrs_server, "3.0.0").get(limit=1).status_code == 400


def test_context_agents_and_groups_are_2_0_only(api, api_1):
    assert api.post(statement(context=CONTEXT_AGENTS)).status_code == 200
    response = api_1.post(statement(context=CONTEXT_AGENTS))
    assert response.status_code == 400
    assert "context.contextAgents" in response.json()["error"]["message"]


def test_a_version_property_must_fit_the_rules_of_the_request(api, api_1):
    assert api.post(statement(version="2.0.0")).status_code == 200
    assert api_1.post(statement(version="2.0.0")).status_code == 400


def test_the_default_version_answers_clients_that_name_none(fresh_lrs):
    lrs = fresh_lrs("embedded", POLKU_DEFAULT_VERSION="1.0.3")
    about = requests.get(lrs.endpoint + "/about")
    assert about.status_code == 200
    assert about.headers["X-Experience-API-Version"] == "1.0.3"
    refused = requests.get(lrs.endpoint + "/statements", auth=lrs.auth)
    assert refused.status_code == 400
    assert refused.headers["X-Experience-API-Version"] == "1.0.3"


# ---- the alternate request syntax (1.0.3 only) --------------------------------------------------

def alternate(lrs, method: str, form: dict, version: str | None = "1.0.3", query: dict | None = None):
    headers = dict(FORM)
    if version:
        headers["X-Experience-API-Version"] = version
    params = {"method": method} | (query or {})
    return requests.post(lrs.endpoint + "/statements", params=params, data=urlencode(form), headers=headers)


def test_1_0_3_alternate_get_returns_a_statement_result(lrs_server):
    response = alternate(lrs_server, "GET", {"Authorization": basic(lrs_server), "limit": "1"})
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"statements", "more"}
    assert response.headers["X-Experience-API-Consistent-Through"]


def test_1_0_3_alternate_put_takes_headers_and_content_from_the_form(lrs_server, api):
    s = statement()
    form = {
        "statementId": s["id"],
        "content": json.dumps(s),
        "Authorization": basic(lrs_server),
        "X-Experience-API-Version": "1.0.3",
        "Content-Type": "application/json",
    }
    response = alternate(lrs_server, "PUT", form, version=None)
    assert response.status_code == 204, response.text
    assert api.get(statementId=s["id"]).json()["id"] == s["id"]


def test_1_0_3_alternate_post_stores_statements(lrs_server, api):
    s = statement()
    response = alternate(lrs_server, "POST", {"content": json.dumps([s]), "Authorization": basic(lrs_server)})
    assert response.status_code == 200
    assert response.json() == [s["id"]]


@pytest.mark.parametrize(
    "form, query, version",
    [
        ({"limit": "1"}, {"limit": "1"}, "1.0.3"),  # parameters outside the form
        ({"X-Experience-API-Version": "0.8", "limit": "1"}, None, "1.0.3"),  # the form's version wins
        ({"limit": "1"}, None, "2.0.0"),  # 2.0.0 removed the syntax
        ({"X-Experience-API-Version": "2.0.0", "limit": "1"}, None, "1.0.3"),
    ],
    ids=["extra query parameter", "bad version in form", "2.0 header", "2.0 in form"],
)
def test_malformed_or_2_0_alternate_requests_are_400(lrs_server, form, query, version):
    form = form | {"Authorization": basic(lrs_server)}
    response = alternate(lrs_server, "GET", form, version=version, query=query)
    assert response.status_code == 400
    assert response.json()["error"]["message"]


def test_alternate_request_without_credentials_is_401(lrs_server):
    assert alternate(lrs_server, "GET", {"limit": "1"}).status_code == 401


def test_alternate_request_that_is_not_a_form_is_400(lrs_server):
    headers = {"Content-Type": "application/json", "X-Experience-API-Version": "1.0.3"}
    response = requests.post(lrs_server.endpoint + "/statements", params={"method": "PUT"}, data="{}", headers=headers, auth=lrs_server.auth)
    assert response.status_code == 400


# ---- error answers --------------------------------------------------------------------------------

def test_a_body_with_a_repeated_key_is_400(api):
    s = statement()
    raw = json.dumps(s)[:-1] + ', "verb": {"id": "http://adlnet.gov/expapi/verbs/failed"}}'
    response = api.session.post(api.base + "/statements", data=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "'verb' appears twice" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "send, status",
    [
        (lambda api: api.request("DELETE"), 405),
        (lambda api: api.post(statement(), params={"statementId": str(uuid.uuid4())}), 400),
        (lambda api: api.put(statement(), "not-a-uuid"), 400),
        (lambda api: api.request("PUT", json=statement()), 400),
        (lambda api: api.session.post(api.base + "/statements", data=b"", headers={"Content-Type": "application/json"}), 400),
        (lambda api: api.session.post(api.base + "/statements", data=b"\xff\xfe", headers={"Content-Type": "application/json"}), 400),
        (lambda api: api.session.post(api.base + "/statements", data="[" * 5000 + "]" * 5000, headers={"Content-Type": "application/json"}), 400),
    ],
    ids=["DELETE", "POST with parameters", "bad statementId", "PUT without statementId", "empty body", "not UTF-8", "too deep"],
)
def test_each_error_is_answered_with_its_status_and_a_json_message(api, send, status):
    response = send(api)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["status"] == status and error["message"]
