"""The dashboard's server side, in process (Flask's test client): signing in and out, CSRF, scopes,
the session cookie, no Basic-auth prompts, escaping, the language, the CSV links, and the bounded
live streams; on SQLite and on PostgreSQL. The pages in a real browser against a real server: test_browser.py."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone

import pytest

from lrs.app import create_app
from lrs.stores.credentials import credentials
from lrs.config.settings import Settings
from tests.fixtures.credentials import basic
from tests.fixtures.databases import MASTER_KEY

NS = "https://example.com/dash"
V2 = {"X-Experience-API-Version": "2.0.0"}
ALICE = {"objectType": "Agent", "name": "Alice", "mbox": "mailto:alice@example.com"}
BOB = {"objectType": "Agent", "name": "Bob <b>", "mbox": "mailto:bob@example.com"}


class Polku:
    def __init__(self, app) -> None:
        self.app = app
        self.store = app.extensions["polku"].credentials
        self.admin = self.credential({"all"})

    def credential(self, scopes: set[str]) -> tuple[str, str]:
        credential, secret = self.store.create("dash " + " ".join(sorted(scopes)), scopes)
        return credential.key, secret

    def api(self, method: str, path: str, **kwargs):
        client = self.app.test_client()
        return client.open(path, method=method, headers=basic(*self.admin) | kwargs.pop("headers", {}), **kwargs)


@pytest.fixture
def polku(database_url):
    """A Polku in process with one programme and one cohort, on SQLite and on PostgreSQL."""
    app = create_app(Settings(database_url=database_url, master_key=MASTER_KEY, run_projections=True, threads=4))
    polku = Polku(app)
    items = [
        {"activity": f"{NS}/day-1", "title": "Coaching day 1", "kind": "coaching-day", "required": True, "due": "2026-02-03"},
        {"activity": f"{NS}/check", "title": "Knowledge check", "kind": "assessment", "required": True},
    ]
    assert polku.api("PUT", "/api/v1/programmes/p", json={"name": "P", "items": items}).status_code == 201
    cohort = {"name": "North", "programme": "p", "iri": f"{NS}/north", "starts": "2026-02-02", "ends": "2026-03-01", "members": [ALICE, BOB]}
    assert polku.api("PUT", "/api/v1/cohorts/north", json=cohort).status_code == 201
    yield polku
    app.extensions["polku"].close()


def statement(actor: dict, verb: str, activity: str, name: str | None = None, **result) -> dict:
    body = {
        "id": str(uuid.uuid4()),
        "actor": actor,
        "verb": {"id": f"http://adlnet.gov/expapi/verbs/{verb}"},
        "object": {"id": activity, "objectType": "Activity"},
        "timestamp": "2026-02-03T10:00:00Z",
    }
    if name:
        body["object"]["definition"] = {"name": {"en-US": name}}
    if result:
        body["result"] = result
    return body


def post(polku: Polku, *statements: dict) -> None:
    response = polku.api("POST", "/xapi/statements", json=list(statements), headers=V2)
    assert response.status_code == 200, response.get_data(as_text=True)


def csrf(page_text: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page_text).group(1)


def signed_in(polku: Polku, credential: tuple[str, str] | None = None):
    client = polku.app.test_client()
    token = csrf(client.get("/sign-in").get_data(as_text=True))
    key, secret = credential or polku.admin
    response = client.post("/sign-in", data={"csrf": token, "key": key, "secret": secret, "next": "/cohorts"})
    assert response.status_code == 303, response.get_data(as_text=True)
    return client


def session_token(client) -> str:
    return csrf(client.get("/cohorts").get_data(as_text=True))


# ---- signing in ------------------------------------------------------------------------------

def test_a_browser_that_is_not_signed_in_is_sent_to_sign_in_and_never_asked_for_basic_auth(polku):
    client = polku.app.test_client()
    for path in ("/", "/cohorts", "/cohorts/north/progress", "/cohorts/north/members/0", "/statements", "/cohorts/north/progress.csv"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in"), path
        assert "WWW-Authenticate" not in response.headers
    live = client.get("/cohorts/north/live", headers={"Accept": "text/event-stream"})
    assert live.status_code == 403 and "WWW-Authenticate" not in live.headers


def test_sign_in_without_the_forms_csrf_token_is_refused(polku):
    client = polku.app.test_client()
    client.get("/sign-in")
    key, secret = polku.admin
    for token in (None, "forged"):
        data = {"key": key, "secret": secret} | ({"csrf": token} if token else {})
        response = client.post("/sign-in", data=data)
        assert response.status_code == 400
        assert "The form has expired" in response.get_data(as_text=True)
    assert client.get("/cohorts").status_code == 302


def test_sign_out_and_the_language_switch_without_the_csrf_token_are_refused(polku):
    client = signed_in(polku)
    assert client.post("/sign-out", data={}).status_code == 400
    assert client.post("/language", data={"lang": "fi", "csrf": "forged"}).status_code == 400
    assert client.get("/cohorts").status_code == 200  # still signed in, still English
    assert 'lang="en"' in client.get("/cohorts").get_data(as_text=True)


def test_a_wrong_secret_gets_the_same_answer_as_an_unknown_key(polku):
    client = polku.app.test_client()
    token = csrf(client.get("/sign-in").get_data(as_text=True))
    key, _secret = polku.admin
    wrong = client.post("/sign-in", data={"csrf": token, "key": key, "secret": "wrong"})
    unknown = client.post("/sign-in", data={"csrf": token, "key": "no-such-key", "secret": "wrong"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_data() == unknown.get_data()
    assert "Unknown key or wrong secret." in wrong.get_data(as_text=True)
    assert "WWW-Authenticate" not in wrong.headers and "WWW-Authenticate" not in unknown.headers


def test_a_credential_without_the_analytics_or_admin_scope_cannot_sign_in(polku):
    writer = polku.credential({"statements/write", "statements/read"})
    client = polku.app.test_client()
    token = csrf(client.get("/sign-in").get_data(as_text=True))
    response = client.post("/sign-in", data={"csrf": token, "key": writer[0], "secret": writer[1]})
    assert response.status_code == 403
    assert "neither the analytics nor the admin scope" in response.get_data(as_text=True)
    assert client.get("/cohorts").status_code == 302
    for scope in ("analytics", "admin"):
        assert signed_in(polku, polku.credential({scope})).get("/cohorts").status_code == 200


def test_the_session_cookie_is_signed_httponly_samesite_and_expires(polku):
    client = polku.app.test_client()
    token = csrf(client.get("/sign-in").get_data(as_text=True))
    key, secret = polku.admin
    response = client.post("/sign-in", data={"csrf": token, "key": key, "secret": secret})
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("polku_dashboard=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie
    assert secret not in cookie
    value = cookie.split(";")[0].split("=", 1)[1]
    forged = polku.app.test_client()
    forged.set_cookie("polku_dashboard", value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB"))
    assert forged.get("/cohorts").status_code == 302, "a cookie whose signature does not hold is no session"


def test_signing_out_or_deleting_the_credential_ends_the_session(polku):
    client = signed_in(polku)
    response = client.post("/sign-out", data={"csrf": session_token(client)})
    assert response.status_code == 200 and "You have signed out." in response.get_data(as_text=True)
    assert client.get("/cohorts").status_code == 302
    credential = polku.credential({"analytics"})
    other = signed_in(polku, credential)
    polku.store.delete(credential[0])
    assert other.get("/cohorts").status_code == 302


def test_revoking_or_rotating_the_credential_ends_its_sessions(polku):
    """Issue 10: a revoked credential, or one whose secret was rotated, is signed out at once."""
    revoked = polku.credential({"analytics"})
    rotated = polku.credential({"admin"})
    revoked_session, rotated_session = signed_in(polku, revoked), signed_in(polku, rotated)
    assert revoked_session.get("/cohorts").status_code == 200 and rotated_session.get("/cohorts").status_code == 200
    polku.store.revoke(revoked[0])
    _, new_secret = polku.store.rotate(rotated[0])
    assert revoked_session.get("/cohorts").status_code == 302
    assert rotated_session.get("/cohorts").status_code == 302
    assert signed_in(polku, (rotated[0], new_secret)).get("/cohorts").status_code == 200, "the new secret signs in"


def test_an_expired_credential_cannot_keep_a_session(polku):
    credential, secret = polku.store.create("dash expiring", {"analytics"}, expires="2099-01-01T00:00:00.000000Z")
    session = signed_in(polku, (credential.key, secret))
    assert session.get("/cohorts").status_code == 200
    with polku.app.extensions["polku"].engine.begin() as conn:  # time passes: the moment is reached
        conn.execute(credentials.update().where(credentials.c.key == credential.key).values(expires="2000-01-01T00:00:00.000000Z"))
    assert session.get("/cohorts").status_code == 302


def test_after_sign_in_only_a_path_of_this_site_is_followed(polku):
    client = polku.app.test_client()
    token = csrf(client.get("/sign-in").get_data(as_text=True))
    key, secret = polku.admin
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        response = client.post("/sign-in", data={"csrf": token, "key": key, "secret": secret, "next": target})
        assert response.headers["Location"] == "/", target
        token = session_token(client)


# ---- pages -------------------------------------------------------------------------------------

def test_the_root_is_the_dashboard_for_a_browser_and_json_for_a_json_client(polku):
    client = signed_in(polku)
    page = client.get("/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.status_code == 200 and page.mimetype == "text/html" and "North" in page.get_data(as_text=True)
    card = polku.app.test_client().get("/", headers={"Accept": "application/json"})
    assert card.status_code == 200 and card.json["xapi"].endswith("/xapi/")


def test_each_csv_link_answers_exactly_what_the_api_answers_with_format_csv(polku):
    post(polku, statement(ALICE, "completed", f"{NS}/day-1"), statement(BOB, "passed", f"{NS}/check", success=True, score={"scaled": 0.8}))
    client = signed_in(polku)
    for tab, query in (("progress", "?as_of=2026-02-10"), ("engagement", "?from=2026-02-01&to=2026-02-28"), ("success", "")):
        mine = client.get(f"/cohorts/north/{tab}.csv{query}")
        api = polku.api("GET", f"/api/v1/cohorts/north/{tab}{query}{'&' if query else '?'}format=csv")
        assert mine.status_code == api.status_code == 200
        assert mine.get_data() == api.get_data()
        assert mine.headers["Content-Disposition"] == api.headers["Content-Disposition"]
        assert f'href="/cohorts/north/{tab}.csv' in client.get(f"/cohorts/north/{tab}{query}").get_data(as_text=True)


def cells(page: str, member: str) -> list[str]:
    row = re.search(rf">{re.escape(member)}</a></th>(.*?)</tr>", page, re.S).group(1)
    return re.findall(r"<td class=(done|started|overdue|notdue)>", row)


def test_the_progress_matrix_says_done_in_progress_overdue_or_not_due_per_member_and_item(polku):
    started = statement(ALICE, "experienced", f"{NS}/day-1") | {"timestamp": "2026-02-01T09:00:00Z"}
    post(polku, started, statement(BOB, "completed", f"{NS}/day-1"))
    client = signed_in(polku)
    before = client.get("/cohorts/north/progress?as_of=2026-02-02").get_data(as_text=True)
    assert cells(before, "Alice") == ["started", "notdue"] and cells(before, "Bob &lt;b&gt;") == ["notdue", "notdue"]
    after = client.get("/cohorts/north/progress?as_of=2026-02-10").get_data(as_text=True)
    assert cells(after, "Alice") == ["overdue", "notdue"] and cells(after, "Bob &lt;b&gt;") == ["done", "notdue"]
    api = polku.api("GET", "/api/v1/cohorts/north/progress?as_of=2026-02-10").json
    assert [m["completed_required"] for m in api["members"]] == [0, 1]
    assert api["members"][0]["overdue"] == [f"{NS}/day-1"]


def test_the_success_tab_shows_per_assessment_results_that_add_up_to_the_apis_pass_rate(polku):
    post(polku, statement(ALICE, "failed", f"{NS}/check", success=False, score={"scaled": 0.3}),
         statement(BOB, "failed", f"{NS}/check", success=False, score={"scaled": 0.4}),
         statement(BOB, "passed", f"{NS}/check", success=True, score={"scaled": 0.9}) | {"timestamp": "2026-02-04T10:00:00Z"})
    api = polku.api("GET", "/api/v1/cohorts/north/success").json
    assert api["summary"]["pass_rate"] == 0.5
    page = signed_in(polku).get("/cohorts/north/success").get_data(as_text=True)
    row = re.search(r"<th scope=\"row\">Knowledge check</th>(.*?)</tr>", page, re.S).group(1)
    assert re.findall(r'<td class="num">([^<]*)</td>', row) == ["2", "1", "50%"]
    assert '<dd data-field="pass_rate">50%</dd>' in page


def test_a_bad_date_or_sort_is_400_naming_the_parameter(polku):
    client = signed_in(polku)
    for path, name in (("/cohorts/north/progress?as_of=2026-13-01", "as_of"), ("/cohorts/north/engagement?from=x", "from"),
                       ("/cohorts/north/progress?sort=secret", "sort"), ("/cohorts/north/engagement?quiet=0", "quiet"),
                       ("/statements?since=yesterday", "since"), ("/statements?agent=nobody", "agent")):
        response = client.get(path)
        assert response.status_code == 400, path
        assert f"{name}:" in response.get_data(as_text=True), path
    assert client.get("/cohorts/nobody/progress").status_code == 404
    assert client.get("/cohorts/north/members/9").status_code == 404


def test_statement_json_and_learner_text_are_escaped_never_run_as_html(polku):
    post(polku, statement(BOB, "experienced", f"{NS}/x", name="<script>alert(1)</script>"))
    client = signed_in(polku)
    page = client.get("/statements").get_data(as_text=True)
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Bob &lt;b&gt;" in client.get("/cohorts/north/progress").get_data(as_text=True)
    assert "script-src 'self'" in client.get("/statements").headers["Content-Security-Policy"]


def test_the_statements_browser_needs_a_credential_that_may_read_statements(polku):
    analyst = signed_in(polku, polku.credential({"analytics"}))
    response = analyst.get("/statements")
    assert response.status_code == 403 and "statements/read" in response.get_data(as_text=True)
    assert signed_in(polku, polku.credential({"analytics", "statements/read"})).get("/statements").status_code == 200


def test_the_statements_browser_filters_by_agent_and_verb_and_pages(polku):
    post(polku, *[statement(ALICE, "experienced", f"{NS}/x{i}") for i in range(25)], statement(BOB, "attended", f"{NS}/day-1"))
    client = signed_in(polku)
    first = client.get("/statements?agent=alice@example.com").get_data(as_text=True)
    assert first.count('<tr data-id="') == 20
    more = re.search(r'href="([^"]+)" id="next-page"', first).group(1).replace("&amp;", "&")
    second = client.get(more).get_data(as_text=True)
    assert second.count('<tr data-id="') == 5 and 'id="next-page"' not in second
    bob = client.get("/statements?verb=http://adlnet.gov/expapi/verbs/attended").get_data(as_text=True)
    assert bob.count('<tr data-id="') == 1 and "Bob" in bob


def test_the_language_comes_from_accept_language_and_the_switch_wins(polku):
    client = signed_in(polku)
    finnish = client.get("/cohorts", headers={"Accept-Language": "fi-FI,fi;q=0.9,en;q=0.5"}).get_data(as_text=True)
    assert 'lang="fi"' in finnish and "Ryhmät" in finnish
    assert 'lang="en"' in client.get("/cohorts", headers={"Accept-Language": "sv-SE"}).get_data(as_text=True)
    response = client.post("/language", data={"lang": "fi", "csrf": session_token(client), "next": "/cohorts"})
    assert response.status_code == 303 and response.headers["Location"] == "/cohorts"
    assert 'lang="fi"' in client.get("/cohorts", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert client.post("/language", data={"lang": "xx", "csrf": session_token(client)}).status_code == 400


def test_finnish_numbers_and_dates_are_written_the_finnish_way(polku):
    from dashboard.i18n import Locale

    fi, en = Locale("fi"), Locale("en")
    assert (fi.percent(0.8571428571428571), en.percent(0.8571428571428571)) == ("86\u00a0%", "86%")
    assert (en.percent(5 / 8), en.percent(1 / 8), en.percent(0.0)) == ("63%", "13%", "0%")  # halves up, for people
    assert (fi.number(-0.25), en.number(-0.25)) == ("\u22120,25", "-0.25")
    assert (fi.date("2026-02-03"), en.date("2026-02-03")) == ("3.2.2026", "3 Feb 2026")
    assert fi.moment("2026-02-03T08:05:00.000000Z") == "3.2.2026 klo 8.05 UTC"
    assert en.moment("2026-02-03T10:05:00+02:00") == "3 Feb 2026, 08:05 UTC"


# ---- live ----------------------------------------------------------------------------------

def read_until(response, marker: str) -> str:
    seen = ""
    for chunk in response.response:
        seen += chunk.decode() if isinstance(chunk, bytes) else chunk
        if marker in seen:
            return seen
    return seen


def test_the_live_stream_says_changed_when_a_statement_changes_the_cohort(polku):
    client = signed_in(polku)
    stream = client.get("/cohorts/north/live", buffered=False)
    assert stream.mimetype == "text/event-stream"
    assert "event: hello" in read_until(stream, "event: hello")
    post(polku, statement(ALICE, "completed", f"{NS}/check"))
    assert "event: changed" in read_until(stream, "event: changed")
    stream.close()


def test_live_streams_are_bounded_and_a_refused_one_is_told_to_retry_later(polku):
    # threads=4: one stream at a time (dashboard.live.max_streams)
    client = signed_in(polku)
    first = client.get("/cohorts/north/live", buffered=False)
    assert "event: hello" in read_until(first, "event: hello")
    refused = client.get("/cohorts/north/live")
    assert refused.status_code == 200 and refused.get_data(as_text=True) == "retry: 10000\n\n"
    first.close()
    again = client.get("/cohorts/north/live", buffered=False)
    assert "event: hello" in read_until(again, "event: hello")
    again.close()


def test_the_session_expires_after_its_lifetime(polku):
    import time

    from dashboard import signin

    client = signed_in(polku)
    with client.session_transaction() as session:  # as if signed in a lifetime and a minute ago
        session["at"] -= int(signin.SESSION_LIFETIME.total_seconds()) + 60
    assert client.get("/cohorts").status_code == 302
    with client.session_transaction() as session:
        session["at"] = int(time.time())
    assert client.get("/cohorts").status_code == 200
    cookie = client.get_cookie("polku_dashboard")
    assert cookie.expires is not None
    lifetime = cookie.expires - datetime.now(timezone.utc)
    assert signin.SESSION_LIFETIME.total_seconds() - 120 < lifetime.total_seconds() <= signin.SESSION_LIFETIME.total_seconds()


def test_the_views_read_for_the_dashboard_are_the_apis_views_with_details_beside_them(polku):
    from datetime import date

    from projections.cohort_views import CohortViews

    post(polku, statement(ALICE, "experienced", f"{NS}/check"), statement(BOB, "completed", f"{NS}/day-1"),
         statement(BOB, "passed", f"{NS}/check", success=True, score={"scaled": 0.7}))
    views = CohortViews(polku.app.extensions["polku"].engine)
    with_states = views.progress("north", date(2026, 2, 10), states=True)
    states = with_states.pop("states")
    assert with_states == views.progress("north", date(2026, 2, 10))
    assert states == {0: {f"{NS}/check": False}, 1: {f"{NS}/day-1": True, f"{NS}/check": True}}
    by_assessment = views.success("north", by_assessment=True)
    assessments = by_assessment.pop("assessments")
    assert by_assessment == views.success("north")
    assert assessments == {f"{NS}/check": {"attempted": 1, "passed": 1, "scores": [0.7]}}


def test_gone_quiet_lists_members_without_a_counted_statement_in_the_last_n_weeks(polku):
    post(polku, statement(ALICE, "commented", f"{NS}/day-1"))  # 2026-02-03
    client = signed_in(polku)

    def quiet(weeks: int) -> list[str]:
        page = client.get(f"/cohorts/north/engagement?from=2026-02-02&to=2026-02-28&quiet={weeks}").get_data(as_text=True)
        listed = re.search(r'<ul id="quiet-list">(.*?)</ul>', page, re.S)
        return re.findall(r'members/\d+">([^<]+)</a>', listed.group(1)) if listed else []

    assert quiet(2) == ["Alice", "Bob &lt;b&gt;"]  # Alice's last statement is more than two weeks before the 28th
    assert quiet(4) == ["Bob &lt;b&gt;"]  # never active


def test_a_members_page_shows_their_timeline_items_and_self_assessment_numbers(polku):
    post(polku, statement(BOB, "passed", f"{NS}/check", success=True, score={"scaled": 0.8}),
         statement(BOB, "completed", f"{NS}/day-1"))
    page = signed_in(polku).get("/cohorts/north/members/1").get_data(as_text=True)
    assert "<h1>Bob &lt;b&gt;</h1>" in page
    timeline = re.search(r'<table id="timeline">(.*?)</table>', page, re.S).group(1)
    assert "Knowledge check" in timeline and "success" in timeline and "score 0.80" in timeline
    items = re.search(r'<table id="items">(.*?)</table>', page, re.S).group(1)
    assert items.count("st-done") == 2
    api = polku.api("GET", "/api/v1/cohorts/north/progress").json["members"][1]
    assert api["progress"] == 1.0 and '<strong data-field="percent">100%</strong>' in page
