"""Retention run by the projection runner's host (issue 11, "Retention"): off by default it
appends nothing; with ``POLKU_RETENTION_DAYS`` or a programme's ``retentionDays`` a run appends
``statements.expired`` when something is older than the cutoff, at most once an hour, records the
run in ``polku_erasures`` and ``polku projections status`` reports it; statements older than the
cutoff leave every view (xAPI statements, cohort views, agent names) live and after a rebuild,
younger ones stay. On SQLite and PostgreSQL, in process through the real write path and runner.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from lrs.personal_data import retention
from lrs.app import create_app
from lrs.stores.erasures import erasures
from lrs.config.settings import Settings
from schemas.timestamps import instant
from tests.fixtures.credentials import InProcess
from tests.fixtures.databases import MASTER_KEY
from tests.fixtures.statements_builders import ADL

V2 = {"X-Experience-API-Version": "2.0.0"}


class Lrs(InProcess):
    def __init__(self, app) -> None:
        super().__init__(app)
        self.aino = {"objectType": "Agent", "name": "Aino", "mbox": "mailto:aino@example.org"}

    def post(self, *bodies: dict) -> str:
        """Post statements; return the ``stored`` they were given."""
        response = self.client.post("/xapi/statements", json=list(bodies), headers=self.auth)
        assert response.status_code == 200, response.get_data(as_text=True)
        return self.statement(bodies[-1]["id"])["stored"]

    def statement(self, statement_id: str) -> dict | None:
        response = self.get("/xapi/statements", statementId=statement_id)
        return response.get_json() if response.status_code == 200 else None

    def said(self, actor: dict, item: str, **extra) -> dict:
        return {"id": str(uuid.uuid4()), "actor": actor, "verb": {"id": ADL + "completed"},
                "object": {"id": f"{self.ns}/{item}"}, **extra}

    def log_end(self) -> int:
        return sum(self.services.log.end(p) for p in range(self.services.log.partitions))

    def runs(self) -> list:
        with self.services.engine.connect() as conn:
            return conn.execute(sa.select(erasures).where(erasures.c.kind == "retention").order_by(erasures.c.requested)).all()


@pytest.fixture
def make_lrs(database_url):
    made = []

    def make(**settings) -> Lrs:
        settings.setdefault("run_projections", True)
        lrs = Lrs(create_app(Settings(database_url=database_url, master_key=MASTER_KEY, **settings)))
        made.append(lrs)
        return lrs

    yield make
    for lrs in made:
        lrs.services.close()


def _between(earlier: str, later: str) -> datetime:
    """A moment after ``earlier`` and before ``later`` (two ``stored`` values)."""
    a, b = instant(earlier), instant(later)
    assert a < b
    return a + (b - a) / 2


def test_retention_is_off_by_default_and_a_run_appends_and_records_nothing(make_lrs):
    lrs = make_lrs()
    assert lrs.services.settings.retention_days == 0
    lrs.post(lrs.said(lrs.aino, "day-1"))
    end = lrs.log_end()
    assert retention.run(lrs.services, now=datetime.now(timezone.utc) + timedelta(days=10_000)) == []
    assert lrs.log_end() == end
    assert lrs.runs() == []
    assert retention.describe(lrs.services) == "retention: off"


def test_statements_older_than_the_global_cutoff_leave_every_view_live_and_after_a_rebuild(make_lrs):
    lrs = make_lrs(retention_days=30)
    programme = {"name": "P", "items": [{"activity": f"{lrs.ns}/day-1", "title": "Day 1", "kind": "coaching-day", "required": True}]}
    assert lrs.put("/api/v1/programmes/p", programme).status_code == 201
    onni = {"objectType": "Agent", "name": "Onni", "mbox": "mailto:onni@example.org"}
    cohort = {"name": "C", "programme": "p", "iri": f"{lrs.ns}/cohort", "starts": "2026-01-01", "ends": "2027-12-31",
              "members": [lrs.aino, onni]}
    assert lrs.put("/api/v1/cohorts/c", cohort).status_code == 201
    old = [lrs.said(dict(lrs.aino, name="Aino Old Name"), "day-1"), lrs.said(onni, "day-1")]
    old_stored = lrs.post(*old)
    young = [lrs.said(lrs.aino, "day-1")]
    young_stored = lrs.post(*young)
    progress = lrs.get("/api/v1/cohorts/c/progress").get_json()
    assert [m["completed_required"] for m in progress["members"]] == [1, 1]

    now = _between(old_stored, young_stored) + timedelta(days=30)
    end = lrs.log_end()
    recorded = retention.run(lrs.services, now=now)
    assert lrs.log_end() == end + 1, "one statements.expired event"
    assert [(r["person"], r["kind"], r["requested_by"], r["statements"]) for r in recorded] == [("*", "retention", "retention", 2)]

    def answers() -> dict:
        return {
            "old": [lrs.statement(s["id"]) for s in old],
            "young": [lrs.statement(s["id"])["id"] for s in young],
            "progress": lrs.get("/api/v1/cohorts/c/progress").get_json()["members"],
            "engagement": lrs.get("/api/v1/cohorts/c/engagement").get_json()["members"],
            "names": lrs.get("/xapi/agents", agent=json.dumps({"mbox": lrs.aino["mbox"]})).get_json(),
        }

    live = answers()
    assert live["old"] == [None, None]
    assert live["young"] == [young[0]["id"]]
    assert [m["completed_required"] for m in live["progress"]] == [1, 0], "onni's only completion expired"
    assert [m["statements"] for m in live["engagement"]] == [1, 0]
    assert live["names"]["name"] == ["Aino"], "a name last seen before the cutoff is gone"
    runner = lrs.services.runner
    runner.rebuild([p.name for p in runner.projections])
    assert answers() == live
    again = lrs.client.post("/xapi/statements", json=old[1], headers=lrs.auth)
    assert again.status_code == 409, "an expired statement's id stays spent: sent again, it does not come back"
    assert lrs.statement(old[1]["id"]) is None


def test_a_run_appends_at_most_once_an_hour_and_status_reports_it(make_lrs):
    lrs = make_lrs(retention_days=1)
    first = lrs.post(lrs.said(lrs.aino, "a"))
    now = instant(first) + timedelta(days=1, seconds=1)
    assert len(retention.run(lrs.services, now=now)) == 1
    second = lrs.post(lrs.said(lrs.aino, "b"))
    end = lrs.log_end()
    later = instant(second) + timedelta(days=1, seconds=1)
    assert later - now < timedelta(hours=1)
    assert retention.run(lrs.services, now=later) == [], "within the hour: nothing"
    assert lrs.log_end() == end
    assert len(retention.run(lrs.services, now=now + timedelta(hours=1, seconds=1))) == 1
    runs = lrs.runs()
    assert len(runs) == 2 and all(r.finished for r in runs), "every projection applied each run"
    status = retention.describe(lrs.services)
    assert status.startswith("retention: on (1 days)")
    assert f"last run {runs[-1].requested}, 2 statement(s) dropped" in status


def test_a_programmes_retention_drops_old_statements_on_its_items_only(make_lrs):
    lrs = make_lrs()
    programme = {"name": "P", "retentionDays": 30,
                 "items": [{"activity": f"{lrs.ns}/day-1", "title": "Day 1", "kind": "coaching-day", "required": True}]}
    assert lrs.put("/api/v1/programmes/p", programme).status_code == 201
    assert lrs.get("/api/v1/programmes/p").get_json()["retentionDays"] == 30
    on_item, elsewhere = lrs.said(lrs.aino, "day-1"), lrs.said(lrs.aino, "elsewhere")
    stored = lrs.post(on_item, elsewhere)
    young = lrs.said(lrs.aino, "day-1")
    young_stored = lrs.post(young)
    recorded = retention.run(lrs.services, now=_between(stored, young_stored) + timedelta(days=30))
    assert [(r["person"], r["statements"]) for r in recorded] == [("p", 1)]
    assert lrs.statement(on_item["id"]) is None
    assert lrs.statement(elsewhere["id"]) is not None
    assert lrs.statement(young["id"]) is not None
    assert "p 30 days" in retention.describe(lrs.services)


@pytest.mark.parametrize("value", ["30", 0, 1.5, -1])
def test_a_programmes_retention_days_must_be_a_positive_whole_number(make_lrs, value):
    lrs = make_lrs()
    response = lrs.put("/api/v1/programmes/p", {"name": "P", "items": [], "retentionDays": value})
    assert response.status_code == 400
    assert "retentionDays" in response.get_json()["error"]["message"]


def test_the_global_setting_is_read_from_polku_retention_days_and_is_never_negative():
    from lrs.config.settings import SettingsError

    assert Settings.from_env({}).retention_days == 0
    assert Settings.from_env({"POLKU_RETENTION_DAYS": "365"}).retention_days == 365
    with pytest.raises(SettingsError, match="POLKU_RETENTION_DAYS"):
        Settings.from_env({"POLKU_RETENTION_DAYS": "-1"})
    with pytest.raises(SettingsError, match="POLKU_RETENTION_DAYS"):
        Settings.from_env({"POLKU_RETENTION_DAYS": "a year"})


def test_attachment_bytes_only_expired_statements_carried_are_deleted_and_shared_ones_kept(make_lrs):
    from tests.fixtures.xapi_client import MULTIPART, attachment, multipart_body, part

    lrs = make_lrs(retention_days=30)
    only_old, shared = b"only in the old statement\n", b"in an old and a young statement\n"

    def post_with(body: dict, *contents: bytes) -> str:
        body = dict(body, attachments=[attachment(c) for c in contents])
        response = lrs.client.post("/xapi/statements", data=multipart_body(body, *(part(c) for c in contents)),
                                   headers=lrs.auth | MULTIPART)
        assert response.status_code == 200, response.get_data(as_text=True)
        return lrs.statement(body["id"])["stored"]

    old_stored = post_with(lrs.said(lrs.aino, "a"), only_old, shared)
    young_stored = post_with(lrs.said(lrs.aino, "b"), shared)
    digests = {c: attachment(c)["sha2"] for c in (only_old, shared)}
    recorded = retention.run(lrs.services, now=_between(old_stored, young_stored) + timedelta(days=30))
    assert [(r["statements"], r["attachments"]) for r in recorded] == [(1, 1)]
    kept = lrs.services.blobs.get(digests.values())
    assert digests[only_old] not in kept
    assert kept[digests[shared]] == shared


def test_the_projection_runner_expires_what_is_due_after_its_round(make_lrs):
    """The runner's ``after_round`` (beside the server, in ``polku project``) runs retention."""
    from events import Event
    from lrs.statements.comparison import fingerprint
    from projections.statements import STATEMENT_STORED

    lrs = make_lrs(retention_days=30, run_projections=False)  # this test turns the runner's rounds itself
    runner = lrs.services.runner
    retention.beside(runner, lrs.services, every_s=0)
    old = dict(lrs.said(lrs.aino, "a"), stored="2020-01-01T00:00:00.000000Z", timestamp="2020-01-01T00:00:00.000000Z",
               authority={"objectType": "Agent", "account": {"homePage": "https://polku.invalid/credentials", "name": "x"}},
               version="2.0.0")
    lrs.services.log.append([Event(type=STATEMENT_STORED, key="old", data={"statement": old, "fingerprint": fingerprint(old)})])
    runner.catch_up()
    assert lrs.statement(old["id"]) is not None, "an event written before sealing opens as it is"
    runner.after_round()
    runner.catch_up()
    assert lrs.statement(old["id"]) is None
    assert [r.statements for r in lrs.runs()] == [1]
