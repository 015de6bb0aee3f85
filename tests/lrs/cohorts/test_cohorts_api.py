"""The admin and analytics APIs over real HTTP, in the embedded and the scale-out mode (issue 5):
programmes and cohorts, 400 naming the field, 404, scopes, the views as JSON and CSV, the
OpenAPI document, `polku cohorts import`, and the demo loaded through the xAPI endpoint matching
an independent recomputation, before and after `polku projections rebuild cohorts`."""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from datetime import datetime, timezone

import pytest
import requests

from events import utc_iso
from lrs.cohorts.demo import Client, build_plan, final_definitions, load, statements_of
from projections.cohort_views import MAX_WEEKS
from tests.fixtures.cohort_oracle import Oracle, rounded
from tests.fixtures.statements_builders import ADL, agent, voiding

V2 = {"X-Experience-API-Version": "2.0.0"}


class Api:
    def __init__(self, server, auth=None):
        self.server = server
        self.base = f"http://127.0.0.1:{server.port}"
        self.session = requests.Session()
        self.session.auth = auth or server.auth

    def put(self, path: str, body):
        return self.session.put(self.base + "/api/v1" + path, json=body)

    def get(self, path: str, **params):
        return self.session.get(self.base + "/api/v1" + path, params=params)

    def post_statements(self, statements):
        response = self.session.post(self.base + "/xapi/statements", json=statements, headers=V2)
        assert response.status_code == 200, response.text
        return response

    def view(self, key: str, name: str, settled_after: str | None = None, **params):
        """GET a view; with ``settled_after``, once the cohort projection has applied the log up
        to that moment (the X-Consistent-Through header), as a client of the scale-out mode would."""
        deadline = time.monotonic() + 30
        while True:
            response = self.get(f"/cohorts/{key}/{name}", **params)
            if settled_after is None or response.headers.get("X-Consistent-Through", "") >= settled_after:
                return response
            assert time.monotonic() < deadline, "the cohort projection did not catch up"
            time.sleep(0.1)


@pytest.fixture
def api(lrs_server):
    return Api(lrs_server)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def programme_body(ns: str) -> dict:
    return {
        "name": "Supervisors",
        "items": [
            {"activity": f"{ns}/day-1", "title": "Coaching day 1", "kind": "coaching-day", "required": True, "due": "2026-02-03"},
            {"activity": f"{ns}/check", "title": "Knowledge check", "kind": "assessment", "required": True, "due": None},
            {"activity": f"{ns}/self", "title": "Weekly self-assessment", "kind": "self-assessment", "required": False},
            {"activity": f"{ns}/pre", "title": "Pulse before", "kind": "survey", "required": False, "measure": "pre"},
            {"activity": f"{ns}/post", "title": "Pulse after", "kind": "survey", "required": False, "measure": "post"},
        ],
    }


def cohort_body(programme: str, ns: str, members: list[dict]) -> dict:
    return {"name": "North", "programme": programme, "iri": f"{ns}/cohort", "starts": "2026-02-02", "ends": "2026-03-01",
            "members": members}


@pytest.fixture
def defined(api):
    """A programme and a cohort of two (aino and onni) under fresh keys and IRIs."""
    ns = f"https://polku.example/{uuid.uuid4().hex[:8]}"
    programme, cohort = unique("prog"), unique("cohort")
    assert api.put(f"/programmes/{programme}", programme_body(ns)).status_code == 201
    members = [agent(f"aino-{ns[-8:]}"), agent(f"onni-{ns[-8:]}")]
    assert api.put(f"/cohorts/{cohort}", cohort_body(programme, ns, members)).status_code == 201
    return ns, programme, cohort, members


def said(actor: dict, verb: str, activity: str, at: str, **extra) -> dict:
    return {"id": str(uuid.uuid4()), "actor": actor, "verb": {"id": ADL + verb}, "object": {"id": activity}, "timestamp": at, **extra}


# ---- programmes and cohorts ---------------------------------------------------------------

def test_put_programme_is_201_then_200_and_get_returns_it(api):
    key, ns = unique("prog"), "https://polku.example/p"
    created = api.put(f"/programmes/{key}", programme_body(ns))
    assert created.status_code == 201
    assert created.headers["Location"].endswith(f"/api/v1/programmes/{key}")
    assert api.put(f"/programmes/{key}", programme_body(ns)).status_code == 200
    got = api.get(f"/programmes/{key}")
    assert got.status_code == 200
    body = got.json()
    assert body["key"] == key and body["name"] == "Supervisors"
    assert body["items"][0] == {"activity": f"{ns}/day-1", "title": "Coaching day 1", "kind": "coaching-day",
                                "required": True, "due": "2026-02-03", "measure": None}
    assert body["items"][2]["required"] is False and body["items"][3]["measure"] == "pre"


