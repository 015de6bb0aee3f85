"""Nothing reaches the log that a projection cannot apply (docs/design.md, invariant 7; issue 9, defects 1,
5 and 13): a string holding U+0000 or a lone surrogate, and a number that is not finite, are
400 naming the field, in both modes -- and the statements after them are stored and readable."""

from __future__ import annotations

import pytest

from tests.fixtures.statements_builders import statement
from tests.fixtures.xapi_client import XapiClient

#: (what the client sends, as raw JSON text, inside an otherwise valid statement) -> field named
BAD_STRINGS = {
    "mbox NUL": ('"actor": {"mbox": "mailto:aino\\u0000@example.org"}', "actor.mbox"),
    "instructor name NUL": (
        '"actor": {"mbox": "mailto:aino@example.org"}, '
        '"context": {"instructor": {"name": "Ee\\u0000va", "mbox": "mailto:eeva@example.org"}}',
        "context.instructor.name",
    ),
    "lone surrogate": ('"actor": {"mbox": "mailto:aino@example.org", "name": "A\\ud800"}', "actor.name"),
    "NUL in an extension key": (
        '"actor": {"mbox": "mailto:aino@example.org"}, "result": {"extensions": {"http://x.example/\\u0000": 1}}',
        "result.extensions",
    ),
}
BAD_NUMBERS = {
    "NaN": ("NaN", "result.score.raw"),
    "Infinity": ("Infinity", "result.score.raw"),
    "-Infinity": ("-Infinity", "result.score.raw"),
    "1e999": ("1e999", "result.score.raw"),
}


def raw_statement(fields: str) -> bytes:
    return (
        '{"id": "%s", %s, "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"}, '
        '"object": {"id": "http://example.org/activities/a"}}' % (statement()["id"], fields)
    ).encode()


@pytest.fixture(scope="module")
def api(lrs_server):
    return XapiClient(lrs_server)


def post_raw(api: XapiClient, body: bytes):
    return api.session.post(api.base + "/statements", data=body, headers={"Content-Type": "application/json"}, timeout=30)


@pytest.mark.parametrize("case", list(BAD_STRINGS))
def test_a_string_no_projection_can_store_is_400_naming_the_field(api, case):
    fields, named = BAD_STRINGS[case]
    response = post_raw(api, raw_statement(fields))
    assert response.status_code == 400, response.text
    assert named in response.json()["error"]["message"]
    after = statement()
    assert api.post(after).status_code == 200
    assert api.get(statementId=after["id"]).status_code == 200, "the projections go on"


@pytest.mark.parametrize("case", list(BAD_NUMBERS))
def test_a_number_that_is_not_finite_is_400_naming_the_field(api, case):
    number, named = BAD_NUMBERS[case]
    body = raw_statement('"actor": {"mbox": "mailto:aino@example.org"}, "result": {"score": {"raw": %s}}' % number)
    response = post_raw(api, body)
    assert response.status_code == 400, response.text
    message = response.json()["error"]["message"]
    assert named in message and "finite" in message



def test_an_integer_of_more_digits_than_can_be_read_is_400_naming_the_field(api):
    """JSON puts no limit on a number's digits; Python reads at most 4300 of an integer's. A longer
    one is no parser fault ("not valid JSON") but a value Polku does not take, named where it is."""
    body = raw_statement('"actor": {"mbox": "mailto:aino@example.org"}, "result": {"extensions": {"http://x.example/n": %s}}' % ("9" * 5000))
    response = post_raw(api, body)
    assert response.status_code == 400, response.text
    message = response.json()["error"]["message"]
    assert "result.extensions.http://x.example/n" in message and "digits" in message


def test_a_body_of_more_json_values_than_the_limit_is_400_naming_where_it_passed_it(api):
    """Validating a statement costs time for each value it holds; a body within the size limit can
    hold millions of small values (an array of a million numbers is 2 MB). More than 200000 values
    in one body are refused before any is validated -- objects and numbers as they are parsed,
    others naming the object or array that passes the limit -- and the statements after it are
    stored as before."""
    for many, named in ((",".join(['""'] * 200_001), "result.extensions.http://x.example/n:"), (",".join(["1"] * 200_001), "")):
        body = raw_statement('"actor": {"mbox": "mailto:aino@example.org"}, "result": {"extensions": {"http://x.example/n": [%s]}}' % many)
        response = post_raw(api, body)
        assert response.status_code == 400, response.text
        message = response.json()["error"]["message"]
        assert "200000" in message and named in message
    fits = raw_statement('"actor": {"mbox": "mailto:aino@example.org"}, "result": {"extensions": {"http://x.example/n": [%s]}}' % ",".join(["1"] * 1000))
    assert post_raw(api, fits).status_code == 200

