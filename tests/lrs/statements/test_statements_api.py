"""The Statement Resource over real HTTP, in the embedded and the scale-out mode (core issue)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import datetime, timezone

import pytest
import requests

from tests.fixtures.statements_builders import ADL, agent, statement, voiding

V2 = {"X-Experience-API-Version": "2.0.0"}


@pytest.fixture
def api(lrs_server):
    session = requests.Session()
    session.auth = lrs_server.auth
    session.headers.update(V2)
    base = lrs_server.endpoint

    class Api:
        server = lrs_server

        def post(self, body, **kw):
            return session.post(base + "/statements", json=body, **kw)

        def put(self, body, statement_id, **kw):
            return session.put(base + "/statements", params={"statementId": statement_id}, json=body, **kw)

        def get(self, **params):
            return session.get(base + "/statements", params=params)

        def get_url(self, path):
            return session.get(f"http://127.0.0.1:{lrs_server.port}{path}")

    return Api()


def unique_activity() -> str:
    return f"http://example.org/activities/{uuid.uuid4()}"


# ---- writing --------------------------------------------------------------------------------

def test_posted_statement_is_readable_by_id_as_soon_as_post_returns(api):
    s = statement()
    response = api.post(s)
    assert response.status_code == 200
    assert response.json() == [s["id"]]
    got = api.get(statementId=s["id"])
    assert got.status_code == 200
    assert got.json()["id"] == s["id"]
    assert got.json()["actor"]["mbox"] == s["actor"]["mbox"]


def test_post_array_returns_ids_in_request_order(api):
    batch = [statement(actor=f"learner{i}") for i in range(5)]
    response = api.post(batch)
    assert response.status_code == 200
    assert response.json() == [s["id"] for s in batch]


def test_lrs_assigns_id_when_absent(api):
    response = api.post(statement(with_id=False))
    assert response.status_code == 200
    (statement_id,) = response.json()
    assert uuid.UUID(statement_id)
    assert api.get(statementId=statement_id).status_code == 200


def test_lrs_sets_stored_timestamp_authority_and_version(api):
    s = statement()
    api.post(s)
    got = api.get(statementId=s["id"]).json()
    stored = datetime.fromisoformat(got["stored"].replace("Z", "+00:00"))
    assert abs((datetime.now(timezone.utc) - stored).total_seconds()) < 60
    assert got["timestamp"] == got["stored"], "timestamp defaults to stored when absent"
    assert got["version"].startswith("2.0")
    assert got["authority"]["account"]["name"] == api.server.key


def test_authority_and_stored_from_client_are_replaced(api):
    s = statement(stored="2001-01-01T00:00:00Z", authority=agent("impostor"))
    response = api.post(s)
    if response.status_code == 400:
        return  # rejecting a client-set authority is also conformant
    got = api.get(statementId=s["id"]).json()
    assert got["authority"]["account"]["name"] == api.server.key
    assert not got["stored"].startswith("2001")


def test_put_with_statement_id_stores_it_and_answers_204(api):
    s = statement()
    statement_id = s.pop("id")
    response = api.put(s, statement_id)
    assert response.status_code == 204
    assert api.get(statementId=statement_id).json()["id"] == statement_id


def test_put_existing_id_same_body_is_no_op(api):
    s = statement()
    assert api.put(s, s["id"]).status_code == 204
    first = api.get(statementId=s["id"]).json()
    assert api.put(s, s["id"]).status_code == 204
    assert api.post(s).status_code == 200
    assert api.get(statementId=s["id"]).json()["stored"] == first["stored"]


def test_put_existing_id_different_body_is_409(api):
    s = statement()
    assert api.put(s, s["id"]).status_code == 204
    changed = dict(s, verb={"id": ADL + "failed"})
    response = api.put(changed, s["id"])
    assert response.status_code == 409
    assert api.get(statementId=s["id"]).json()["verb"]["id"] == ADL + "completed"


def test_concurrent_different_bodies_under_one_id_exactly_one_wins(api):
    statement_id = str(uuid.uuid4())
    bodies = [statement(actor=f"racer{i}") | {"id": statement_id} for i in range(8)]
    results: list[int] = []
    barrier = threading.Barrier(len(bodies))

    def send(body):
        barrier.wait()
        results.append(api.post(body).status_code)

    threads = [threading.Thread(target=send, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200] + [409] * 7
    winner = api.get(statementId=statement_id).json()["actor"]["mbox"]
    assert winner in {b["actor"]["mbox"] for b in bodies}


def test_put_id_not_matching_statement_id_is_400(api):
    s = statement()
    response = api.put(s, str(uuid.uuid4()))
    assert response.status_code == 400
    assert "id" in response.json()["error"]["message"]


def test_invalid_statement_is_400_naming_the_field(api):
    s = statement()
    s["actor"]["mbox"] = "aino@example.org"
    response = api.post(s)
    assert response.status_code == 400
    assert "actor.mbox" in response.json()["error"]["message"]
    assert api.get(statementId=s["id"]).status_code == 404


def test_batch_with_one_invalid_statement_writes_nothing(api):
    batch = [statement(), statement(), statement()]
    del batch[2]["verb"]
    response = api.post(batch)
    assert response.status_code == 400
    assert "verb" in response.json()["error"]["message"]
    for s in batch:
        assert api.get(statementId=s["id"]).status_code == 404


def test_batch_with_a_conflicting_id_writes_nothing(api):
    existing = statement()
    api.post(existing)
    fresh = statement()
    response = api.post([fresh, dict(existing, verb={"id": ADL + "failed"})])
    assert response.status_code == 409
    assert api.get(statementId=fresh["id"]).status_code == 404


def test_malformed_json_is_400(api):
    response = requests.post(
        api.server.endpoint + "/statements", data="{not json", auth=api.server.auth, headers=V2 | {"Content-Type": "application/json"}
    )
    assert response.status_code == 400


# ---- voiding ------------------------------------------------------------------------------

def test_voided_statement_is_hidden_by_statement_id_and_found_by_voided_statement_id(api):
    activity = unique_activity()
    target = statement(activity=activity)
    api.post(target)
    void = voiding(target["id"])
    assert api.post(void).status_code == 200
    assert api.get(statementId=target["id"]).status_code == 404
    got = api.get(voidedStatementId=target["id"])
    assert got.status_code == 200 and got.json()["id"] == target["id"]
    # the voided statement drops out of queries; the voiding statement, which targets it, matches
    assert [s["id"] for s in api.get(activity=activity).json()["statements"]] == [void["id"]]


def test_voiding_a_voiding_statement_is_400(api):
    target = statement()
    void = voiding(target["id"])
    api.post([target, void])
    response = api.post(voiding(void["id"]))
    assert response.status_code == 400


def test_unvoided_statement_is_not_found_by_voided_statement_id(api):
    s = statement()
    api.post(s)
    assert api.get(voidedStatementId=s["id"]).status_code == 404


# ---- querying -----------------------------------------------------------------------------

def test_query_filters_by_agent_verb_activity_and_registration(api):
    activity = unique_activity()
    registration = str(uuid.uuid4())
    mine = statement(actor="kaisa", activity=activity, registration=registration)
    other_verb = statement(actor="kaisa", activity=activity, verb="attempted")
    other_actor = statement(actor="lauri", activity=activity)
    api.post([mine, other_verb, other_actor])

    def ids(**params):
        response = api.get(**params)
        assert response.status_code == 200, response.text
        return {s["id"] for s in response.json()["statements"]}

    assert ids(activity=activity) == {mine["id"], other_verb["id"], other_actor["id"]}
    assert ids(activity=activity, agent=json.dumps(agent("kaisa"))) == {mine["id"], other_verb["id"]}
    assert ids(activity=activity, verb=ADL + "attempted") == {other_verb["id"]}
    assert ids(registration=registration) == {mine["id"]}


def test_query_since_and_until_are_on_stored(api):
    activity = unique_activity()
    first = statement(activity=activity)
    api.post(first)
    stored_first = api.get(statementId=first["id"]).json()["stored"]
    time.sleep(0.01)
    second = statement(activity=activity)
    api.post(second)
    assert [s["id"] for s in api.get(activity=activity, since=stored_first).json()["statements"]] == [second["id"]]
    assert [s["id"] for s in api.get(activity=activity, until=stored_first).json()["statements"]] == [first["id"]]


def test_query_pages_through_more_links_without_repeats_or_gaps(api):
    activity = unique_activity()
    batch = [statement(activity=activity, actor=f"p{i}") for i in range(7)]
    for s in batch:  # separate requests: separate stored times
        api.post(s)
    seen = []
    response = api.get(activity=activity, limit=3, ascending="true").json()
    while True:
        seen.extend(s["id"] for s in response["statements"])
        if not response["more"]:
            break
        assert len(response["statements"]) == 3
        response = api.get_url(response["more"]).json()
    assert seen == [s["id"] for s in batch]


def test_query_default_order_is_newest_stored_first(api):
    activity = unique_activity()
    older, newer = statement(activity=activity), statement(activity=activity)
    api.post(older)
    api.post(newer)
    assert [s["id"] for s in api.get(activity=activity).json()["statements"]] == [newer["id"], older["id"]]


def test_get_statements_carries_date_and_consistent_through(api):
    api.post(statement())
    response = api.get(limit=1)
    assert response.status_code == 200
    assert response.headers["Date"]
    through = datetime.fromisoformat(response.headers["X-Experience-API-Consistent-Through"].replace("Z", "+00:00"))
    assert through.tzinfo is not None


def test_unknown_query_parameter_is_400(api):
    response = api.get(learner="x")
    assert response.status_code == 400
    assert "learner" in response.json()["error"]["message"]


def test_statement_id_with_query_filters_is_400(api):
    response = api.get(statementId=str(uuid.uuid4()), verb=ADL + "completed")
    assert response.status_code == 400


# ---- headers and authentication ----------------------------------------------------------

def test_responses_carry_the_version_the_client_spoke(api):
    s = statement()
    r2 = api.post(s)
    assert r2.headers["X-Experience-API-Version"] == "2.0.0"
    r1 = requests.get(
        api.server.endpoint + "/statements", params={"statementId": s["id"]}, auth=api.server.auth, headers={"X-Experience-API-Version": "1.0.3"}
    )
    assert r1.status_code == 200
    assert r1.headers["X-Experience-API-Version"] == "1.0.3"


def test_request_without_version_header_is_400(api):
    response = requests.get(api.server.endpoint + "/statements", auth=api.server.auth)
    assert response.status_code == 400
    assert "X-Experience-API-Version" in response.json()["error"]["message"]


def test_about_lists_the_versions_without_authentication(api):
    response = requests.get(api.server.endpoint + "/about")
    assert response.status_code == 200
    assert set(response.json()["version"]) >= {"2.0.0", "1.0.3"}
    assert response.headers["X-Experience-API-Version"]


def test_no_credentials_is_401_and_wrong_secret_is_401(api):
    assert requests.get(api.server.endpoint + "/statements", headers=V2).status_code == 401
    wrong = requests.get(api.server.endpoint + "/statements", headers=V2, auth=(api.server.key, "guess-4711"))
    assert wrong.status_code == 401
    assert "guess-4711" not in wrong.text, "the attempted secret is never echoed"


def test_credential_without_the_scope_is_403(api):
    key, secret = api.server.create_credential(scopes="statements/read", name="reader")
    response = requests.post(api.server.endpoint + "/statements", json=statement(), headers=V2, auth=(key, secret))
    assert response.status_code == 403
    assert requests.get(api.server.endpoint + "/statements", headers=V2, auth=(key, secret)).status_code == 200


def test_statements_read_mine_reads_only_the_statements_its_credential_wrote(api):
    """Communication 4.2: statements/read/mine reads the statements written by the same credential."""
    writer = api.server.create_credential(scopes="statements/write,statements/read/mine", name="tool")
    others = statement(actor="someone")
    assert api.post(others).status_code == 200  # written by the test's own credential
    own = [statement(actor=f"mine{i}") for i in range(3)]
    assert requests.post(api.server.endpoint + "/statements", json=own, headers=V2, auth=writer).status_code == 200

    def get(**params):
        return requests.get(api.server.endpoint + "/statements", params=params, headers=V2, auth=writer)

    assert get(statementId=own[0]["id"]).status_code == 200
    assert get(statementId=others["id"]).status_code == 404, "another credential's statement is not there for it"
    seen, page = [], get(limit=2).json()
    while True:
        seen += [s["id"] for s in page["statements"]]
        if not page["more"]:
            break
        page = requests.get(f"http://127.0.0.1:{api.server.port}{page['more']}", headers=V2, auth=writer).json()
    assert sorted(seen) == sorted(s["id"] for s in own), "every page keeps the restriction"
