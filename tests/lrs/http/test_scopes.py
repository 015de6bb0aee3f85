"""Scopes by route (issue 9, defect 11): every route of the app, called by a credential holding
each scope alone, answers 403 exactly when the scope table (xAPI 2.0.0 Communication 4.2, 1.0.3
Part Three 4.2, plus Polku's ``admin``, ``analytics``, ``metrics``, and ``erase`` and ``keys``, which
``all`` does not grant) does not grant it, and 401 without
credentials unless the route is public. A route added without a row here fails the first test.

The ``state`` and ``profile`` scopes reach only the agents associated with the credential: the
actor or object of statements it stored (the spec's "to the extent it is possible to determine").
"""

from __future__ import annotations

import json
import uuid

import pytest

from lrs.app import create_app
from lrs.stores.credentials import SCOPES, SEPARATE_SCOPES
from lrs.config.settings import Settings
from tests.fixtures.credentials import basic_token

V2 = {"X-Experience-API-Version": "2.0.0"}
LEARNER = {"objectType": "Agent", "mbox": "mailto:scoped-learner@example.org"}
ACTIVITY = "http://polku.example/activities/scoped"
STATE_PARAMS = {"activityId": ACTIVITY, "agent": json.dumps(LEARNER), "stateId": "bookmark"}
AGENT_PROFILE_PARAMS = {"agent": json.dumps(LEARNER), "profileId": "preferences"}
ACTIVITY_PROFILE_PARAMS = {"activityId": ACTIVITY, "profileId": "settings"}


def _statement() -> dict:
    return {"id": str(uuid.uuid4()), "actor": LEARNER, "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
            "object": {"id": ACTIVITY}}


PROGRAMME = {"title": "Scoped", "items": [{"id": "i1", "title": "One", "activity": ACTIVITY, "due": "2026-12-01"}]}

