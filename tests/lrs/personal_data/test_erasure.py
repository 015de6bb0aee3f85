"""Personal data (issue 11): crypto-shredding on the log, and erasing a person for good.

In-process (the app factory's Flask client), on SQLite and PostgreSQL, with the world of
tests/fixtures/people.py: aino is erased, onni stays. The log here is the embedded one, whose
every byte the tests can read; tests/lrs/personal_data/test_erasure_live.py does the same over HTTP on Kafka.
"""

from __future__ import annotations

import hashlib
import uuid
import json

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from events import decode
from events.envelope import inflate
from events.sealing import STATEMENT_SHREDDED, Opener
from events.sql import log_table
from lrs.cli import main
from lrs.storage.schema import target_metadata
from lrs.config.settings import Settings
from schemas.personal import ANONYMOUS_AGENT
from tests.fixtures.databases import MASTER_KEY
from tests.fixtures.people import ATTACHMENT_BYTES, Loaded, basic, in_process_app, load

ERASE = "/api/v1/agents"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def lrs(request, tmp_path):
    app, url = in_process_app(request, tmp_path)
    loaded = Loaded(app, url)
    load(loaded)
    credential, secret = loaded.services.credentials.create("privacy officer", {"erase"})
    loaded.eraser = basic(credential, secret)
    yield loaded
    loaded.services.close()


def identifiers(lrs: Loaded) -> list[str]:
    """aino's identifiers as they could appear anywhere: address, its hash, her name."""
    address = lrs.aino["mbox"]
    return [address.removeprefix("mailto:"), hashlib.sha1(address.encode()).hexdigest(), lrs.aino["name"]]


def erase(lrs: Loaded, agent: dict | None = None, auth: dict | None = None):
    return lrs.client.delete(ERASE, query_string={"agent": json.dumps(agent or lrs.aino)}, headers=auth or lrs.eraser)


def raw_log(lrs: Loaded) -> list[bytes]:
    """Each row of the log as its key and its envelope's bytes (inflated: the log stores them deflated)."""
    with lrs.services.engine.connect() as conn:
        return [bytes(row.key.encode()) + b" " + inflate(bytes(row.payload)) for row in conn.execute(sa.select(log_table.c.key, log_table.c.payload))]


def opened_log(lrs: Loaded) -> list:
    with lrs.services.engine.connect() as conn:
        records = [decode(bytes(row.payload)) for row in conn.execute(sa.select(log_table.c.payload).order_by(log_table.c.log_offset))]
    from events import Record

    return [r.event for r in Opener(lrs.services.keyring.keys).open([Record(0, i, e) for i, e in enumerate(records)])]


def every_table_as_text(lrs: Loaded) -> str:
    """Every row of every table Polku keeps, as text (what an auditor with database access sees)."""
    out = []
    with lrs.services.engine.connect() as conn:
        for table in target_metadata().sorted_tables:
            for row in conn.execute(sa.select(table)):
                out.append(" ".join(bytes(v).decode("utf-8", "replace") if isinstance(v, (bytes, memoryview)) else str(v) for v in row))
    return "\n".join(out)


def statements_of(lrs: Loaded, agent: dict) -> list[dict]:
    response = lrs.get("/xapi/statements", agent=json.dumps(agent), related_agents="true", limit=100)
    assert response.status_code == 200
    return response.get_json()["statements"]


# ---- crypto-shredding on the log ---------------------------------------------------------------

def test_the_log_holds_no_identifier_name_or_result_in_clear(lrs):
    log = b"\n".join(raw_log(lrs)).decode("utf-8", "replace")
    for identifier in identifiers(lrs) + [lrs.onni["mbox"].removeprefix("mailto:"), "Onni"]:
        assert identifier not in log, f"{identifier!r} readable on the log"
    assert '"scaled"' not in log, "results are sealed with the actor's key"
    assert lrs.ids["aino-day-1"] in log, "what is not personal (ids, verbs, activities) stays readable"