def test_cohorts_are_defined_got_and_listed(api, defined):
    ns, programme, cohort, members = defined
    got = api.get(f"/cohorts/{cohort}").json()
    assert got == {"key": cohort, **cohort_body(programme, ns, members)}
    listed = api.get("/cohorts")
    assert listed.status_code == 200
    assert cohort in [c["key"] for c in listed.json()]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"items": [{"activity": "https://x.example/a", "title": "A", "kind": "lecture"}]}, "items[0].kind"),
        ({"items": [{"activity": "not an iri", "title": "A", "kind": "poll"}]}, "items[0].activity"),
        ({"items": [{"activity": "https://x.example/a", "title": "A", "kind": "poll", "due": "31.1.2026"}]}, "items[0].due"),
        ({"items": [{"activity": "https://x.example/a", "title": "A", "kind": "poll", "required": "yes"}]}, "items[0].required"),
        ({"items": [{"activity": "https://x.example/a", "title": "A", "kind": "poll", "measure": "mid"}]}, "items[0].measure"),
        ({"name": None}, "name"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_invalid_programme_is_400_naming_the_field(api, change, field):
    body = programme_body("https://polku.example/p") | change
    response = api.put(f"/programmes/{unique('prog')}", body)
    assert response.status_code == 400
    assert field + ":" in response.json()["error"]["message"]


def test_a_programme_item_listed_twice_is_400(api):
    body = programme_body("https://polku.example/p")
    body["items"].append(dict(body["items"][0]))
    response = api.put(f"/programmes/{unique('prog')}", body)
    assert response.status_code == 400
    assert "items[5].activity" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"members": [{"name": "No identifier"}]}, "members[0]"),
        ({"members": [{"mbox": "aino@example.org"}]}, "members[0].mbox"),
        ({"members": [agent("a"), agent("a")]}, "members[1]"),
        ({"ends": "2026-01-01"}, "ends"),
        ({"iri": "cohort 1"}, "iri"),
        ({"starts": None}, "starts"),
    ],
)
def test_invalid_cohort_is_400_naming_the_field(api, defined, change, field):
    ns, programme, _cohort, members = defined
    response = api.put(f"/cohorts/{unique('cohort')}", cohort_body(programme, ns, members) | change)
    assert response.status_code == 400
    assert field + ":" in response.json()["error"]["message"]


def test_a_body_that_is_not_json_is_400(api):
    response = api.session.put(api.base + "/api/v1/programmes/x", data="{", headers={"Content-Type": "application/json"})
    assert response.status_code == 400


def test_a_cohort_of_an_unknown_programme_is_404(api):
    response = api.put(f"/cohorts/{unique('cohort')}", cohort_body("no-such-programme", "https://polku.example/n", []))
    assert response.status_code == 404
    assert "no-such-programme" in response.json()["error"]["message"]


def test_unknown_programme_cohort_and_views_are_404(api):
    assert api.get("/programmes/no-such-programme").status_code == 404
    assert api.get("/cohorts/no-such-cohort").status_code == 404
    for view in ("progress", "engagement", "success"):
        assert api.get(f"/cohorts/no-such-cohort/{view}").status_code == 404


# ---- deleting definitions (issue 10) ----------------------------------------------------------

def test_a_deleted_cohort_and_its_views_are_404_also_after_a_rebuild(lrs_server, api, defined):
    ns, programme, cohort, members = defined
    api.post_statements([said(members[0], "attended", f"{ns}/day-1", "2026-02-03T09:00:00Z")])
    analyst = Api(lrs_server, lrs_server.create_credential("analytics", unique("analyst")))
    assert analyst.session.delete(f"{api.base}/api/v1/cohorts/{cohort}").status_code == 403
    assert api.session.delete(f"{api.base}/api/v1/cohorts/{cohort}").status_code == 204
    assert api.get(f"/cohorts/{cohort}").status_code == 404
    assert cohort not in [c["key"] for c in api.get("/cohorts").json()]
    assert api.get(f"/cohorts/{cohort}/progress").status_code == 404
    rebuilt = lrs_server.cli("projections", "rebuild", "cohorts", check=False)
    assert rebuilt.returncode == 0, rebuilt.stderr
    for path in (f"/cohorts/{cohort}", f"/cohorts/{cohort}/progress", f"/cohorts/{cohort}/engagement"):
        assert api.get(path).status_code == 404, "the delete is on the log: the rebuild honours it"
    again = api.put(f"/cohorts/{cohort}", cohort_body(programme, ns, members))
    assert again.status_code == 201, "a deleted key can be defined anew"
    assert api.view(cohort, "engagement", utc_iso()).json()["members"][0]["statements"] == 1, "its statements were kept"


