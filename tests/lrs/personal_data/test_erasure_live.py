"""Erasing a person from a running Polku loaded with the demo (issue 11), in both modes: over HTTP
to ``polku serve`` (and ``polku project`` on Apache Kafka + PostgreSQL).

After the erasure the person's identifier is readable nowhere: not in any table, not on the log
(its raw bytes, and the log opened with every key Polku still gives a consumer), not after a
rebuild; everyone else's rows in the cohort views are what they were, and the cohort's own
figures are recounted without them; a rebuild gives the live views exactly.
"""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest
import requests
import sqlalchemy as sa

from events import decode
from events.envelope import inflate
from events.reader import KeyClient, open_events
from lrs.storage.schema import target_metadata
from lrs.config.settings import database_url_for_sqlalchemy
from schemas.personal import ANONYMOUS_AGENT

V2 = {"X-Experience-API-Version": "2.0.0"}
VIEWS = ("progress", "engagement", "success")


class Installation:
    def __init__(self, lrs) -> None:
        self.lrs = lrs
        self.base = f"http://127.0.0.1:{lrs.port}"
        self.http = requests.Session()
        self.http.auth = lrs.auth
        self.eraser = lrs.create_credential("erase", "privacy officer")
        self.reader = lrs.create_credential("keys", "log consumer")

    def get(self, path: str, **params):
        response = self.http.get(self.base + path, params=params, headers=V2, timeout=60)
        assert response.status_code == 200, response.text
        return response.json()

    def views(self, cohort: str) -> dict[str, dict]:
        return {view: self.get(f"/api/v1/cohorts/{cohort}/{view}") for view in VIEWS}

    def raw_log(self) -> list[bytes]:
        if not self.lrs.scale_out:
            engine = sa.create_engine(database_url_for_sqlalchemy(self.lrs.env["POLKU_DATABASE_URL"]))
            with engine.connect() as conn:
                rows = [row.key.encode() + b" " + inflate(bytes(row.payload)) for row in conn.execute(sa.text("SELECT key, payload FROM polku_event_log"))]
            engine.dispose()
            return rows
        from kafka import KafkaConsumer

        consumer = KafkaConsumer(
            self.lrs.env["POLKU_KAFKA_TOPIC"], bootstrap_servers=self.lrs.env["POLKU_KAFKA_BOOTSTRAP_SERVERS"],
            auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=3000,
        )
        try:
            return [(m.key or b"") + b" " + m.value for m in consumer]
        finally:
            consumer.close()

    def opened_log(self) -> str:
        events = [decode(raw.split(b" ", 1)[1]) for raw in self.raw_log()]
        key, secret = self.reader
        opened = open_events(events, KeyClient(self.base, key, secret))
        return json.dumps([e.data for e in opened], ensure_ascii=False)

    def tables(self) -> str:
        engine = sa.create_engine(database_url_for_sqlalchemy(self.lrs.env["POLKU_DATABASE_URL"]))
        out = []
        with engine.connect() as conn:
            for table in target_metadata().sorted_tables:
                for row in conn.execute(sa.select(table)):
                    out.append(" ".join(bytes(v).decode("utf-8", "replace") if isinstance(v, (bytes, memoryview)) else str(v) for v in row))
        engine.dispose()
        return "\n".join(out)


@pytest.fixture(params=["embedded", pytest.param("scale-out", marks=[pytest.mark.postgres, pytest.mark.kafka])])
def demo(request, fresh_lrs):
    lrs = fresh_lrs(request.param)
    installation = Installation(lrs)
    lrs.cli("demo", "--url", installation.base, "--key", lrs.key, "--secret", lrs.secret, "--members", "4")
    return installation


def identifiers(agent: dict) -> list[str]:
    found = [agent.get("name", "")] if agent.get("name") else []
    if "mbox" in agent:
        found += [agent["mbox"].removeprefix("mailto:"), hashlib.sha1(agent["mbox"].encode()).hexdigest()]
    if "account" in agent:
        found.append(agent["account"]["name"])
    return found


def others(view: dict, erased: dict) -> list[dict]:
    return [row for row in view["members"] if row["member"].get("mbox") != erased["mbox"]]


def test_an_erased_demo_member_is_readable_nowhere_and_everyone_elses_rows_stay(demo):
    cohort = demo.get("/api/v1/cohorts")[0]["key"]
    members = [{k: v for k, v in m.items() if v is not None} for m in demo.get(f"/api/v1/cohorts/{cohort}")["members"]]
    member, colleague_member = members[0], members[1]  # each with an address and a workspace account
    erased, colleague = ({"objectType": "Agent", "mbox": m["mbox"]} for m in (member, colleague_member))
    taught = {"id": str(uuid.uuid4()), "actor": colleague, "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
              "object": {"id": "https://polku.example/erasure/coaching"}, "context": {"instructor": erased}}
    posted = demo.http.post(demo.base + "/xapi/statements", json=taught, headers=V2)
    assert posted.status_code == 200, posted.text
    before = demo.views(cohort)
    log_before = b"\n".join(demo.raw_log()).decode("utf-8", "replace")
    assert not [i for i in identifiers(member) if i in log_before], "the log never holds an identifier in clear"

    response = demo.http.delete(demo.base + "/api/v1/agents", params={"agent": json.dumps(erased)}, auth=demo.eraser, timeout=60)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "done" and response.json()["statements"] > 0

    assert demo.get("/xapi/statements", agent=json.dumps(erased))["statements"] == []
    kept = demo.get("/xapi/statements", statementId=taught["id"], format="exact")
    assert kept["actor"] == colleague and kept["context"]["instructor"] == ANONYMOUS_AGENT
    after = demo.views(cohort)
    assert response.json()["linked"] >= 1, "the member's workspace account is theirs too"
    assert [m for m in demo.get(f"/api/v1/cohorts/{cohort}")["members"] if m.get("mbox") == member["mbox"]] == []
    for view in VIEWS:
        assert member["mbox"] not in [row["member"].get("mbox") for row in after[view]["members"]], view
        assert others(after[view], member) == others(before[view], member), f"{view}: everyone else's rows stay"
    for where, text in (("a table", demo.tables()), ("the opened log", demo.opened_log()),
                        ("the raw log", b"\n".join(demo.raw_log()).decode("utf-8", "replace"))):
        assert not [i for i in identifiers(member) if i in text], f"the erased person is readable in {where}"
    assert colleague["mbox"] in demo.opened_log(), "everyone else's parts still open"

    demo.lrs.cli("projections", "rebuild")
    assert demo.views(cohort) == after, "a rebuild gives the live views"
    assert demo.get("/xapi/statements", statementId=taught["id"], format="exact") == kept
    assert not [i for i in identifiers(member) if i in demo.tables()], "nor is the person readable after the rebuild"