def test_projections_open_the_log_to_exactly_the_statements_that_were_sent(lrs):
    stored = {e.data["statement"]["id"]: e.data["statement"] for e in opened_log(lrs) if e.type == "statement.stored"}
    got = lrs.get("/xapi/statements", statementId=lrs.ids["onni-day-1-taught-by-aino"], format="exact").get_json()
    assert stored[got["id"]] == got
    assert got["context"]["instructor"] == lrs.aino


# ---- erasure ----------------------------------------------------------------------------------

def test_erasing_a_person_answers_a_summary_and_their_statements_leave_the_statement_api(lrs):
    before = statements_of(lrs, lrs.onni)
    response = erase(lrs)
    assert response.status_code == 200, response.get_data(as_text=True)
    summary = response.get_json()
    assert summary["status"] == "done" and summary["keys_deleted"] >= 1
    assert summary["statements"] == 4, "day-1, check, the voided one; the hashed-mbox one is the same person"
    assert summary["documents"] == 3 and summary["attachments"] == 1
    for name in ("aino-day-1", "aino-check", "aino-self"):
        assert lrs.get("/xapi/statements", statementId=lrs.ids[name]).status_code == 404
    assert statements_of(lrs, lrs.aino) == []
    assert len(statements_of(lrs, lrs.onni)) == len(before), "onni's statements all stay"


def test_a_statement_naming_the_erased_person_as_instructor_or_object_keeps_its_place_with_the_anonymous_agent(lrs):
    assert erase(lrs).status_code == 200
    taught = lrs.get("/xapi/statements", statementId=lrs.ids["onni-day-1-taught-by-aino"], format="exact").get_json()
    assert taught["actor"]["mbox"] == lrs.onni["mbox"]
    assert taught["context"]["instructor"] == ANONYMOUS_AGENT
    mentored = lrs.get("/xapi/statements", statementId=lrs.ids["onni-mentored-aino"], format="exact").get_json()
    assert mentored["object"] == ANONYMOUS_AGENT
    assert lrs.ids["onni-day-1-taught-by-aino"] in [s["id"] for s in statements_of(lrs, ANONYMOUS_AGENT)]


def test_their_state_and_agent_profile_documents_are_deleted_and_others_stay(lrs):
    hashed = {"agent": json.dumps(lrs.aino_sha1), "profileId": "kept-by-hash"}
    lrs.put_document("/xapi/agents/profile", hashed, b'{"theme": "dark"}', "application/json")
    assert erase(lrs).status_code == 200
    assert lrs.get("/xapi/agents/profile", **hashed).status_code == 404, "kept under the address's hash: the same person"
    state = {"activityId": f"{lrs.ns}/day-1", "stateId": "bookmark"}
    assert lrs.get("/xapi/activities/state", agent=json.dumps(lrs.aino), **state).status_code == 404
    assert lrs.get("/xapi/agents/profile", agent=json.dumps(lrs.aino), profileId="preferences").status_code == 404
    assert lrs.get("/xapi/activities/state", agent=json.dumps(lrs.onni), **state).get_json() == {"page": 9}
    assert lrs.get("/xapi/agents/profile", agent=json.dumps(lrs.onni), profileId="preferences").status_code == 200


def test_attachment_bytes_only_they_referenced_are_deleted(lrs):
    digest = hashlib.sha256(ATTACHMENT_BYTES).hexdigest()
    assert lrs.services.blobs.get([digest])
    assert erase(lrs).status_code == 200
    assert lrs.services.blobs.get([digest]) == {}


def test_their_identifier_appears_in_no_table_and_their_parts_of_the_log_no_longer_open(lrs):
    assert erase(lrs).status_code == 200
    text = every_table_as_text(lrs)
    for identifier in identifiers(lrs):
        assert identifier not in text, f"{identifier!r} still in the database"
    opened = json.dumps([e.data for e in opened_log(lrs)], ensure_ascii=False)
    for identifier in identifiers(lrs):
        assert identifier not in opened, f"{identifier!r} still readable in the opened log"
    assert lrs.onni["mbox"] in opened, "everyone else's parts still open"
    shredded = [e for e in opened_log(lrs) if e.type == STATEMENT_SHREDDED]
    assert {e.data["statement"]["id"] for e in shredded} >= {lrs.ids["aino-day-1"], lrs.ids["aino-check"]}


