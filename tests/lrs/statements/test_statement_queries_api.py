"""GET and HEAD on the Statement Resource over real HTTP, in both modes (xAPI 2.0.0
Communication 2.1.3-2.1.4; 1.0.3 Part Three 2.1.3-2.1.4): the formats, the related_* filters,
the filter conditions for StatementRefs, what the LRS normalises, the headers every read carries,
and ``more`` links that outlive the server that issued them."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from tests.fixtures.statements_builders import ADL, agent, statement, voiding
from tests.fixtures.xapi_client import XapiClient

CONSISTENT_THROUGH = "X-Experience-API-Consistent-Through"


@pytest.fixture
def api(lrs_server):
    return XapiClient(lrs_server)


def unique_activity() -> str:
    return f"http://example.org/activities/{uuid.uuid4()}"


def ids(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [s["id"] for s in response.json()["statements"]]


def reference(target_id: str, actor: str = "viittaaja", verb: str = "commented") -> dict:
    return statement(actor=actor, verb=verb) | {"object": {"objectType": "StatementRef", "id": target_id}}


# ---- formats ----------------------------------------------------------------------------------

def test_format_ids_reduces_agents_verbs_and_activities_to_identifiers(api):
    s = statement(activity=unique_activity())
    s["object"] = {
        "objectType": "SubStatement",
        "actor": {"objectType": "Group", "name": "Cohort 3", "mbox": "mailto:cohort3@example.org"},
        "verb": {"id": ADL + "attended", "display": {"en-US": "attended"}},
        "object": {"id": unique_activity(), "definition": {"name": {"en-US": "Day 1"}}},
    }
    api.post(s)
    got = api.get(statementId=s["id"], format="ids").json()
    assert got["actor"] == {"objectType": "Agent", "mbox": s["actor"]["mbox"]}
    assert got["verb"] == {"id": s["verb"]["id"]}
    assert got["object"]["actor"] == {"objectType": "Group", "mbox": "mailto:cohort3@example.org"}
    assert got["object"]["verb"] == {"id": ADL + "attended"}
    assert got["object"]["object"] == {"id": s["object"]["object"]["id"]}


def test_format_canonical_picks_the_accept_language_from_every_language_map(api):
    s = statement()
    s["verb"]["display"] = {"en-US": "completed", "fi-FI": "suoritti"}
    s["object"]["definition"]["name"] = {"en-US": "Coaching day", "fi-FI": "Valmennuspäivä"}
    api.post(s)
    finnish = api.get(statementId=s["id"], format="canonical", headers={"Accept-Language": "fi-FI, en;q=0.5"}).json()
    assert finnish["verb"]["display"] == {"fi-FI": "suoritti"}
    assert finnish["object"]["definition"]["name"] == {"fi-FI": "Valmennuspäivä"}
    exact = api.get(statementId=s["id"], headers={"Accept-Language": "fi-FI"}).json()
    assert exact["verb"]["display"] == s["verb"]["display"], "exact (the default) ignores Accept-Language"


# ---- filters ----------------------------------------------------------------------------------

def test_related_activities_and_related_agents_widen_the_match_to_context(api):
    course, coach = unique_activity(), agent(f"coach-{uuid.uuid4().hex[:8]}")
    inside = statement(context={"contextActivities": {"grouping": [{"id": course}]}, "instructor": coach})
    api.post(inside)
    assert ids(api.get(activity=course)) == []
    assert ids(api.get(activity=course, related_activities=True)) == [inside["id"]]
    assert ids(api.get(agent=coach)) == []
    assert ids(api.get(agent=coach, related_agents=True)) == [inside["id"]]


@pytest.mark.parametrize(
    "value, says",
    [
        ('{"mbox": "aino@example.org"}', "agent.mbox"),
        ('{"objectType": "Group", "member": [{"mbox": "mailto:aino@example.org"}]}', "anonymous"),
        ("[]", "JSON Agent"),
    ],
    ids=["invalid agent", "anonymous group", "not an object"],
)
def test_an_agent_parameter_that_is_no_agent_or_identified_group_is_400(api, value, says):
    response = api.get(agent=value)
    assert response.status_code == 400
    assert says in response.json()["error"]["message"]


def test_voided_statements_leave_queries_but_statements_targeting_them_still_match(api):
    """Communication 2.1.4: the filters other than since/until/limit match a StatementRef's target."""
    verb = f"http://example.org/verbs/{uuid.uuid4()}"
    target = statement() | {"verb": {"id": verb}}
    api.post(target)
    void, comment = voiding(target["id"]), reference(target["id"])
    api.post(void)
    api.post(comment)
    assert ids(api.get(verb=verb)) == [comment["id"], void["id"]]
    assert ids(api.get(verb=verb, limit=1)) == [comment["id"]]
    assert api.get(statementId=target["id"]).status_code == 404


