"""Export of a person (issue 11, "Export (right of access and portability)"): ``GET
/api/v1/agents/export`` and ``polku export`` return exactly what the xAPI API returns for that
person, plus their documents and cohort rows as the document and analytics APIs return them, as
one JSON document or a ZIP with the attachment contents; on SQLite and PostgreSQL.

Two people: aino (exported) and onni. Aino is the actor of statements (one with an attachment,
one voided, one sent under her mbox_sha1sum), the instructor in one of onni's statements and the
object of another; onni has statements of his own that do not name her.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import uuid
import zipfile

import pytest
from click.testing import CliRunner

from events import utc_iso
from lrs.app import create_app
from lrs.cli import main
from lrs.config.settings import Settings
from tests.fixtures.databases import MASTER_KEY
from tests.fixtures.people import ATTACHMENT_BYTES, Loaded, basic, in_process_app, load

@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def lrs(request, tmp_path_factory):
    # small pages: the export and the Statement API both page through several
    app, url = in_process_app(request, tmp_path_factory.mktemp("export"), page_size=2, max_page_size=3)
    loaded = Loaded(app, url)
    load(loaded)
    yield loaded
    loaded.services.close()


def statements_api(lrs: Loaded, agent: dict) -> list[dict]:
    """GET /xapi/statements?agent=..&related_agents=true, every page through ``more``."""
    found: list[dict] = []
    response = lrs.get("/xapi/statements", agent=json.dumps(agent), related_agents="true", format="exact")
    while True:
        assert response.status_code == 200
        found += response.get_json()["statements"]
        more = response.get_json()["more"]
        if not more:
            return found
        response = lrs.client.get(more, headers=lrs.auth)


# ---- the JSON document -------------------------------------------------------------------------

def test_export_is_one_json_download_with_agent_time_and_version(lrs):
    response = lrs.export(lrs.aino)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    assert response.headers["Content-Disposition"].endswith('.json"')
    assert "aino" not in response.headers["Content-Disposition"], "no identifier in the file name"
    document = response.get_json()
    assert document["agent"] == lrs.aino
    assert document["exported"] <= utc_iso() and document["exported"].endswith("Z")
    assert document["polku"]


def test_export_statements_equal_the_statement_api_for_the_agent_with_related_agents_page_by_page(lrs):
    exported = lrs.export(lrs.aino).get_json()["statements"]
    api = statements_api(lrs, lrs.aino)
    assert len(api) > 3, "the API answered in several pages"
    assert len(exported) == len(api)
    for ours, theirs in zip(exported, api):
        assert ours == theirs


def test_export_holds_the_persons_statements_as_actor_instructor_and_object_and_the_voiding_of_them(lrs):
    ids = {s["id"] for s in lrs.export(lrs.aino).get_json()["statements"]}
    for name in ("aino-day-1", "aino-check", "onni-day-1-taught-by-aino", "onni-mentored-aino", "void-aino"):
        assert lrs.ids[name] in ids, name


def test_export_holds_nothing_of_the_other_persons_statements_that_do_not_name_the_person(lrs):
    response = lrs.export(lrs.aino)
    ids = {s["id"] for s in response.get_json()["statements"] + response.get_json()["voided_statements"]}
    for name in ("onni-own", "onni-to-void", "void-onni"):
        assert lrs.ids[name] not in ids, name
    assert lrs.ids["aino-to-void"] not in {s["id"] for s in response.get_json()["statements"]}, "voided: not a query's"


def test_voided_statements_of_the_person_are_exported_as_get_by_voided_statement_id_returns_them(lrs):
    voided = lrs.export(lrs.aino).get_json()["voided_statements"]
    by_id = lrs.get("/xapi/statements", voidedStatementId=lrs.ids["aino-to-void"])
    assert by_id.status_code == 200
    assert voided == [by_id.get_json()]


def test_state_and_agent_profile_documents_are_exported_as_the_document_api_returns_them(lrs):
    document = lrs.export(lrs.aino).get_json()
    assert len(document["state"]) == 2 and len(document["agent_profiles"]) == 1, "onni's documents are not aino's"
    for entry in document["state"]:
        params = {"activityId": entry["activityId"], "agent": json.dumps(lrs.aino), "stateId": entry["stateId"]}
        if entry["registration"]:
            params["registration"] = entry["registration"]
        _assert_document(lrs, "/xapi/activities/state", params, entry)
    bookmark = next(e for e in document["state"] if e["stateId"] == "bookmark")
    assert bookmark["content"] == {"page": 3, "note": "ä"} and "encoding" not in bookmark
    assert bookmark["registration"] is None and bookmark["activityId"] == f"{lrs.ns}/day-1"
    notes = next(e for e in document["state"] if e["stateId"] == "notes")
    assert notes["encoding"] == "base64" and base64.b64decode(notes["content"]) == b"\x00\x01 not json"
    profile = document["agent_profiles"][0]
    assert profile["profileId"] == "preferences" and profile["content"] == {"language": "fi"}
    _assert_document(lrs, "/xapi/agents/profile", {"agent": json.dumps(lrs.aino), "profileId": "preferences"}, profile)


def _assert_document(lrs: Loaded, path: str, params: dict, entry: dict) -> None:
    response = lrs.get(path, **params)
    assert response.status_code == 200
    content = base64.b64decode(entry["content"]) if entry.get("encoding") == "base64" else None
    if content is None:
        assert json.loads(response.get_data()) == entry["content"]
    else:
        assert response.get_data() == content
    assert response.headers["Content-Type"] == entry["contentType"]
    assert response.headers["ETag"] == f'"{entry["etag"]}"'


def test_cohort_membership_and_the_members_view_rows_are_those_the_analytics_api_returns(lrs):
    cohorts = lrs.export(lrs.aino).get_json()["cohorts"]
    assert [c["key"] for c in cohorts] == [lrs.cohort]
    (entry,) = cohorts
    assert entry["name"] == "North" and entry["programme"] == f"p-{lrs.cohort}"
    assert entry["position"] == 1 and entry["member"] == lrs.aino
    progress = lrs.get(f"/api/v1/cohorts/{lrs.cohort}/progress").get_json()
    engagement = lrs.get(f"/api/v1/cohorts/{lrs.cohort}/engagement").get_json()
    success = lrs.get(f"/api/v1/cohorts/{lrs.cohort}/success").get_json()
    assert entry["progress"] == {"as_of": progress["as_of"], "row": progress["members"][1]}
    assert entry["engagement"]["row"] == engagement["members"][1]
    assert (entry["engagement"]["from"], entry["engagement"]["to"]) == (engagement["from"], engagement["to"])
    assert entry["success"]["row"] == success["members"][1]
    # the rows say what aino did: both required items, the check passed at 0.8, one self-assessment
    assert entry["progress"]["row"]["completed_required"] == 2
    assert entry["success"]["row"]["mean_scaled_score"] == 0.8
    assert entry["success"]["row"]["self_assessment"]["count"] == 1
    weeks = entry["engagement"]["weeks"]
    assert [w["week"] for w in weeks] == [w["week"] for w in engagement["weeks"]]
    assert sum(w["statements"] for w in weeks) == entry["engagement"]["row"]["statements"] > 0


def test_mbox_and_mbox_sha1sum_of_one_address_give_the_same_persons_cohort_rows(lrs):
    by_mbox = lrs.export(lrs.aino).get_json()["cohorts"]
    by_sha1 = lrs.export(lrs.aino_sha1).get_json()["cohorts"]
    assert by_sha1 == by_mbox and by_mbox
    # the statements are the Statement API's for each identifier: it keys them apart
    assert [s["id"] for s in lrs.export(lrs.aino_sha1).get_json()["statements"]] == [lrs.ids["aino-self"]]


def test_a_person_polku_knows_nothing_of_gets_an_empty_export(lrs):
    document = lrs.export({"mbox": f"mailto:nobody-{uuid.uuid4().hex[:6]}@example.org"}).get_json()
    assert [document[k] for k in ("statements", "voided_statements", "state", "agent_profiles", "cohorts")] == [[]] * 5


# ---- the ZIP ---------------------------------------------------------------------------------

def test_zip_holds_export_json_and_the_attachment_bytes(lrs):
    response = lrs.export(lrs.aino, format="zip")
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    digest = hashlib.sha256(ATTACHMENT_BYTES).hexdigest()
    assert sorted(archive.namelist()) == ["attachments/" + digest, "export.json"]
    assert archive.read("attachments/" + digest) == ATTACHMENT_BYTES
    inside = json.loads(archive.read("export.json"))
    assert inside["statements"] == statements_api(lrs, lrs.aino)
    assert inside["agent"] == lrs.aino and inside["cohorts"] == lrs.export(lrs.aino).get_json()["cohorts"]


# ---- refusals ----------------------------------------------------------------------------------

@pytest.mark.parametrize("agent", [None, "", "not json", '{"mbox": "aino@example.org"}', '{"name": "Aino"}',
                                   '{"objectType": "Group", "account": {"homePage": "https://x.example", "name": "g"}}'])
def test_a_missing_or_invalid_agent_is_400_naming_agent(lrs, agent):
    response = lrs.export(agent)
    assert response.status_code == 400
    assert response.get_json()["error"]["message"].startswith("agent")


@pytest.mark.parametrize("params", [{"format": "csv"}, {"limit": "3"}])
def test_an_unknown_format_or_parameter_is_400_naming_it(lrs, params):
    response = lrs.export(lrs.aino, **params)
    assert response.status_code == 400
    assert list(params)[0] in response.get_json()["error"]["message"]


def test_export_needs_the_admin_scope(lrs):
    for scopes, status in (({"analytics", "all/read", "statements/read"}, 403), ({"admin"}, 200)):
        credential, secret = lrs.services.credentials.create(f"export-{uuid.uuid4().hex[:6]}", scopes)
        response = lrs.client.get("/api/v1/agents/export", query_string={"agent": json.dumps(lrs.aino)},
                                  headers=basic(credential, secret))
        assert response.status_code == status


def test_an_export_larger_than_the_configured_limit_is_413_naming_it(lrs):
    held = lrs.export(lrs.aino).get_json()
    total = len(held["statements"]) + len(held["voided_statements"])
    for limit, status in ((total - 1, 413), (total, 200)):
        app = create_app(lrs.services.settings.with_(export_max_statements=limit, run_projections=False))
        try:
            response = app.test_client().get("/api/v1/agents/export", query_string={"agent": json.dumps(lrs.aino)},
                                              headers=lrs.auth)
        finally:
            app.extensions["polku"].close()
        assert response.status_code == status
        if status == 413:
            message = response.get_json()["error"]["message"]
            assert str(limit) in message and "POLKU_EXPORT_MAX_STATEMENTS" in message


def test_the_limit_is_read_from_polku_export_max_statements():
    assert Settings.from_env({"POLKU_EXPORT_MAX_STATEMENTS": "250"}).export_max_statements == 250
    assert Settings.from_env({}).export_max_statements == 100000


# ---- the command -------------------------------------------------------------------------------

def test_polku_export_writes_the_json_to_stdout_and_the_zip_to_a_file(lrs, tmp_path):
    env = {"POLKU_DATABASE_URL": lrs.database_url, "POLKU_MASTER_KEY": MASTER_KEY}
    result = CliRunner().invoke(main, ["export", "--agent", json.dumps(lrs.aino)], env=env)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["statements"] == statements_api(lrs, lrs.aino)
    assert document["cohorts"] == lrs.export(lrs.aino).get_json()["cohorts"]
    target = tmp_path / "aino.zip"
    result = CliRunner().invoke(main, ["export", "--agent", json.dumps(lrs.aino), "--zip", str(target)], env=env)
    assert result.exit_code == 0, result.output
    archive = zipfile.ZipFile(target)
    assert archive.read("attachments/" + hashlib.sha256(ATTACHMENT_BYTES).hexdigest()) == ATTACHMENT_BYTES
    refused = CliRunner().invoke(main, ["export", "--agent", '{"mbox": "aino"}'], env=env)
    assert refused.exit_code == 2 and "agent" in refused.output