def test_a_rebuild_after_the_erasure_gives_the_same_statements_as_the_live_views(lrs):
    assert erase(lrs).status_code == 200
    live = {name: statements_of(lrs, agent) for name, agent in (("onni", lrs.onni), ("anonymous", ANONYMOUS_AGENT))}
    every = lrs.get("/xapi/statements", limit=1000, format="exact").get_json()["statements"]
    lrs.services.runner.rebuild([p.name for p in lrs.services.runner.projections])
    assert {name: statements_of(lrs, agent) for name, agent in (("onni", lrs.onni), ("anonymous", ANONYMOUS_AGENT))} == live
    assert lrs.get("/xapi/statements", limit=1000, format="exact").get_json()["statements"] == every
    assert lrs.get("/xapi/statements", statementId=lrs.ids["aino-to-void"], voidedStatementId=None).status_code == 404


def test_erasing_again_is_harmless_and_finds_nothing_more(lrs):
    assert erase(lrs).status_code == 200
    again = erase(lrs)
    assert again.status_code == 200
    assert {k: again.get_json()[k] for k in ("statements", "mentions", "documents", "attachments")} == dict.fromkeys(
        ("statements", "mentions", "documents", "attachments"), 0
    )


def test_erasure_needs_the_erase_scope_which_all_does_not_grant(lrs):
    assert erase(lrs, auth=lrs.auth).status_code == 403
    assert lrs.get("/xapi/statements", statementId=lrs.ids["aino-day-1"]).status_code == 200, "nothing erased"


def test_a_bad_agent_is_400_naming_agent(lrs):
    for bad in ('{"mbox": "aino@example.org"}', "not json", '{"objectType": "Group", "member": []}'):
        response = lrs.client.delete(ERASE, query_string={"agent": bad}, headers=lrs.eraser)
        assert response.status_code == 400 and "agent" in response.get_json()["error"]["message"], bad
    missing = lrs.client.delete(ERASE, headers=lrs.eraser)
    assert missing.status_code == 400 and "agent" in missing.get_json()["error"]["message"]


def test_the_erasure_is_audited_who_when_how_many_without_the_identifier(lrs):
    summary = erase(lrs).get_json()
    record = lrs.client.get("/api/v1/erasures", headers=lrs.eraser).get_json()["erasures"]
    assert [(r["id"], r["statements"], r["kind"]) for r in record] == [(summary["id"], 4, "request")]
    assert record[0]["requested_by"].startswith("credential ") and record[0]["finished"]
    assert not any(identifier in json.dumps(record) for identifier in identifiers(lrs))


def test_an_erased_statement_id_stays_spent(lrs):
    assert erase(lrs).status_code == 200
    again = {"id": lrs.ids["aino-day-1"], "actor": lrs.aino, "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
             "object": {"id": f"{lrs.ns}/day-1"}}
    assert lrs.client.post("/xapi/statements", json=again, headers=lrs.auth).status_code == 409


def test_what_the_person_sends_after_the_erasure_is_stored_under_a_new_key(lrs):
    assert erase(lrs).status_code == 200
    fresh = {"actor": lrs.aino, "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"}, "object": {"id": f"{lrs.ns}/day-2"}}
    response = lrs.client.post("/xapi/statements", json=fresh, headers=lrs.auth)
    assert response.status_code == 200
    got = lrs.get("/xapi/statements", statementId=response.get_json()[0]).get_json()
    assert got["actor"]["mbox"] == lrs.aino["mbox"]


# ---- the keys consumers of the log may read ---------------------------------------------------

