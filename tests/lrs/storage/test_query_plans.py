"""Query plans as tests (issue 19): every hot read, run for real on a store with realistic
statistics, is planned by SQLite and by PostgreSQL without a full scan of a table that grows with
the store and without an index searched on a column that does not tell its rows apart.

The store is written through the API (statements, documents, a programme and a cohort), then
ANALYZEd, as a running installation's is (lrs/storage/statistics.py). It holds no statement that
targets another, as many stores never do: then the planner has no statistics of the references
at all, the case where reading the targets first read every statement of a verb (issue 19).
"""

from __future__ import annotations

import random
import uuid

import pytest
import sqlalchemy as sa

from events.sql import make_engine
from lrs.storage import query_plans
from lrs.app import create_app
from lrs.storage.query_plans import Samples, judge_postgresql, judge_sqlite, statement_filters
from lrs.config.settings import Settings
from tests.fixtures.credentials import V2, basic
from tests.fixtures.databases import MASTER_KEY, reset_postgres
from tests.fixtures.statements_builders import agent, statement

LEARNERS = 200
VERBS = ["experienced", "completed", "attended", "commented", "answered"]
PROGRAMME_ACTIVITY = "https://polku.example/plans/day-1"


def _load(url: str) -> None:
    app = create_app(Settings(database_url=url, master_key=MASTER_KEY, run_projections=True))
    services = app.extensions["polku"]
    try:
        credential, secret = services.credentials.create("plans", {"all"})
        headers = basic(credential, secret) | V2
        client = app.test_client()
        rng = random.Random(19)
        registrations = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(100)]
        for _batch in range(8):
            body = [statement(actor=f"learner{rng.randrange(LEARNERS)}", verb=rng.choice(VERBS),
                              activity=rng.choice([PROGRAMME_ACTIVITY] + [f"https://polku.example/plans/a{n}" for n in range(100)]),
                              registration=rng.choice(registrations) if rng.random() < 0.5 else None) for _ in range(500)]
            assert client.post("/xapi/statements", json=body, headers=headers).status_code == 200
        for n in range(150):
            params = {"activityId": f"https://polku.example/plans/a{n % 100}", "agent": f'{{"mbox": "mailto:learner{n}@example.org"}}',
                      "stateId": f"progress-{n % 3}"}
            assert client.put("/xapi/activities/state", query_string=params, json={"n": n}, headers=headers).status_code == 204
        api = {"Authorization": headers["Authorization"]}
        programme = {"name": "Plans", "items": [{"activity": PROGRAMME_ACTIVITY, "title": "Day 1", "kind": "coaching-day", "required": True}]}
        assert client.put("/api/v1/programmes/plans", json=programme, headers=api).status_code == 201
        cohort = {"name": "Plans", "programme": "plans", "iri": "https://polku.example/plans/cohort", "starts": "2026-01-05",
                  "ends": "2026-12-20", "members": [agent(f"learner{n}") for n in range(20)]}
        assert client.put("/api/v1/cohorts/plans", json=cohort, headers=api).status_code == 201
    finally:
        services.close()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def analysed(request, tmp_path_factory):
    """An engine on a store of 4,000 statements written through the API, with statistics."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('plans') / 'polku.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_session_url")
        reset_postgres(url)
    _load(url)
    engine = make_engine(Settings(database_url=url).sqlalchemy_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    yield engine
    engine.dispose()


def _report(plans: list[query_plans.Plan]) -> str:
    return "\n".join(f"{p.read}: {'; '.join(p.problems)}\n    {' ; '.join(p.lines)}" for p in plans if p.problems)


def test_every_hot_read_is_planned_without_a_full_scan_or_a_non_selective_index(analysed):
    plans = query_plans.plans(analysed)
    assert [p for p in plans if p.problems] == [], _report(plans)


def test_every_hot_read_is_explained(analysed):
    """Each read sends at least one SELECT that the planner explains: none is passed over."""
    reads = query_plans.hot_reads(analysed)
    explained = {p.read for p in query_plans.plans(analysed, reads)}
    assert {r.name for r in reads} - explained == set()
    assert {"credential lookup", "claim watermark (oldest write in flight)", "statement by id", "document by key",
            "document ids of a scope", "statements: more (verb)", "cohort progress", "cohort engagement", "cohort success"} <= explained


def test_the_hot_reads_cover_every_combination_of_the_statement_filters():
    names = {name for name, _, _ in statement_filters(Samples())}
    for combination in ("agent", "verb", "activity", "registration", "agent+verb", "agent+verb+since",
                        "agent+verb+activity+registration", "verb+registration+since"):
        assert combination in names
    assert len([n for n in names if "+" not in n and n not in {"since", "until"} and "," not in n]) >= 5


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_the_watermark_reads_only_writes_in_flight_on_a_store_without_statistics(database, request, tmp_path):
    """The claim query's plan does not depend on statistics: on a store that was never analysed,
    the oldest write in flight is found from the in-flight marks alone (issue 19: it read every
    claim ever made)."""
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}" if database == "sqlite" else request.getfixturevalue("postgres_url")
    if database == "postgresql":
        reset_postgres(url)
    app = create_app(Settings(database_url=url, master_key=MASTER_KEY, run_projections=False))
    engine = app.extensions["polku"].engine
    try:
        with engine.begin() as conn:
            if database == "sqlite":
                conn.exec_driver_sql("DELETE FROM sqlite_stat1")
        watermark = next(r for r in query_plans.hot_reads(engine) if r.name.startswith("claim watermark"))
        plans = query_plans.plans(engine, [watermark])
        assert plans and all("polku_claims" not in " ".join(p.lines) for p in plans), [p.lines for p in plans]
        assert [p for p in plans if p.problems] == []
    finally:
        app.extensions["polku"].close()


# ---- the judge itself can fail ---------------------------------------------------------------

def test_the_judge_flags_the_claims_searched_by_namespace_alone_and_a_full_scan():
    issue_19 = ["SEARCH polku_claims USING INDEX sqlite_autoindex_polku_claims_1 (namespace=?)"]
    assert judge_sqlite(issue_19, walks_in_order=False) != []
    assert judge_sqlite(["SCAN xapi_statements"], walks_in_order=True) != []
    assert judge_sqlite(["SCAN xapi_statements USING INDEX ix_xapi_statements_stored"], walks_in_order=False) != []
    assert judge_sqlite(["SCAN xapi_statements USING INDEX ix_xapi_statements_stored"], walks_in_order=True) == []
    assert judge_sqlite(["SEARCH xapi_statements USING INDEX ix_xapi_statements_verb (verb_id=? AND stored>?)"], False) == []


def test_the_judge_flags_a_postgresql_sequential_scan_and_a_non_selective_index():
    seq = [{"Plan": {"Node Type": "Seq Scan", "Relation Name": "xapi_statements"}}]
    assert judge_postgresql(seq, walks_in_order=True) != []
    namespace = [{"Plan": {"Node Type": "Aggregate", "Plans": [
        {"Node Type": "Index Scan", "Relation Name": "polku_claims", "Index Name": "polku_claims_pkey",
         "Index Cond": "((namespace)::text = 'statement-id'::text)"}]}}]
    assert judge_postgresql(namespace, walks_in_order=False) != []
    exact = [{"Plan": {"Node Type": "Index Scan", "Relation Name": "xapi_statements", "Index Name": "xapi_statements_pkey",
                       "Index Cond": "((id)::text = 'x'::text)"}}]
    assert judge_postgresql(exact, walks_in_order=False) == []


def test_no_read_writes(analysed):
    """The reads `polku db check` runs on an operator's database change nothing."""
    with analysed.connect() as conn:
        before = conn.execute(sa.text("SELECT count(*) FROM xapi_statements")).scalar_one()
    sent = [sql for read in query_plans.hot_reads(analysed) for sql, _ in query_plans.captured(analysed, read.run, reads_only=False)]
    assert sent and all(s.lstrip().upper().startswith(("SELECT", "WITH", "PRAGMA")) for s in sent), sent
    with analysed.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM xapi_statements")).scalar_one() == before



def test_the_judge_knows_an_aliased_table_by_its_alias():
    """SQLite names an aliased table by its alias alone: the StatementRef targets read by verb."""
    sql = "SELECT id FROM xapi_statements WHERE id IN (SELECT r.statement_id FROM xapi_statement_refs JOIN xapi_statements AS target ON ...)"
    lines = ["SEARCH xapi_statements USING INDEX sqlite_autoindex_xapi_statements_1 (id=?)", "LIST SUBQUERY 1",
             "SEARCH target USING INDEX ix_xapi_statements_verb (verb_id=?)", "USE TEMP B-TREE FOR ORDER BY"]
    assert judge_sqlite(lines, walks_in_order=False, paged=True, aliased=query_plans.aliases(sql)) != []