def test_a_programme_a_cohort_follows_is_409_naming_the_cohort_and_deletable_after(api, defined):
    _ns, programme, cohort, _members = defined
    refused = api.session.delete(f"{api.base}/api/v1/programmes/{programme}")
    assert refused.status_code == 409
    assert cohort in refused.json()["error"]["message"]
    assert api.get(f"/programmes/{programme}").status_code == 200
    assert api.session.delete(f"{api.base}/api/v1/cohorts/{cohort}").status_code == 204
    assert api.session.delete(f"{api.base}/api/v1/programmes/{programme}").status_code == 204
    assert api.get(f"/programmes/{programme}").status_code == 404
    assert programme not in [p["key"] for p in api.get("/programmes").json()]


def test_deleting_a_programme_or_cohort_that_is_not_defined_is_404(api):
    assert api.session.delete(f"{api.base}/api/v1/programmes/{unique('prog')}").status_code == 404
    assert api.session.delete(f"{api.base}/api/v1/cohorts/{unique('cohort')}").status_code == 404
    assert api.session.delete(f"{api.base}/api/v1/cohorts/not%20a%20key").status_code == 400


# ---- scopes --------------------------------------------------------------------------------

def test_admin_api_needs_the_admin_scope_and_views_the_analytics_scope(lrs_server, defined):
    ns, programme, cohort, members = defined
    writer = Api(lrs_server, lrs_server.create_credential("statements/write", "writer"))
    analyst = Api(lrs_server, lrs_server.create_credential("analytics", "analyst"))
    admin = Api(lrs_server, lrs_server.create_credential("admin", "admin"))
    assert writer.put(f"/programmes/{unique('p')}", programme_body(ns)).status_code == 403
    assert analyst.put(f"/cohorts/{unique('c')}", cohort_body(programme, ns, members)).status_code == 403
    assert writer.get("/cohorts").status_code == 403
    assert analyst.get("/cohorts").status_code == 200  # reading the definitions is part of analysing
    assert admin.get(f"/cohorts/{cohort}/progress").status_code == 403
    assert writer.get(f"/cohorts/{cohort}/success").status_code == 403
    assert analyst.get(f"/cohorts/{cohort}/progress").status_code == 200
    assert admin.get("/cohorts").status_code == 200
    anonymous = requests.get(f"{admin.base}/api/v1/cohorts/{cohort}/progress")
    assert anonymous.status_code == 401


# ---- the views -----------------------------------------------------------------------------