#: (method, rule, what the request needs, the scopes besides ``all`` that may make it).
#: ``None`` for the scopes: a public route (no credential needed).
MATRIX = [
    ("GET", "/", {}, None),
    ("GET", "/xapi/about", {}, None),
    ("GET", "/api/v1/openapi.json", {}, None),
    ("GET", "/health", {}, None),
    ("GET", "/ready", {}, None),
    ("GET", "/metrics", {}, {"metrics", "admin"}),
    ("POST", "/xapi/statements", {"json": [_statement]}, {"statements/write"}),
    ("PUT", "/xapi/statements", {"json": _statement, "id": True}, {"statements/write"}),
    ("GET", "/xapi/statements", {}, {"statements/read", "statements/read/mine", "all/read"}),
    ("GET", "/xapi/activities", {"params": {"activityId": ACTIVITY}}, {"define", "all/read"}),
    ("GET", "/xapi/agents", {"params": {"agent": json.dumps(LEARNER)}}, {"define", "all/read"}),
    ("GET", "/xapi/activities/state", {"params": STATE_PARAMS}, {"state", "all/read"}),
    ("PUT", "/xapi/activities/state", {"params": STATE_PARAMS, "json": {"at": 1}}, {"state"}),
    ("POST", "/xapi/activities/state", {"params": STATE_PARAMS, "json": {"at": 2}}, {"state"}),
    ("DELETE", "/xapi/activities/state", {"params": STATE_PARAMS}, {"state"}),
    ("GET", "/xapi/activities/profile", {"params": {"activityId": ACTIVITY}}, {"profile", "all/read"}),
    ("PUT", "/xapi/activities/profile", {"params": ACTIVITY_PROFILE_PARAMS, "json": {"a": 1}, "new": True}, {"profile"}),
    ("POST", "/xapi/activities/profile", {"params": ACTIVITY_PROFILE_PARAMS, "json": {"a": 2}}, {"profile"}),
    ("DELETE", "/xapi/activities/profile", {"params": ACTIVITY_PROFILE_PARAMS}, {"profile"}),
    ("GET", "/xapi/agents/profile", {"params": {"agent": json.dumps(LEARNER)}}, {"profile", "all/read"}),
    ("PUT", "/xapi/agents/profile", {"params": AGENT_PROFILE_PARAMS, "json": {"a": 1}, "new": True}, {"profile"}),
    ("POST", "/xapi/agents/profile", {"params": AGENT_PROFILE_PARAMS, "json": {"a": 2}}, {"profile"}),
    ("DELETE", "/xapi/agents/profile", {"params": AGENT_PROFILE_PARAMS}, {"profile"}),
    ("GET", "/api/v1/programmes", {}, {"admin", "analytics"}),
    ("PUT", "/api/v1/programmes/<key>", {"json": PROGRAMME}, {"admin"}),
    ("GET", "/api/v1/programmes/<key>", {}, {"admin", "analytics"}),
    ("GET", "/api/v1/cohorts", {}, {"admin", "analytics"}),
    ("PUT", "/api/v1/cohorts/<key>", {"json": {"title": "Scoped cohort", "programme": "scoped", "members": [LEARNER]}},
     {"admin"}),
    ("GET", "/api/v1/cohorts/<key>", {}, {"admin", "analytics"}),
    ("GET", "/api/v1/cohorts/<key>/progress", {}, {"analytics"}),
    ("GET", "/api/v1/cohorts/<key>/engagement", {}, {"analytics"}),
    ("GET", "/api/v1/cohorts/<key>/success", {}, {"analytics"}),
    ("DELETE", "/api/v1/programmes/<key>", {}, {"admin"}),
    ("DELETE", "/api/v1/cohorts/<key>", {}, {"admin"}),
    ("GET", "/api/v1/credentials", {}, {"admin"}),
    ("POST", "/api/v1/credentials", {"json": {"name": "scoped-made", "scopes": ["statements/read"]}}, {"admin"}),
    ("GET", "/api/v1/credentials/<key>", {}, {"admin"}),
    ("DELETE", "/api/v1/credentials/<key>", {}, {"admin"}),
    ("POST", "/api/v1/credentials/<key>/rotate", {}, {"admin"}),
    ("GET", "/api/v1/agents/export", {"params": {"agent": json.dumps(LEARNER)}}, {"admin"}),
    # erasing and reading the log's keys: scopes ``all`` does not grant (SEPARATE_SCOPES)
    ("DELETE", "/api/v1/agents", {"params": {"agent": json.dumps({"mbox": "mailto:scoped-erased@example.org"})}}, {"erase"}),
    ("GET", "/api/v1/erasures", {}, {"erase", "admin"}),
    ("GET", "/api/v1/data-keys", {"params": {"kid": "0" * 32}}, {"keys"}),
]
#: Routes no credential reaches by design: files Flask serves; and the dashboard's pages
#: (dashboard), which take a signed-in session cookie, never an Authorization header: their
#: scope rules (analytics or admin to sign in, a read scope for /statements) are tested in
#: tests/dashboard.
NOT_API = {
    "/static/<path:filename>", "/dashboard/static/<path:filename>", "/docs/cohort-metrics.md",
    "/sign-in", "/sign-out", "/language", "/cohorts", "/cohorts/<key>", "/cohorts/<key>/live",
    "/cohorts/<key>/<any(progress, engagement, success):tab>",
    "/cohorts/<key>/<any(progress, engagement, success):tab>.csv",
    "/cohorts/<key>/members/<int:position>", "/statements",
}


@pytest.fixture(scope="module")
def lrs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scopes")
    app = create_app(Settings(database_url=f"sqlite:///{folder / 'scopes.sqlite3'}", run_projections=True))
    services = app.extensions["polku"]
    tokens = {}
    for scope in sorted(SCOPES):
        credential, secret = services.credentials.create(scope, {scope})
        tokens[scope] = basic_token(credential, secret)
    # the statement-writing credential names the learner, so its agent is associated with it
    both, secret = services.credentials.create("course", {"statements/write", "state", "profile"})
    tokens["course"] = basic_token(both, secret)
    client = app.test_client()
    client.put("/api/v1/programmes/scoped", json=PROGRAMME, headers={"Authorization": tokens["all"]})
    client.put("/api/v1/cohorts/scoped", json={"title": "Scoped", "programme": "scoped", "members": [LEARNER]},
               headers={"Authorization": tokens["all"]})
    yield client, tokens
    services.close()


