"""The State, Activity Profile and Agent Profile resources, the Activities and the Agents
resources over real HTTP, in the embedded and the scale-out mode (issue 4)."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import uuid
from email.utils import parsedate_to_datetime

import pytest
import requests

from tests.fixtures.statements_builders import agent, statement

V2 = {"X-Experience-API-Version": "2.0.0"}
V1 = {"X-Experience-API-Version": "1.0.3"}
STATE, ACTIVITY_PROFILE, AGENT_PROFILE = "/activities/state", "/activities/profile", "/agents/profile"


@pytest.fixture
def api(lrs_server):
    session = requests.Session()
    session.auth = lrs_server.auth
    base = lrs_server.endpoint

    class Api:
        server = lrs_server

        def call(self, method, path, params=None, version=V2, headers=None, **kw):
            return session.request(method, base + path, params=params, headers={**version, **(headers or {})}, **kw)

        def put(self, path, params, body, content_type="application/json", **kw):
            data = json.dumps(body) if content_type == "application/json" and not isinstance(body, (bytes, str)) else body
            return self.call("PUT", path, params, data=data, headers={"Content-Type": content_type, **kw.pop("headers", {})}, **kw)

        def post(self, path, params, body, content_type="application/json", **kw):
            data = json.dumps(body) if content_type == "application/json" and not isinstance(body, (bytes, str)) else body
            return self.call("POST", path, params, data=data, headers={"Content-Type": content_type, **kw.pop("headers", {})}, **kw)

        def get(self, path, params, **kw):
            return self.call("GET", path, params, **kw)

        def delete(self, path, params, **kw):
            return self.call("DELETE", path, params, **kw)

        def statements(self, *bodies):
            response = session.post(base + "/statements", json=list(bodies), headers=V2)
            assert response.status_code == 200, response.text

    return Api()


def learner(name: str | None = None) -> str:
    return json.dumps({"objectType": "Agent", "mbox": f"mailto:{name or uuid.uuid4().hex[:10]}@example.org"})


def state_params(**extra) -> dict:
    return {"activityId": f"http://example.org/courses/{uuid.uuid4()}", "agent": learner(), "stateId": "bookmark", **extra}


def activity_profile_params() -> dict:
    return {"activityId": f"http://example.org/courses/{uuid.uuid4()}", "profileId": "settings"}


def agent_profile_params() -> dict:
    return {"agent": learner(), "profileId": "preferences"}


def etag_of(response) -> str:
    return response.headers["ETag"]


# ---- single documents ------------------------------------------------------------------------

def test_put_then_get_returns_the_document_with_its_etag_and_last_modified(api):
    params = state_params()
    assert api.put(STATE, params, {"page": 7}).status_code == 204
    got = api.get(STATE, params)
    assert got.status_code == 200
    assert got.json() == {"page": 7}
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["ETag"] == f'"{hashlib.sha1(got.content).hexdigest()}"', "a strong, quoted SHA-1 of the content"
    modified = parsedate_to_datetime(got.headers["Last-Modified"])
    assert abs(time.time() - modified.timestamp()) < 60


def test_head_answers_like_get_without_a_body(api):
    params = state_params()
    api.put(STATE, params, {"page": 1})
    head = api.call("HEAD", STATE, params)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["ETag"] == api.get(STATE, params).headers["ETag"]


def test_binary_document_of_5_mb_round_trips_unchanged(api):
    params = state_params(stateId="suspend_data")
    content = os.urandom(5 * 1024 * 1024)
    assert api.put(STATE, params, content, content_type="application/octet-stream").status_code == 204
    got = api.get(STATE, params)
    assert got.status_code == 200
    assert got.content == content
    assert got.headers["Content-Type"] == "application/octet-stream"


def test_content_type_is_kept_exactly_as_sent(api):
    params = activity_profile_params()
    sent = "text/plain; charset=ISO-8859-1; profile=x"
    assert api.put(ACTIVITY_PROFILE, params, "r\xe4ksy".encode("latin-1"), content_type=sent, headers={"If-None-Match": "*"}).status_code == 204
    got = api.get(ACTIVITY_PROFILE, params)
    assert got.headers["Content-Type"] == sent
    assert got.content == "r\xe4ksy".encode("latin-1")


def test_get_of_a_missing_document_is_404(api):
    assert api.get(STATE, state_params()).status_code == 404


def test_delete_removes_one_document(api):
    params = state_params()
    api.put(STATE, params, {"a": 1})
    assert api.delete(STATE, params).status_code == 204
    assert api.get(STATE, params).status_code == 404


# ---- concurrency (Communication 3.1) ---------------------------------------------------------

def test_put_existing_state_without_precondition_is_409_for_2_0_clients(api):
    params = state_params()
    assert api.put(STATE, params, {"v": 1}).status_code == 204
    response = api.put(STATE, params, {"v": 2})
    assert response.status_code == 409
    assert "If-Match" in response.json()["error"]["message"], "the answer says how to resolve the conflict"
    assert api.get(STATE, params).json() == {"v": 1}


def test_put_existing_state_without_precondition_is_allowed_for_1_0_3_clients(api):
    params = state_params()
    assert api.put(STATE, params, {"v": 1}, version=V1).status_code == 204
    assert api.put(STATE, params, {"v": 2}, version=V1).status_code == 204
    got = api.get(STATE, params, version=V1)
    assert got.json() == {"v": 2}
    assert got.headers["X-Experience-API-Version"] == "1.0.3"


@pytest.mark.parametrize("version", [V2, V1], ids=["2.0.0", "1.0.3"])
def test_put_existing_profile_without_precondition_is_409(api, version):
    for path, params in ((ACTIVITY_PROFILE, activity_profile_params()), (AGENT_PROFILE, agent_profile_params())):
        assert api.put(path, params, {"v": 1}, version=version, headers={"If-None-Match": "*"}).status_code == 204
        assert api.put(path, params, {"v": 2}, version=version).status_code == 409
        assert api.get(path, params, version=version).json() == {"v": 1}


@pytest.mark.parametrize("version", [V2, V1], ids=["2.0.0", "1.0.3"])
def test_put_new_profile_without_precondition_is_400_saying_which_header_to_send(api, version):
    """Both versions: the ADL conformance suite asks a 1.0.3 LRS for 400 too (XAPI-00273)."""
    params = agent_profile_params()
    response = api.put(AGENT_PROFILE, params, {"v": 1}, version=version)
    assert response.status_code == 400
    assert "If-None-Match" in response.json()["error"]["message"]
    assert api.get(AGENT_PROFILE, params, version=version).status_code == 404


def test_get_with_a_matching_if_none_match_is_304_without_the_body(api):
    params = activity_profile_params()
    api.put(ACTIVITY_PROFILE, params, {"v": 1}, headers={"If-None-Match": "*"})
    tag = etag_of(api.get(ACTIVITY_PROFILE, params))
    unchanged = api.get(ACTIVITY_PROFILE, params, headers={"If-None-Match": tag})
    assert unchanged.status_code == 304 and unchanged.content == b""
    assert unchanged.headers["ETag"] == tag
    assert api.get(ACTIVITY_PROFILE, params, headers={"If-None-Match": '"0000"'}).status_code == 200


def test_put_with_the_current_etag_replaces_and_a_stale_etag_is_412(api):
    params = activity_profile_params()
    api.put(ACTIVITY_PROFILE, params, {"v": 1}, headers={"If-None-Match": "*"})
    first = etag_of(api.get(ACTIVITY_PROFILE, params))
    assert api.put(ACTIVITY_PROFILE, params, {"v": 2}, headers={"If-Match": first}).status_code == 204
    assert api.put(ACTIVITY_PROFILE, params, {"v": 3}, headers={"If-Match": first}).status_code == 412
    assert api.get(ACTIVITY_PROFILE, params).json() == {"v": 2}


def test_if_none_match_star_is_412_when_the_document_exists(api):
    params = agent_profile_params()
    assert api.put(AGENT_PROFILE, params, {"v": 1}, headers={"If-None-Match": "*"}).status_code == 204
    assert api.put(AGENT_PROFILE, params, {"v": 2}, headers={"If-None-Match": "*"}).status_code == 412
    assert api.get(AGENT_PROFILE, params).json() == {"v": 1}


def test_if_match_on_a_missing_document_is_412(api):
    params = state_params()
    assert api.put(STATE, params, {"v": 1}, headers={"If-Match": '"' + "0" * 40 + '"'}).status_code == 412
    assert api.get(STATE, params).status_code == 404


def test_post_and_delete_with_a_stale_if_match_are_412_and_change_nothing(api):
    params = state_params()
    api.put(STATE, params, {"v": 1})
    stale = '"' + "1" * 40 + '"'
    assert api.post(STATE, params, {"w": 2}, headers={"If-Match": stale}).status_code == 412
    assert api.delete(STATE, params, headers={"If-Match": stale}).status_code == 412
    current = api.get(STATE, params)
    assert current.json() == {"v": 1}
    assert api.delete(STATE, params, headers={"If-Match": etag_of(current)}).status_code == 204


def test_two_concurrent_puts_with_the_same_if_match_exactly_one_wins_the_other_412(api):
    params = activity_profile_params()
    api.put(ACTIVITY_PROFILE, params, {"v": 0}, headers={"If-None-Match": "*"})
    tag = etag_of(api.get(ACTIVITY_PROFILE, params))
    writers = 8
    barrier = threading.Barrier(writers)
    codes: dict[int, int] = {}

    def put(n: int) -> None:
        barrier.wait()
        codes[n] = api.put(ACTIVITY_PROFILE, params, {"v": n}, headers={"If-Match": tag}).status_code

    threads = [threading.Thread(target=put, args=(n,)) for n in range(1, writers + 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes.values()) == [204] + [412] * (writers - 1)
    (winner,) = [n for n, code in codes.items() if code == 204]
    assert api.get(ACTIVITY_PROFILE, params).json() == {"v": winner}


# ---- POST merges (Communication 2.2 JSON procedure) -------------------------------------------

def test_post_merges_top_level_properties_of_json_objects(api):
    params = state_params()
    assert api.post(STATE, params, {"x": "foo", "y": "bar", "deep": {"a": 1}}).status_code == 204
    assert api.post(STATE, params, {"x": "bash", "z": "faz", "deep": {"b": 2}}).status_code == 204
    assert api.get(STATE, params).json() == {"x": "bash", "y": "bar", "z": "faz", "deep": {"b": 2}}


def test_post_that_is_not_a_json_object_into_a_json_document_is_400_and_changes_nothing(api):
    params = state_params()
    api.post(STATE, params, {"x": 1})
    assert api.post(STATE, params, "abcdefg", content_type="not/json").status_code == 400
    assert api.post(STATE, params, '{"x": 2', content_type="application/json").status_code == 400
    assert api.post(STATE, params, "[1, 2]", content_type="application/json").status_code == 400
    assert api.get(STATE, params).json() == {"x": 1}


def test_post_json_into_a_document_that_is_not_json_is_400(api):
    params = state_params()
    api.put(STATE, params, b"/ asdf /", content_type="application/octet-stream")
    assert api.post(STATE, params, {"x": 1}).status_code == 400
    assert api.get(STATE, params).content == b"/ asdf /"


# ---- many documents ----------------------------------------------------------------------------

def test_get_without_state_id_lists_ids_and_since_is_exclusive(api):
    params = state_params()
    scope = {k: v for k, v in params.items() if k != "stateId"}
    api.put(STATE, dict(scope, stateId="a"), {})
    time.sleep(0.01)
    api.put(STATE, dict(scope, stateId="b"), {})
    moment = api.get(STATE, dict(scope, stateId="b"))
    time.sleep(0.01)
    api.put(STATE, dict(scope, stateId="c"), {})
    listed = api.get(STATE, scope)
    assert listed.status_code == 200
    assert sorted(listed.json()) == ["a", "b", "c"]
    assert listed.headers["Last-Modified"]
    since_b = parsedate_to_datetime(moment.headers["Last-Modified"]).isoformat()
    assert "c" in api.get(STATE, dict(scope, since=since_b)).json()
    assert api.get(STATE, dict(scope, since="2999-01-01T00:00:00Z")).json() == []
    assert api.get(STATE, dict(scope, since="not a timestamp")).status_code == 400


def test_profile_ids_are_listed_per_activity_and_per_agent(api):
    activity = activity_profile_params()
    for profile in ("p1", "p2"):
        api.put(ACTIVITY_PROFILE, dict(activity, profileId=profile), {}, headers={"If-None-Match": "*"})
    assert sorted(api.get(ACTIVITY_PROFILE, {"activityId": activity["activityId"]}).json()) == ["p1", "p2"]
    person = agent_profile_params()
    api.put(AGENT_PROFILE, person, {}, headers={"If-None-Match": "*"})
    assert api.get(AGENT_PROFILE, {"agent": person["agent"]}).json() == ["preferences"]


def test_delete_without_state_id_deletes_all_state_of_the_agent_and_activity(api):
    registration = str(uuid.uuid4())
    params = state_params()
    scope = {k: v for k, v in params.items() if k != "stateId"}
    api.put(STATE, dict(scope, stateId="plain"), {})
    api.put(STATE, dict(scope, stateId="registered", registration=registration), {})
    someone_else = dict(scope, stateId="theirs", agent=learner())
    api.put(STATE, someone_else, {})
    assert api.delete(STATE, dict(scope, registration=registration)).status_code == 204
    assert api.get(STATE, scope).json() == ["plain"]
    assert api.delete(STATE, scope).status_code == 204
    assert api.get(STATE, scope).json() == []
    assert api.get(STATE, someone_else).status_code == 200, "another agent's state is not touched"


def test_registration_makes_a_separate_state_document(api):
    params = state_params()
    registered = dict(params, registration=str(uuid.uuid4()))
    api.put(STATE, params, {"r": "none"})
    api.put(STATE, registered, {"r": "one"})
    assert api.get(STATE, params).json() == {"r": "none"}
    assert api.get(STATE, registered).json() == {"r": "one"}
    assert api.get(STATE, dict(params, registration="not-a-uuid")).status_code == 400


def test_agent_is_matched_by_its_identifier_not_its_other_properties(api):
    mbox = f"mailto:{uuid.uuid4().hex[:10]}@example.org"
    params = dict(state_params(), agent=json.dumps({"mbox": mbox}))
    api.put(STATE, params, {"who": "me"})
    renamed = dict(params, agent=json.dumps({"objectType": "Agent", "name": "Aino", "mbox": mbox}))
    assert api.get(STATE, renamed).json() == {"who": "me"}


# ---- parameters, versions and scopes ----------------------------------------------------------

def test_missing_parameters_are_400_naming_the_parameter(api):
    params = state_params()
    for missing in ("stateId", "activityId", "agent"):
        response = api.put(STATE, {k: v for k, v in params.items() if k != missing}, {})
        assert response.status_code == 400
        assert response.json()["error"]["message"].startswith(f"{missing}: parameter is required")
    response = api.put(ACTIVITY_PROFILE, {"activityId": "http://example.org/a"}, {}, headers={"If-None-Match": "*"})
    assert response.json()["error"]["message"].startswith("profileId: parameter is required")


@pytest.mark.parametrize(
    "value",
    ["not JSON", "true", '{"name": "no identifier"}', '{"mbox": "mailto:a@example.org", "openid": "http://a.example.org"}',
     '{"objectType": "Group", "mbox": "mailto:g@example.org"}', '{"mbox": "a@example.org"}'],
    ids=["not-json", "not-object", "no-identifier", "two-identifiers", "group", "mbox-without-mailto"],
)
def test_agent_that_is_not_an_agent_with_one_identifier_is_400(api, value):
    response = api.get(STATE, dict(state_params(), agent=value))
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("agent")


def test_unknown_or_differently_cased_parameter_is_400(api):
    params = state_params()
    assert api.get(STATE, dict(params, learner="x")).status_code == 400
    params["StateId"] = params.pop("stateId")
    assert api.get(STATE, params).status_code == 400


def test_request_without_version_header_is_400(api):
    assert api.get(STATE, state_params(), version={}).status_code == 400


def test_state_needs_the_state_scope_and_profiles_the_profile_scope(api):
    key, secret = api.server.create_credential(scopes="statements/write,state", name="course")
    params, profile = state_params(), activity_profile_params()
    as_course = dict(auth=(key, secret), headers=V2 | {"Content-Type": "application/json"})
    about = statement(activity=params["activityId"])
    about["actor"] = json.loads(params["agent"])  # the course names the learner: their state is the course's to keep
    assert requests.post(api.server.endpoint + "/statements", json=about, **as_course).status_code == 200
    assert requests.put(api.server.endpoint + STATE, params=params, data="{}", **as_course).status_code == 204
    assert requests.get(api.server.endpoint + STATE, params=params, **as_course).status_code == 200
    put_profile = requests.put(api.server.endpoint + ACTIVITY_PROFILE, params=profile, data="{}",
                               auth=(key, secret), headers=V2 | {"If-None-Match": "*"})
    assert put_profile.status_code == 403
    reader_key, reader_secret = api.server.create_credential(scopes="all/read", name="reader")
    reader = dict(auth=(reader_key, reader_secret), headers=V2)
    assert requests.get(api.server.endpoint + STATE, params=params, **reader).status_code == 200
    assert requests.delete(api.server.endpoint + STATE, params=params, **reader).status_code == 403


# ---- Activities and Agents resources -----------------------------------------------------------

def test_activity_never_seen_is_returned_with_only_its_id(api):
    iri = f"http://example.org/never-seen/{uuid.uuid4()}"
    response = api.get("/activities", {"activityId": iri})
    assert response.status_code == 200
    assert response.json() == {"objectType": "Activity", "id": iri}


def test_activity_definition_is_merged_from_every_statement_that_defines_it(api):
    iri = f"http://example.org/coaching-days/{uuid.uuid4()}"
    english = statement(activity=iri)
    english["object"]["definition"] = {"name": {"en-US": "Coaching day"}, "type": "http://example.org/types/meeting"}
    finnish = statement(activity=iri, actor="lauri")
    finnish["object"]["definition"] = {"name": {"fi-FI": "Valmennuspäivä"}, "description": {"fi-FI": "Ensimmäinen"}}
    api.statements(english)
    api.statements(finnish)
    got = api.get("/activities", {"activityId": iri})
    assert got.status_code == 200
    assert got.json() == {
        "objectType": "Activity",
        "id": iri,
        "definition": {
            "name": {"en-US": "Coaching day", "fi-FI": "Valmennuspäivä"},
            "type": "http://example.org/types/meeting",
            "description": {"fi-FI": "Ensimmäinen"},
        },
    }


def test_activities_needs_an_activity_id(api):
    response = api.get("/activities", {})
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("activityId: parameter is required")


def test_person_combines_the_names_seen_in_statements_for_the_identifier(api):
    who = uuid.uuid4().hex[:10]
    seen = agent(who)
    api.statements(statement(actor=who))
    api.statements(statement(actor="coach", context={"instructor": dict(seen, name="Coach " + who)}))
    person = api.get("/agents", {"agent": json.dumps({"objectType": "Agent", "mbox": seen["mbox"]})})
    assert person.status_code == 200
    assert person.json() == {"objectType": "Person", "name": [who, "Coach " + who], "mbox": [seen["mbox"]]}, "first seen first"


def test_person_for_an_agent_never_seen_carries_the_given_agent(api):
    account = {"homePage": "http://lms.example.org", "name": uuid.uuid4().hex}
    person = api.get("/agents", {"agent": json.dumps({"name": "Nobody", "account": account})})
    assert person.status_code == 200
    assert person.json() == {"objectType": "Person", "name": ["Nobody"], "account": [account]}


def test_agents_without_an_identified_agent_is_400(api):
    assert api.get("/agents", {}).status_code == 400
    assert api.get("/agents", {"agent": json.dumps({"objectType": "Agent", "name": "Rick"})}).status_code == 400