def test_views_count_members_voiding_and_late_statements(api, defined):
    ns, _programme, cohort, members = defined
    aino, onni = members
    passed = said(aino, "passed", f"{ns}/check", "2026-02-10T10:00:00Z", result={"success": True, "score": {"scaled": 0.8}})
    wrong = said(onni, "attended", f"{ns}/day-1", "2026-02-03T09:00:00Z")
    batch = [
        said(aino, "attended", f"{ns}/day-1", "2026-02-03T11:00:00+02:00"),
        passed,
        said(aino, "completed", f"{ns}/self", "2026-02-06T10:00:00Z", result={"score": {"scaled": 0.4}}),
        said(aino, "completed", f"{ns}/self", "2026-02-13T10:00:00Z", result={"score": {"scaled": 0.6}}),
        said(aino, "completed", f"{ns}/pre", "2026-02-02T10:00:00Z", result={"score": {"scaled": 0.5}}),
        said(aino, "completed", f"{ns}/post", "2026-02-27T10:00:00Z", result={"score": {"scaled": 0.7}}),
        said(agent("coach"), "commented", "https://polku.example/elsewhere", "2026-02-04T10:00:00Z",
             context={"contextActivities": {"grouping": [{"id": f"{ns}/cohort"}]}}),
        wrong,
    ]
    api.post_statements(batch)
    api.post_statements([voiding(wrong["id"])])
    api.post_statements([said(onni, "commented", f"{ns}/day-1", "2026-02-05T10:00:00Z")])  # arrives late
    settled = utc_iso()

    progress = api.view(cohort, "progress", settled, as_of="2026-03-01").json()
    assert progress["required_items"] == 2
    assert [(m["completed_required"], m["progress"], m["overdue"]) for m in progress["members"]] == [
        (2, 1.0, []), (0, 0.0, [f"{ns}/day-1"])]
    assert progress["members"][0]["last_active"] == "2026-02-27T10:00:00.000000Z"
    assert progress["items"][0] == {"activity": f"{ns}/day-1", "completed_by": 1}

    engagement = api.view(cohort, "engagement", settled).json()
    week6 = next(w for w in engagement["weeks"] if w["week"] == "2026-W06")
    assert week6 == {"week": "2026-W06", "active_members": 2, "statements": 5, "contributions": 2}
    assert [(m["statements"], m["active_days"], m["contributions"]) for m in engagement["members"]] == [(6, 6, 0), (1, 1, 1)]
    narrow = api.view(cohort, "engagement", settled, **{"from": "2026-02-03", "to": "2026-02-03"}).json()
    assert [w["week"] for w in narrow["weeks"]] == ["2026-W06"] and narrow["members"][0]["statements"] == 1

    success = api.view(cohort, "success", settled).json()
    assert success["members"][0]["assessments_attempted"] == 1 and success["members"][0]["assessments_passed"] == 1
    assert success["members"][0]["self_assessment"] == {"first": 0.4, "latest": 0.6, "count": 2}
    assert success["members"][0]["pre_post_delta"] == pytest.approx(0.2)
    assert success["members"][1] == {"member": onni, "assessments_attempted": 0, "assessments_passed": 0, "mean_scaled_score": None,
                                     "self_assessment": {"first": None, "latest": None, "count": 0}, "pre_post_delta": None}
    assert success["summary"]["pass_rate"] == 1.0 and success["summary"]["mean_pre_post_delta"] == pytest.approx(0.2)


def test_a_new_member_shows_in_the_views_without_a_replay(api, defined):
    ns, programme, cohort, members = defined
    late_joiner = agent(f"helmi-{uuid.uuid4().hex[:6]}")
    api.post_statements([said(late_joiner, "attended", f"{ns}/day-1", "2026-02-03T09:00:00Z")])
    settled = utc_iso()
    assert api.put(f"/cohorts/{cohort}", cohort_body(programme, ns, members + [late_joiner])).status_code == 200
    rows = api.view(cohort, "progress", settled, as_of="2026-03-01").json()["members"]
    assert rows[2]["member"] == late_joiner and rows[2]["completed_required"] == 1


def test_views_as_csv_are_the_members_table(api, defined):
    ns, _programme, cohort, members = defined
    for view, columns in {
        "progress": ["completed_required", "progress", "overdue", "last_active"],
        "engagement": ["statements", "active_days", "contributions", "last_active"],
        "success": ["assessments_attempted", "assessments_passed", "mean_scaled_score", "self_assessment_first",
                    "self_assessment_latest", "self_assessment_count", "pre_post_delta"],
    }.items():
        params = {"format": "csv", "as_of": "2026-03-01"} if view == "progress" else {"format": "csv"}
        response = api.get(f"/cohorts/{cohort}/{view}", **params)
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/csv")
        table = list(csv.DictReader(io.StringIO(response.text)))
        assert list(table[0]) == ["cohort", "name", "mbox", "mbox_sha1sum", "openid", "account_homePage", "account_name"] + columns
        assert [r["mbox"] for r in table] == [m["mbox"] for m in members]
        assert all(r["cohort"] == cohort for r in table)
    progress = list(csv.DictReader(io.StringIO(api.get(f"/cohorts/{cohort}/progress", format="csv", as_of="2026-03-01").text)))
    assert progress[0]["overdue"] == f"{ns}/day-1" and progress[0]["last_active"] == ""