def _call(client, method: str, rule: str, needs: dict, authorization: str | None):
    headers = dict(V2)
    if authorization:
        headers["Authorization"] = authorization
    if needs.get("new"):
        headers["If-None-Match"] = "*"
    params = dict(needs.get("params", {}))
    body = needs.get("json")
    if callable(body):
        body = body()
    if needs.get("id"):
        params["statementId"] = body["id"]
    elif isinstance(body, list):
        body = [item() if callable(item) else item for item in body]
    return client.open(rule.replace("<key>", "scoped"), method=method, query_string=params, json=body, headers=headers)


def test_every_route_has_a_row_in_the_scope_matrix():
    app = create_app(Settings(database_url="sqlite:///:memory:", run_projections=False))
    routes = {(method, rule.rule) for rule in app.url_map.iter_rules() if rule.rule not in NOT_API
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes == {(method, rule) for method, rule, _, _ in MATRIX}
    app.extensions["polku"].close()


@pytest.mark.parametrize("scope", sorted(SCOPES))
@pytest.mark.parametrize("method, rule, needs, granted", MATRIX, ids=[f"{m} {r}" for m, r, _, _ in MATRIX])
def test_a_route_answers_403_exactly_when_the_scope_does_not_grant_it(lrs, scope, method, rule, needs, granted):
    client, tokens = lrs
    response = _call(client, method, rule, needs, tokens[scope])
    allowed = granted is None or scope in granted or (scope == "all" and not granted <= SEPARATE_SCOPES)
    if allowed and scope in ("state", "profile") and "agent" in str(needs.get("params", {})):
        # granted by the scope, refused by association: this credential stored no statement about the agent
        assert response.status_code == 403 and response.get_json()["error"]["message"].startswith("agent:")
    elif allowed:
        assert response.status_code not in (401, 403), response.get_data(as_text=True)
    else:
        assert response.status_code == 403, response.get_data(as_text=True)
        assert scope not in response.get_json()["error"]["message"].split(": ")[-1].split(", ")


@pytest.mark.parametrize("method, rule, needs, granted", MATRIX, ids=[f"{m} {r}" for m, r, _, _ in MATRIX])
def test_a_route_without_credentials_is_401_unless_public(lrs, method, rule, needs, granted):
    client, _tokens = lrs
    response = _call(client, method, rule, needs, None)
    assert (response.status_code == 401) == (granted is not None), response.status_code


@pytest.mark.parametrize("path, params", [
    ("/xapi/activities/state", {"activityId": ACTIVITY, "stateId": "bookmark"}),
    ("/xapi/agents/profile", {"profileId": "preferences"}),
])
def test_state_and_profile_scopes_reach_only_agents_of_the_credentials_own_statements(lrs, path, params):
    client, tokens = lrs
    stranger = {"objectType": "Agent", "mbox": f"mailto:{uuid.uuid4().hex[:8]}@example.org"}
    auth = {**V2, "Authorization": tokens["course"]}
    for agent, expected in ((stranger, 403), (LEARNER, None)):
        if agent is LEARNER:  # the course names the learner in a statement of its own
            assert client.post("/xapi/statements", json=_statement(), headers=auth).status_code == 200
        query = {**params, "agent": json.dumps(agent)}
        put = client.put(path, query_string=query, json={"seen": True}, headers={**auth, "If-Match": "*"}
                         if agent is LEARNER and client.get(path, query_string=query, headers=auth).status_code == 200
                         else {**auth, "If-None-Match": "*"})
        read = client.get(path, query_string=query, headers=auth)
        delete = client.delete(path, query_string=query, headers=auth)
        if expected == 403:
            assert (put.status_code, read.status_code, delete.status_code) == (403, 403, 403)
            assert put.get_json()["error"]["message"].startswith("agent:")
        else:
            assert (put.status_code, read.status_code, delete.status_code) == (204, 200, 204)
    # all/read reads every agent's documents; all writes them
    stranger_query = {**params, "agent": json.dumps(stranger)}
    assert client.get(path, query_string=stranger_query, headers={**V2, "Authorization": tokens["all/read"]}).status_code == 404
    assert client.put(path, query_string=stranger_query, json={}, headers={**V2, "Authorization": tokens["all"],
                                                                           "If-None-Match": "*"}).status_code == 204
