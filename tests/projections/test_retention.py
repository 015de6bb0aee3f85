"""Retention in the projections (issue 11, "Retention"): ``statements.expired`` drops the
statements stored before its cutoff from the statement store, the cohort facts and views and the
agent names -- for a programme's own retention, those on its items from the store and those counted
for its cohorts from the views -- while younger statements stay, activity definitions stay, and
what an expired statement voided stays voided. Applied in batches it leaves what it leaves one by
one, and a rebuild from the log gives the same tables. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from events import Event, Record
from lrs.shapes.api_schemas import CohortSchema, ProgrammeSchema
from lrs.cohorts.programmes import cohort_event, load, programme_event
from projections.activities import ActivityDefinitions
from projections.agents import AgentNames
from projections.cohorts import CohortProjection, facts, rows
from projections.registry import all_projections
from projections.statements import STATEMENTS_EXPIRED, StatementStore, statements, voids
from tests.fixtures.statements_builders import agent, statement, voiding
from tests.projections.test_contract import _stored, apply, batches, reset, snapshot

NS = "https://retention.example"
ITEM = f"{NS}/day-1"
COHORT_IRI = f"{NS}/cohort"
#: statements 0..9 are stored at 2026-03-01T00:00:00..09; the cutoff falls between 4 and 5
CUTOFF = "2026-03-01T00:00:04.500000Z"


def _definitions(retention_days: int | None = None) -> list[Event]:
    programme = {"name": "P", "items": [{"activity": ITEM, "title": "Day 1", "kind": "coaching-day", "required": True}]}
    if retention_days:
        programme["retentionDays"] = retention_days
    cohort = {"name": "C", "programme": "p", "iri": COHORT_IRI, "starts": "2026-02-01", "ends": "2026-04-01",
              "members": [agent("aino"), agent("onni")]}
    return [programme_event("p", load(ProgrammeSchema(), programme)), cohort_event("c", load(CohortSchema(), cohort))]


def _bodies() -> list[dict]:
    """Ten statements, stored one second apart: the first five are older than :data:`CUTOFF`."""
    on_item = {"contextActivities": {"grouping": [{"id": COHORT_IRI}]}}
    old_target = statement(actor="onni", activity=ITEM, context=on_item)
    young_target = statement(actor="aino", activity=ITEM, context=on_item)
    return [
        statement(actor="aino", activity=ITEM, context=on_item),                      # 0 old, on the item
        dict(statement(actor="onni", activity=f"{NS}/elsewhere"),                      # 1 old, not on the item
             actor={"mbox": "mailto:onni@example.org", "name": "Onni Old Name"}),
        old_target,                                                                    # 2 old, voided by 3
        voiding(old_target["id"], actor="aino"),                                       # 3 old voiding
        voiding(young_target["id"], actor="aino"),                                     # 4 old voiding of 8
        statement(actor="aino", activity=ITEM, context=on_item),                      # 5 young
        dict(statement(actor="onni", activity=ITEM, context=on_item),                  # 6 young
             actor={"mbox": "mailto:onni@example.org", "name": "Onni"}),
        statement(actor="eeva", activity=f"{NS}/elsewhere"),                           # 7 young
        young_target,                                                                  # 8 young, arrives voided
        statement(actor="eeva", activity=f"{NS}/elsewhere"),                           # 9 young
    ]


def expired(programme: str | None = None) -> Event:
    data = {"id": "expiry-1", "before": CUTOFF, "programme": programme}
    if programme is not None:
        data["activities"] = [ITEM]
    return Event(type=STATEMENTS_EXPIRED, key=f"retention:{programme or '*'}", data=data, id="expiry-1")


def log_of(programme: str | None, bodies: list[dict]) -> list[Record]:
    """Definitions, the statements, the expiry, and one statement after it."""
    events = _definitions(30 if programme else None) + [_stored(b, n) for n, b in enumerate(bodies)]
    events += [expired(programme), _stored(statement(actor="eeva", activity=ITEM), 20)]
    return [Record(0, n, e) for n, e in enumerate(events)]


def ids(engine: sa.Engine, table: sa.Table, column: str) -> set[str]:
    with engine.connect() as conn:
        return set(conn.scalars(sa.select(table.c[column])))


@pytest.mark.parametrize("programme", [None, "p"], ids=["global", "programme"])
@pytest.mark.parametrize("projection", all_projections(), ids=lambda p: p.name)
def test_an_expiry_applied_in_batches_leaves_what_one_by_one_leaves_and_a_rebuild_the_same(engine, projection, programme):
    every = log_of(programme, _bodies())
    apply(engine, projection, batches(every, 1))
    one_by_one = snapshot(engine, projection)
    for size in (4, len(every)):
        reset(engine, projection)
        apply(engine, projection, batches(every, size))
        assert snapshot(engine, projection) == one_by_one, f"batches of {size}"


def test_the_statement_store_drops_every_statement_stored_before_the_cutoff_and_keeps_the_younger(engine):
    bodies = _bodies()
    apply(engine, StatementStore(), batches(log_of(None, bodies), 50))
    held = ids(engine, statements, "id")
    assert not held & {b["id"] for b in bodies[:5]}
    assert {b["id"] for b in bodies[5:]} <= held
    assert bodies[8]["id"] in ids(engine, voids, "target_id"), "what an expired statement voided stays voided"
    with engine.connect() as conn:
        assert conn.execute(sa.select(statements.c.voided).where(statements.c.id == bodies[8]["id"])).scalar() is True


def test_a_programmes_expiry_drops_only_the_old_statements_on_its_items(engine):
    bodies = _bodies()
    apply(engine, StatementStore(), batches(log_of("p", bodies), 50))
    held = ids(engine, statements, "id")
    assert bodies[0]["id"] not in held and bodies[2]["id"] not in held, "old, on the programme's item"
    assert bodies[1]["id"] in held, "old, but not on the programme's items"
    assert {b["id"] for b in bodies[5:]} <= held


@pytest.mark.parametrize("programme", [None, "p"], ids=["global", "programme"])
def test_the_cohort_views_lose_the_old_facts_and_rows_and_keep_the_young(engine, programme):
    bodies = _bodies()
    apply(engine, CohortProjection(), batches(log_of(programme, bodies), 50))
    counted = ids(engine, rows, "statement_id")
    assert not counted & {b["id"] for b in bodies[:5]}
    assert {bodies[5]["id"], bodies[6]["id"]} <= counted
    kept = ids(engine, facts, "statement_id")
    assert bodies[0]["id"] not in kept
    assert (bodies[1]["id"] in kept) == (programme is not None), "a programme's expiry keeps facts its cohorts never counted"
    assert bodies[8]["id"] not in kept, "a young statement an expired one voided stays voided"


def test_agent_names_last_seen_before_the_cutoff_go_and_names_seen_since_stay(engine):
    apply(engine, AgentNames(), batches(log_of(None, _bodies()), 50))
    with engine.connect() as conn:
        names = set(conn.scalars(sa.select(sa.text("name")).select_from(sa.table("xapi_agent_names"))))
    assert "Onni Old Name" not in names
    assert {"Onni", "eeva"} <= names


def test_activity_definitions_stay(engine):
    projection = ActivityDefinitions()
    every = log_of(None, _bodies())
    apply(engine, projection, batches(every[:-2], 50))
    before = snapshot(engine, projection)
    apply(engine, projection, batches(every[-2:-1], 50))
    assert snapshot(engine, projection) == before
    assert json.dumps(before).count("Coaching day") >= 1
