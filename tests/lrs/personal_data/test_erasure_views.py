"""Erasure in the read models behind the analytics API and the xAPI Agents and Activities
resources (issue 11, "Erasure"): once a person is erased they leave every cohort's member list
and views (the stored definition too), the aggregates are recounted as if the cohort had been
defined without them, their names are gone from the Agents resource, the activity definitions
their statements carried stay; and ``polku projections rebuild`` gives the same answers from the
log as it reads after the erasure. On SQLite and PostgreSQL, through the real write path, log,
key ring and runner.

Four members: onni, aino (erased, listed second), eeva, and kalle, who sends nothing (erased last).
"""

from __future__ import annotations

import json
import uuid

import pytest

from lrs.personal_data.erasure import erase
from tests.fixtures.credentials import InProcess
from tests.fixtures.people import define_north, in_process_app
from tests.fixtures.statements_builders import ADL

V2 = {"X-Experience-API-Version": "2.0.0"}
AS_OF = "2026-03-01"


class Loaded(InProcess):
    def __init__(self, app) -> None:
        super().__init__(app)
        ns = self.ns.rsplit("/", 1)[1]
        self.onni = {"objectType": "Agent", "name": "Onni", "mbox": f"mailto:onni-{ns}@example.org"}
        self.aino = {"objectType": "Agent", "name": "Aino Erased", "mbox": f"mailto:aino-{ns}@example.org"}
        self.eeva = {"objectType": "Agent", "name": "Eeva", "mbox": f"mailto:eeva-{ns}@example.org"}
        self.kalle = {"objectType": "Agent", "name": "Kalle", "mbox": f"mailto:kalle-{ns}@example.org"}
        self.cohort = f"north-{ns}"

    def get(self, path: str, **params):
        response = self.client.get(path, query_string=params, headers=self.auth)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    def said(self, actor: dict, verb: str, item: str, at: str, **extra) -> dict:
        return {"id": str(uuid.uuid4()), "actor": actor, "verb": {"id": ADL + verb}, "object": {"id": f"{self.ns}/{item}"},
                "timestamp": at, "context": {"contextActivities": {"grouping": [{"id": f"{self.ns}/cohort"}]}}, **extra}

    def answers(self) -> dict:
        """Everything this module compares: the definition, the three views, the Agents and
        Activities resources."""
        key = self.cohort
        return {
            "cohort": self.get(f"/api/v1/cohorts/{key}"),
            "progress": self.get(f"/api/v1/cohorts/{key}/progress", as_of=AS_OF),
            "engagement": self.get(f"/api/v1/cohorts/{key}/engagement"),
            "success": self.get(f"/api/v1/cohorts/{key}/success"),
            "aino": self.get("/xapi/agents", agent=json.dumps({"mbox": self.aino["mbox"]})),
            "onni": self.get("/xapi/agents", agent=json.dumps({"mbox": self.onni["mbox"]})),
            "check": self.get("/xapi/activities", activityId=f"{self.ns}/check"),
        }


def _load(lrs: Loaded) -> None:
    ns, onni, aino, eeva = lrs.ns, lrs.onni, lrs.aino, lrs.eeva
    define_north(lrs, lrs.cohort, [onni, aino, eeva, lrs.kalle])
    onni_to_void = lrs.said(onni, "experienced", "self", "2026-02-11T08:30:00Z")
    statements = [
        lrs.said(onni, "completed", "day-1", "2026-02-03T09:05:00Z", context={
            "instructor": aino, "contextActivities": {"grouping": [{"id": f"{ns}/cohort"}]}}),
        lrs.said(aino, "completed", "day-1", "2026-02-03T09:00:00Z"),
        lrs.said(aino, "passed", "check", "2026-02-17T10:00:00Z", result={"success": True, "score": {"scaled": 0.9}},
                 object={"id": f"{ns}/check", "definition": {"name": {"en-US": "Knowledge check"}}}),
        lrs.said(aino, "commented", "self", "2026-02-18T10:00:00Z"),
        lrs.said(aino, "answered", "self", "2026-02-06T15:00:00Z", result={"score": {"scaled": 0.5}}),
        lrs.said(aino, "answered", "self", "2026-02-20T15:00:00Z", result={"score": {"scaled": 0.8}}),
        lrs.said(eeva, "completed", "day-1", "2026-02-03T09:10:00Z"),
        lrs.said(eeva, "failed", "check", "2026-02-17T11:00:00Z", result={"success": False, "score": {"scaled": 0.4}}),
        lrs.said(eeva, "answered", "self", "2026-02-06T15:00:00Z", result={"score": {"scaled": 0.3}}),
        lrs.said(eeva, "answered", "self", "2026-02-13T15:00:00Z", result={"score": {"scaled": 0.6}}),
        lrs.said(onni, "mentored", "self", "2026-02-10T12:00:00Z") | {"object": aino},
        onni_to_void,
    ]
    voided_by_aino = {"id": str(uuid.uuid4()), "actor": aino, "verb": {"id": ADL + "voided"},
                      "object": {"objectType": "StatementRef", "id": onni_to_void["id"]}}
    for batch in (statements, [voided_by_aino]):
        response = lrs.client.post("/xapi/statements", json=batch, headers=lrs.auth)
        assert response.status_code == 200, response.get_data(as_text=True)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def lrs(request, tmp_path_factory):
    app, _url = in_process_app(request, tmp_path_factory.mktemp("erasure"))
    loaded = Loaded(app)
    _load(loaded)
    loaded.services.runner.catch_up()
    loaded.before = loaded.answers()
    summary = erase(loaded.services, {"mbox": loaded.aino["mbox"]}, "test")
    assert summary.status == "done", summary
    loaded.after = loaded.answers()
    yield loaded
    loaded.services.close()