def test_a_nul_in_a_query_parameter_is_400_not_an_outage(api):
    response = api.get(verb="http://adlnet.gov/expapi/verbs/\x00")
    assert response.status_code == 400
    assert "verb" in response.json()["error"]["message"]



@pytest.mark.parametrize(
    "path",
    ["/api/v1/programmes/x%00", "/api/v1/cohorts/x%00", "/api/v1/cohorts/x%00/progress", "/api/v1/credentials/x%00"],
)
def test_a_nul_in_the_path_is_400_naming_it_not_an_internal_error(api, path):
    """A key in the path reaches a query as a query parameter does; PostgreSQL cannot take U+0000
    in a text, so it was a 500 there (and a 404 on SQLite)."""
    response = api.session.get(api.base.removesuffix("/xapi") + path, timeout=30)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"].startswith("path: ")


@pytest.mark.parametrize("coding", ["gzip", "br", "deflate, gzip"])
def test_a_body_in_a_content_coding_polku_does_not_read_is_400_naming_the_header_and_writes_nothing(api, coding):
    """A body said to be compressed was read as if it were not: a gzip body was 'not UTF-8', and a
    plain one under Content-Encoding: gzip was stored as if the header were not there."""
    body = statement()
    response = api.session.post(api.base + "/statements", json=body, headers={"Content-Encoding": coding}, timeout=30)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"].startswith("Content-Encoding: ")
    assert api.get(statementId=body["id"]).status_code == 404
    identity = statement()
    assert api.session.post(api.base + "/statements", json=identity, headers={"Content-Encoding": "identity"}, timeout=30).status_code == 200

def test_a_forged_or_altered_more_token_is_400_and_a_real_one_pages_on(api):
    import base64
    import json

    for _ in range(3):
        assert api.post(statement(actor="pager")).status_code == 200
    first = api.get(agent={"mbox": "mailto:pager@example.org"}, limit=1)
    assert first.status_code == 200
    more = first.json()["more"]
    assert more, "three statements, one per page"
    assert api.get_url(more).status_code == 200
    assert len(api.get_url(more).json()["statements"]) == 1

    token = more.split("more=", 1)[1]
    payload, _, signature = token.partition(".")
    query = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    query["q"]["limit"] = 100_000
    forged_payload = base64.urlsafe_b64encode(json.dumps(query).encode()).decode().rstrip("=")
    for forged in (forged_payload, f"{forged_payload}.{signature}", "not-a-token", f"{payload}.{signature[:-2]}AA"):
        response = api.get(more=forged)
        assert response.status_code == 400, (forged, response.text)
        assert "more" in response.json()["error"]["message"]


def test_a_nul_in_a_document_id_is_400_naming_it_not_unavailable(api):
    response = api.session.put(
        api.base + "/activities/state",
        params={"activityId": "http://example.org/a", "agent": '{"mbox": "mailto:aino@example.org"}', "stateId": "s\x00"},
        json={"x": 1},
    )
    assert response.status_code == 400
    assert "stateId" in response.json()["error"]["message"]


def test_more_statements_than_the_cap_are_413_naming_the_limit_before_any_is_validated(api):
    cap = 1000  # POLKU_MAX_STATEMENTS_PER_REQUEST's default
    response = api.post([{"junk": i} for i in range(cap + 1)])
    assert response.status_code == 413
    assert "at most 1000" in response.json()["error"]["message"]


def test_a_body_of_junk_is_refused_after_the_first_problems_are_found(api):
    response = api.post([{"junk": i} for i in range(1000)])
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert message.startswith("invalid statement: [0]") and "validation stops at 20 problems" in message


@pytest.mark.parametrize("content_type", ["text/html", "image/svg+xml", "application/xhtml+xml"])
def test_a_document_of_active_content_is_served_as_an_attachment_never_rendered(api, content_type):
    params = {"activityId": "http://example.org/a", "agent": '{"mbox": "mailto:aino@example.org"}', "stateId": content_type}
    script = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"
    stored = api.session.put(api.base + "/activities/state", params=params, data=script, headers={"Content-Type": content_type})
    assert stored.status_code == 204
    served = api.session.get(api.base + "/activities/state", params=params)
    assert served.status_code == 200 and served.content == script, "the bytes come back unchanged"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Content-Disposition"] == "attachment"
    assert "sandbox" in served.headers["Content-Security-Policy"]