def test_bad_view_parameters_are_400_naming_them(api, defined):
    cohort = defined[2]
    assert "as_of" in api.get(f"/cohorts/{cohort}/progress", as_of="March").json()["error"]["message"]
    assert "format" in api.get(f"/cohorts/{cohort}/success", format="xml").json()["error"]["message"]
    assert api.get(f"/cohorts/{cohort}/engagement", **{"from": "2026-03-01", "to": "2026-02-01"}).status_code == 400
    assert api.get(f"/cohorts/{cohort}/engagement", since="2026-02-01").status_code == 400
    too_long = api.get(f"/cohorts/{cohort}/engagement", **{"from": "0001-01-01", "to": "9999-12-31"})
    assert too_long.status_code == 400 and too_long.json()["error"]["message"].startswith("to: the span")


def test_engagement_lists_a_bounded_number_of_weeks_whatever_a_statement_claims(api, defined):
    """A member's statement timestamped in the year 1 (valid xAPI) once made the view list
    every week since then: half a million rows, a 500 after 15 s (issue 9). The weeks listed
    stay within MAX_WEEKS of the end, and the statement still counts for its member."""
    ns, _programme, cohort, members = defined
    api.post_statements([said(members[0], "attended", f"{ns}/day-1", "0001-01-01T00:00:00Z")])
    view = api.view(cohort, "engagement", utc_iso()).json()
    assert 0 < len(view["weeks"]) <= MAX_WEEKS + 1
    assert view["members"][0]["statements"] == 1


def test_the_openapi_document_is_served_and_describes_the_api(lrs_server):
    response = requests.get(f"http://127.0.0.1:{lrs_server.port}/api/v1/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"].startswith("3.")
    for path in ("/programmes/{key}", "/cohorts", "/cohorts/{key}", "/cohorts/{key}/progress",
                 "/cohorts/{key}/engagement", "/cohorts/{key}/success", "/credentials", "/credentials/{key}/rotate"):
        assert path in doc["paths"]
    assert "delete" in doc["paths"]["/programmes/{key}"] and "delete" in doc["paths"]["/cohorts/{key}"]
    assert "409" in doc["paths"]["/programmes/{key}"]["delete"]["responses"]
    schemas = doc["components"]["schemas"]
    assert set(schemas["Item"]["properties"]["kind"]["enum"]) >= {"coaching-day", "self-assessment", "survey"}
    assert {"from", "to", "weeks", "members"} <= set(schemas["Engagement"]["properties"])
    assert set(schemas["Programme"]["required"]) == {"name", "items"}


# ---- operations ----------------------------------------------------------------------------

def test_cohorts_import_loads_programmes_and_cohorts_from_yaml(lrs_server, api, tmp_path):
    programme, cohort = unique("prog"), unique("cohort")
    (tmp_path / "programme.yaml").write_text(f"""
programmes:
  {programme}:
    name: Imported programme
    items:
      - activity: https://polku.example/imported/day-1
        title: Coaching day 1
        kind: coaching-day
        required: true
        due: 2026-02-03
cohorts:
  {cohort}:
    name: Imported cohort
    programme: {programme}
    iri: https://polku.example/imported/cohort
    starts: 2026-02-02
    ends: 2026-06-30
    members:
      - {{name: Aino, mbox: "mailto:aino@example.org"}}
""")
    result = lrs_server.cli("cohorts", "import", str(tmp_path / "programme.yaml"), check=False)
    assert result.returncode == 0, result.stderr
    assert "imported 1 programme(s) and 1 cohort(s)" in result.stdout
    assert api.get(f"/programmes/{programme}").json()["items"][0]["due"] == "2026-02-03"
    assert api.get(f"/cohorts/{cohort}").json()["members"] == [{"name": "Aino", "mbox": "mailto:aino@example.org"}]
    (tmp_path / "bad.yaml").write_text(f"cohorts:\n  {unique('c')}:\n    name: X\n    programme: nope\n")
    bad = lrs_server.cli("cohorts", "import", str(tmp_path / "bad.yaml"), check=False)
    assert bad.returncode != 0 and "iri" in bad.stderr


def _import_file(tmp_path, programme: str, cohort: str, items: int) -> str:
    ns = f"https://polku.example/{programme}"
    document = {
        "programmes": {programme: {"name": "Imported", "items": [
            {"activity": f"{ns}/item-{i}", "title": f"Item {i}", "kind": "assignment", "required": True} for i in range(items)]}},
        "cohorts": {cohort: cohort_body(programme, ns, [agent("aino")])},
    }
    path = tmp_path / f"{programme}-{items}.json"
    path.write_text(json.dumps(document))
    return str(path)