def members_of(view: dict) -> list[dict]:
    return [row["member"] for row in view["members"]]


def test_the_stored_cohort_definition_no_longer_lists_the_erased_member(lrs):
    assert lrs.before["cohort"]["members"] == [lrs.onni, lrs.aino, lrs.eeva, lrs.kalle]
    assert lrs.after["cohort"]["members"] == [lrs.onni, lrs.eeva, lrs.kalle]


def test_every_cohort_view_lists_the_other_members_only_with_their_own_figures(lrs):
    for view in ("progress", "engagement", "success"):
        assert members_of(lrs.before[view]) == [lrs.onni, lrs.aino, lrs.eeva, lrs.kalle], view
        assert members_of(lrs.after[view]) == [lrs.onni, lrs.eeva, lrs.kalle], view
        rows = {json.dumps(row["member"]): row for row in lrs.after[view]["members"]}
        for row in lrs.before[view]["members"]:
            if row["member"] != lrs.aino:
                assert rows[json.dumps(row["member"])] == row, f"{view}: another member's row is unchanged"


def test_the_aggregates_are_recounted_without_the_erased_person(lrs):
    progress = {i["activity"]: i["completed_by"] for i in lrs.after["progress"]["items"]}
    assert progress[f"{lrs.ns}/day-1"] == 2 and progress[f"{lrs.ns}/check"] == 0
    assert lrs.before["success"]["summary"]["pass_rate"] == 0.5
    assert lrs.after["success"]["summary"]["pass_rate"] == 0.0
    assert lrs.after["success"]["summary"]["mean_self_assessment_change"] == pytest.approx(0.3)
    weeks = {w["week"]: w for w in lrs.after["engagement"]["weeks"]}
    assert weeks["2026-W08"]["active_members"] == 1, "only eeva was active in the week of the knowledge check"
    assert weeks["2026-W08"]["contributions"] == 0, "the erased person's comment no longer counts"


def test_the_agents_resource_knows_no_name_of_the_erased_person(lrs):
    assert lrs.before["aino"]["name"] == ["Aino Erased"]
    assert "name" not in lrs.after["aino"]
    assert lrs.after["onni"] == lrs.before["onni"] == {"objectType": "Person", "name": ["Onni"], "mbox": [lrs.onni["mbox"]]}


def test_activity_definitions_their_statements_carried_stay(lrs):
    assert lrs.after["check"]["definition"] == {"name": {"en-US": "Knowledge check"}}


def test_a_rebuild_from_the_log_after_the_erasure_answers_as_the_live_views_do(lrs):
    runner = lrs.services.runner
    runner.rebuild([p.name for p in runner.projections])
    assert lrs.answers() == lrs.after


def test_a_member_who_sent_nothing_leaves_the_cohort_and_its_live_page_is_told(lrs):
    from projections.cohort_details import CohortDetails

    details = CohortDetails(lrs.services.engine)
    before = details.fingerprint(lrs.cohort)
    assert erase(lrs.services, {"mbox": lrs.kalle["mbox"]}, "test").status == "done"
    assert lrs.get(f"/api/v1/cohorts/{lrs.cohort}")["members"] == [lrs.onni, lrs.eeva]
    assert details.fingerprint(lrs.cohort) != before, "the dashboard's live stream sees the change"