def test_every_response_says_nosniff(api):
    for response in (api.get(limit=1), api.session.get(api.base + "/about"), api.get(statementId="not-a-uuid")):
        assert response.headers["X-Content-Type-Options"] == "nosniff"


EDGES = ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"]


@pytest.mark.parametrize("edge", EDGES)
def test_a_timestamp_outside_years_1_to_9999_in_utc_is_400_naming_it(api, edge):
    response = api.post(statement(timestamp=edge))
    assert response.status_code == 400, response.text
    assert "timestamp" in response.json()["error"]["message"]


@pytest.mark.parametrize("edge", EDGES)
@pytest.mark.parametrize("parameter", ["since", "until"])
def test_a_statement_query_bound_at_the_edge_of_time_is_400_or_answered_never_500(api, edge, parameter):
    response = api.get(**{parameter: edge})
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        assert parameter in response.json()["error"]["message"]


@pytest.mark.parametrize("edge", EDGES)
def test_a_document_since_at_the_edge_of_time_is_400_or_answered_never_500(api, edge):
    response = api.session.get(
        api.base + "/activities/state",
        params={"activityId": "http://example.org/a", "agent": '{"mbox": "mailto:aino@example.org"}', "since": edge},
    )
    assert response.status_code in (200, 400), response.text


@pytest.mark.parametrize("bounds", [{"from": "9999-12-31"}, {"to": "0001-01-01"}, {"from": "0001-01-01", "to": "9999-12-31"}])
def test_engagement_bounds_at_the_edge_of_time_are_400_or_answered_never_500(api, bounds):
    response = api.session.get(f"http://127.0.0.1:{api.lrs.port}/api/v1/cohorts/nobody/engagement", params=bounds)
    assert response.status_code in (400, 404), response.text


def test_json_nested_a_hundred_thousand_deep_is_400_in_a_document_post_and_the_admin_api(api):
    deep = ("[" * 100_000 + "]" * 100_000).encode()
    params = {"activityId": "http://example.org/a", "agent": '{"mbox": "mailto:aino@example.org"}', "stateId": "deep"}
    posted = api.session.post(api.base + "/activities/state", params=params, data=b'{"a":' + deep + b"}",
                              headers={"Content-Type": "application/json"})
    assert posted.status_code == 400
    programme = api.session.put(f"http://127.0.0.1:{api.lrs.port}/api/v1/programmes/deep", data=deep,
                                headers={"Content-Type": "application/json"})
    assert programme.status_code == 400
    assert "deeper" in programme.json()["error"]["message"]


@pytest.mark.parametrize("agent", [
    '{"openid": "http://x.example/\\ud800"}',
    '{"mbox": "mailto:a\\u0000@example.org"}',
    '{"mbox": "mailto:a@example.org", "mbox": "mailto:b@example.org"}',
])
def test_an_agent_filter_no_store_can_hold_is_400_naming_it(api, agent):
    response = api.get(agent=agent)
    assert response.status_code == 400, response.text
    assert "agent" in response.json()["error"]["message"]


def test_a_parameter_whose_percent_encoding_is_not_utf8_is_400_not_another_documents_id(api):
    """``stateId=%ff`` and ``stateId=%fe`` would both be decoded to U+FFFD: one document under two ids."""
    params = "activityId=http%3A%2F%2Fexample.org%2Fa&agent=%7B%22mbox%22%3A%22mailto%3Aa%40example.org%22%7D&stateId=%ff"
    response = api.session.put(f"{api.base}/activities/state?{params}", data=b"{}", headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and "UTF-8" in response.json()["error"]["message"]


def test_a_parameter_given_twice_is_400_naming_it(api):
    response = api.session.get(f"{api.base}/statements?limit=1&limit=2")
    assert response.status_code == 400 and response.json()["error"]["message"].startswith("limit: given more than once")


@pytest.mark.parametrize("limit", ["\u0663", " 3", "1_0", "+3", "99999999999999"])
def test_a_limit_in_other_than_ascii_digits_is_400_naming_it(api, limit):
    response = api.session.get(f"{api.base}/statements", params={"limit": limit})
    assert response.status_code == 400 and response.json()["error"]["message"].startswith("limit:")