def test_cohorts_import_reports_created_replaced_and_unchanged_and_replaces_only_with_replace(lrs_server, api, tmp_path):
    programme, cohort = unique("prog"), unique("cohort")
    first = lrs_server.cli("cohorts", "import", _import_file(tmp_path, programme, cohort, 21), check=False)
    assert first.returncode == 0, first.stderr
    assert [line.split() for line in first.stdout.splitlines()[:2]] == [["create", "programme", programme], ["create", "cohort", cohort]]
    assert "2 created, 0 replaced, 0 unchanged" in first.stdout

    again = lrs_server.cli("cohorts", "import", _import_file(tmp_path, programme, cohort, 21), check=False)
    assert again.returncode == 0, again.stderr
    assert [line.split()[0] for line in again.stdout.splitlines()[:2]] == ["unchanged", "unchanged"]
    assert "0 created, 0 replaced, 2 unchanged" in again.stdout

    smaller = _import_file(tmp_path, programme, cohort, 1)
    refused = lrs_server.cli("cohorts", "import", smaller, check=False)
    assert refused.returncode != 0
    assert ["would", "replace", "programme", programme, "(items", "(21", "->", "1))"] in [line.split() for line in refused.stdout.splitlines()]
    assert "--replace" in refused.stderr and "nothing was imported" in refused.stderr
    assert len(api.get(f"/programmes/{programme}").json()["items"]) == 21, "nothing replaced without --replace"

    replaced = lrs_server.cli("cohorts", "import", smaller, "--replace", check=False)
    assert replaced.returncode == 0, replaced.stderr
    assert replaced.stdout.split()[:3] == ["replace", "programme", programme]
    assert "0 created, 1 replaced, 1 unchanged" in replaced.stdout
    assert len(api.get(f"/programmes/{programme}").json()["items"]) == 1


def test_the_demo_through_the_xapi_endpoint_matches_a_recomputation_live_and_rebuilt(lrs_server, api):
    now = datetime(2026, 6, 17, 15, 0, tzinfo=timezone.utc)
    members = 4 if lrs_server.scale_out else 12  # the full demo in one mode; the other mode's worker is slower
    result = lrs_server.cli("demo", "--url", api.base, "--key", lrs_server.key, "--secret", lrs_server.secret,
                            "--now", now.isoformat(), "--members", str(members), check=False)
    assert result.returncode == 0, result.stderr
    settled = utc_iso()
    plan = build_plan(now=now, members=members)
    programmes, cohorts = final_definitions(plan)
    log = statements_of(plan)

    def compare() -> None:
        for key, body in cohorts.items():
            oracle = Oracle(log, programmes[body["programme"]], body, key)
            assert rounded(api.view(key, "progress", settled, as_of=now.date().isoformat()).json()) == rounded(oracle.progress(now.date()))
            assert rounded(api.view(key, "engagement", settled).json()) == rounded(oracle.engagement())
            assert rounded(api.view(key, "success", settled).json()) == rounded(oracle.success())

    compare()
    rebuilt = lrs_server.cli("projections", "rebuild", "cohorts", check=False)
    assert rebuilt.returncode == 0, rebuilt.stderr
    compare()
    again = lrs_server.cli("demo", "--url", api.base, "--key", lrs_server.key, "--secret", lrs_server.secret, check=False)
    assert "there already" in again.stdout
    assert load(Client(api.base, lrs_server.key, lrs_server.secret), plan) is False


def test_a_csv_cell_a_spreadsheet_would_run_as_a_formula_is_neutralised(api):
    ns, programme, cohort = unique("https://csv.example"), unique("p"), unique("c")
    assert api.put(f"/programmes/{programme}", programme_body(ns)).status_code == 201
    member = {"name": '=HYPERLINK("https://evil.example","click")', "mbox": "mailto:formula@example.org"}
    assert api.put(f"/cohorts/{cohort}", cohort_body(programme, ns, [member])).status_code == 201
    response = api.get(f"/cohorts/{cohort}/progress", format="csv", as_of="2026-03-01")
    (row,) = list(csv.DictReader(io.StringIO(response.text)))
    assert row["name"] == "'" + member["name"], "shown as text, never run"


def test_a_method_a_route_does_not_take_is_405_with_allow(api):
    response = api.session.delete(api.base + "/api/v1/cohorts")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