def test_data_keys_are_given_only_to_the_keys_scope_and_never_an_erased_persons(lrs):
    kids = sorted({part["kid"] for e in (decode(bytes(p.split(b" ", 1)[1])) for p in raw_log(lrs)) for part in e.data.get("sealed", [])})
    assert lrs.client.get("/api/v1/data-keys", query_string={"kid": ",".join(kids[:5])}, headers=lrs.auth).status_code == 403
    credential, secret = lrs.services.credentials.create("log consumer", {"keys"})
    reader = basic(credential, secret)
    answer = lrs.client.get("/api/v1/data-keys", query_string={"kid": ",".join(kids)}, headers=reader).get_json()
    assert set(answer["keys"]) == set(kids) and answer["unavailable"] == []
    assert erase(lrs).status_code == 200
    after = lrs.client.get("/api/v1/data-keys", query_string={"kid": ",".join(kids)}, headers=reader).get_json()
    assert after["unavailable"] and set(after["keys"]) | set(after["unavailable"]) == set(kids)
    bad = lrs.client.get("/api/v1/data-keys", query_string={"kid": "nope"}, headers=reader)
    assert bad.status_code == 400 and "kid" in bad.get_json()["error"]["message"]


# ---- the command ------------------------------------------------------------------------------

def test_polku_erase_asks_for_confirmation_and_erases_only_when_given(lrs):
    env = {"POLKU_DATABASE_URL": lrs.database_url, "POLKU_MASTER_KEY": MASTER_KEY}
    refused = CliRunner().invoke(main, ["erase", "--agent", json.dumps(lrs.aino)], input="n\n", env=env)
    assert refused.exit_code == 1 and "4 statement(s)" in refused.output
    assert lrs.get("/xapi/statements", statementId=lrs.ids["aino-day-1"]).status_code == 200
    done = CliRunner().invoke(main, ["erase", "--agent", json.dumps(lrs.aino)], input="y\n", env=env)
    assert done.exit_code == 0, done.output
    assert '"status": "done"' in done.output
    assert lrs.get("/xapi/statements", statementId=lrs.ids["aino-day-1"]).status_code == 404
    listed = CliRunner().invoke(main, ["erasures"], env=env)
    assert listed.exit_code == 0 and '"requested_by": "polku erase"' in listed.output


def test_a_wrong_master_key_is_refused_at_start_naming_polku_master_key(lrs):
    from lrs.services import build_services
    from lrs.config.settings import SettingsError

    with pytest.raises(SettingsError, match="POLKU_MASTER_KEY"):
        build_services(Settings(database_url=lrs.database_url, master_key="A" * 43 + "=", run_projections=False))



def test_a_write_naming_a_person_whose_erasure_is_under_way_is_503_and_goes_through_once_it_is_done(lrs):
    """Between retiring a person's keys and the erasure event, nothing may be sealed with a new key
    of theirs (it would escape the erasure in a rebuild): such a write is refused, to be retried."""
    from schemas.agents import person_key

    keyring, person = lrs.services.keyring, person_key(lrs.aino)
    with lrs.services.engine.begin() as conn:
        kids = keyring.retire(conn, keyring.ref(person))  # as the erase command's first step does
    fresh = {"id": str(uuid.uuid4()), "actor": lrs.aino, "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
             "object": {"id": f"{lrs.ns}/day-3"}}
    refused = lrs.client.post("/xapi/statements", json=fresh, headers=lrs.auth)
    assert refused.status_code == 503 and "same ids" in refused.get_json()["error"]["message"]
    assert lrs.get("/xapi/statements", statementId=fresh["id"]).status_code == 404
    other = {"actor": lrs.onni, "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"}, "object": {"id": f"{lrs.ns}/day-3"}}
    assert lrs.client.post("/xapi/statements", json=other, headers=lrs.auth).status_code == 200, "others write on"
    with lrs.services.engine.begin() as conn:
        keyring.shred(conn, kids)  # as the erase command's last step does
    assert lrs.client.post("/xapi/statements", json=fresh, headers=lrs.auth).status_code == 200, "the same write, retried"