def test_since_and_until_apply_to_the_statement_making_the_reference(api):
    activity = unique_activity()
    target = statement(activity=activity)
    api.post(target)
    stored = api.get(statementId=target["id"]).json()["stored"]
    comment = reference(target["id"])
    api.post(comment)
    assert ids(api.get(activity=activity, since=stored)) == [comment["id"]]
    assert ids(api.get(activity=activity, until=stored)) == [target["id"]]


# ---- normalisation ------------------------------------------------------------------------------

def test_a_single_context_activity_is_returned_as_an_array(api):
    parent = {"objectType": "Activity", "id": unique_activity()}
    s = statement(context={"contextActivities": {"parent": parent}})
    s["object"] = {"objectType": "SubStatement", **statement(context={"contextActivities": {"other": parent}}, with_id=False)}
    api.post(s)
    got = api.get(statementId=s["id"]).json()
    assert got["context"]["contextActivities"]["parent"] == [parent]
    assert got["object"]["context"]["contextActivities"]["other"] == [parent]


def test_2_0_timestamps_are_converted_to_utc_and_1_0_3_timestamps_kept(api, lrs_server):
    s2 = statement(timestamp="2023-05-04T12:00:00.120-05:00")
    api.post(s2)
    assert api.get(statementId=s2["id"]).json()["timestamp"] == "2023-05-04T17:00:00.120Z"
    s1 = statement(timestamp="2023-05-04T12:00:00.120-05:00")
    assert XapiClient(lrs_server, "1.0.3").post(s1).status_code == 200
    assert api.get(statementId=s1["id"]).json()["timestamp"] == "2023-05-04T12:00:00.120-05:00"


def test_a_timestamp_before_the_year_1000_converted_to_utc_keeps_a_four_digit_year(api):
    s = statement(timestamp="0005-01-01T02:00:00.5+02:00")
    api.post(s)
    assert api.get(statementId=s["id"]).json()["timestamp"] == "0005-01-01T00:00:00.5Z"


# ---- headers and HEAD ---------------------------------------------------------------------------

def test_every_read_carries_consistent_through_whatever_its_status(api):
    responses = [
        api.get(limit=1),
        api.get(statementId=str(uuid.uuid4())),  # 404
        api.get(statementId=str(uuid.uuid4()), verb=ADL + "completed"),  # 400
        api.head(statementId="not-a-uuid"),  # 400
    ]
    assert [r.status_code for r in responses] == [200, 404, 400, 400]
    for response in responses:
        through = datetime.fromisoformat(response.headers[CONSISTENT_THROUGH].replace("Z", "+00:00"))
        assert through.tzinfo is not None


def test_head_answers_like_get_without_a_body(api):
    s = statement()
    api.post(s)
    get, head = api.get(statementId=s["id"]), api.head(statementId=s["id"])
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Type"] == get.headers["Content-Type"]
    assert head.headers["Last-Modified"] == get.headers["Last-Modified"]
    assert api.head(statementId=str(uuid.uuid4())).status_code == 404


def test_single_statement_carries_last_modified_of_its_stored_time(api):
    s = statement()
    api.post(s)
    got = api.get(statementId=s["id"])
    stored = datetime.fromisoformat(got.json()["stored"].replace("Z", "+00:00"))
    assert got.headers["Last-Modified"] == stored.strftime("%a, %d %b %Y %H:%M:%S GMT")


def test_a_forged_more_token_is_400(api):
    response = api.get(more="eyJxIjoxfQ")
    assert response.status_code == 400
    assert "more" in response.json()["error"]["message"]


# ---- more links outlive the server ----------------------------------------------------------------

def test_more_links_keep_working_after_a_restart(fresh_lrs):
    lrs = fresh_lrs("embedded")
    api = XapiClient(lrs)
    activity = unique_activity()
    batch = [statement(activity=activity, actor=f"m{i}") for i in range(3)]
    for s in batch:
        api.post(s)
    first = api.get(activity=activity, ascending=True, limit=2).json()
    lrs.kill(only="serve")
    lrs.spawn("serve")
    lrs.wait_ready()
    rest = api.get_url(first["more"])
    assert [s["id"] for s in first["statements"] + rest.json()["statements"]] == [s["id"] for s in batch]
    assert rest.json()["more"] == ""