def test_an_admin_or_all_credential_cannot_give_itself_erase_or_keys_over_http(lrs):
    for scopes in (["erase"], ["keys"], ["statements/read", "keys"]):
        made = lrs.client.post("/api/v1/credentials", json={"name": f"sneaky {scopes}", "scopes": scopes}, headers=lrs.auth)
        assert made.status_code == 403 and "scopes" in made.get_json()["error"]["message"], scopes
    officer = lrs.client.get("/api/v1/credentials", headers=lrs.auth).get_json()
    key = next(c["key"] for c in officer if "erase" in c["scopes"])
    assert lrs.client.post(f"/api/v1/credentials/{key}/rotate", headers=lrs.auth).status_code == 403, "nor take the officer's"
    assert lrs.client.post("/api/v1/credentials", json={"name": "deputy", "scopes": ["erase"]},
                           headers=lrs.eraser).status_code == 403, "erase alone is not admin"


def test_statements_logged_before_sealing_are_erased_from_every_view_and_stay_erased_after_a_rebuild(lrs):
    """A log from before sealing names people in clear: an erasure still reaches them, and a rebuild,
    which can read them, honours it as the live views did."""
    from events import Event
    from lrs.statements.commands import complete
    from lrs.statements.comparison import fingerprint

    def legacy(actor: dict, **extra) -> dict:
        body = {"id": str(uuid.uuid4()), "actor": actor, "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
                "object": {"id": f"{lrs.ns}/legacy"}, **extra}
        done = complete(body, "2026-01-05T10:00:00.000000Z", {"objectType": "Agent", "account": {
            "homePage": "https://polku.invalid/credentials", "name": "old"}}, "2.0.0")
        return done

    own, taught = legacy(lrs.aino, result={"response": "legacy words"}), legacy(lrs.onni, context={"instructor": lrs.aino})
    lrs.services.log.append([Event("statement.stored", f"mbox:{s['actor']['mbox']}", {"statement": s, "fingerprint": fingerprint(s)},
                                   recorded=s["stored"]) for s in (own, taught)])
    lrs.services.runner.apply_now()
    assert lrs.get("/xapi/statements", statementId=own["id"]).status_code == 200
    assert erase(lrs).status_code == 200
    assert lrs.get("/xapi/statements", statementId=own["id"]).status_code == 404
    live = lrs.get("/xapi/statements", statementId=taught["id"], format="exact").get_json()
    assert live["context"]["instructor"] == ANONYMOUS_AGENT
    every = lrs.get("/xapi/statements", limit=1000, format="exact").get_json()["statements"]
    lrs.services.runner.rebuild([p.name for p in lrs.services.runner.projections])
    assert lrs.get("/xapi/statements", limit=1000, format="exact").get_json()["statements"] == every
    assert lrs.get("/xapi/statements", statementId=own["id"]).status_code == 404
    assert lrs.get("/api/v1/agents/export", agent=json.dumps(lrs.aino)).get_json()["statements"] == []


def test_a_statement_naming_more_people_than_are_sealed_one_by_one_is_400_naming_it(lrs):
    from events.sealing import MAX_PEOPLE_PER_STATEMENT

    team = {"objectType": "Group", "member": [{"mbox": f"mailto:m{i}@example.org"} for i in range(MAX_PEOPLE_PER_STATEMENT)]}
    crowded = {"actor": lrs.onni, "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
               "object": {"id": f"{lrs.ns}/crowd"}, "context": {"team": team}}
    refused = lrs.client.post("/xapi/statements", json=[crowded], headers=lrs.auth)
    assert refused.status_code == 400 and refused.get_json()["error"]["message"].startswith("statements[0]: names")
    team["member"].pop()  # the actor and the members: exactly the limit
    assert lrs.client.post("/xapi/statements", json=[crowded], headers=lrs.auth).status_code == 200


def test_on_sqlite_the_erased_person_is_overwritten_in_the_database_file_itself(lrs):
    if not lrs.database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL keeps dead rows until VACUUM (docs/personal-data.md says so)")
    assert erase(lrs).status_code == 200
    with lrs.services.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = open(lrs.database_url.removeprefix("sqlite:///"), "rb").read()
    for identifier in identifiers(lrs):
        assert identifier.encode() not in raw, f"{identifier!r} left in the file's free space"
