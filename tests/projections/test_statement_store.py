"""The statement store projection on SQLite and PostgreSQL: duplicates, voiding in any order,
the query filters, and rebuilds that give the same rows as the live projection."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from events import Event
from events.memory import MemoryLog
from projections import statements as store
from projections.runner import Runner
from projections.statements import StatementFilter, StatementReader, StatementStore
from schemas.agents import agent_key
from tests.fixtures.statements_builders import agent, statement, voiding

_clock = iter(range(10**6))


def stored_event(s: dict, fingerprint: str | None = None) -> Event:
    s = dict(s)
    s.setdefault("id", str(uuid.uuid4()))
    s["stored"] = f"2026-01-01T00:00:00.{next(_clock):06d}Z"  # increasing, like the LRS clock
    return Event(type=store.STATEMENT_STORED, key=agent_key(s["actor"]), data={"statement": s, "fingerprint": fingerprint or s["id"]})


@pytest.fixture
def setup(engine):
    log = MemoryLog(partitions=3)
    runner = Runner(engine, log, [StatementStore()], batch_size=5)
    runner.setup()
    return log, runner, StatementReader(engine)


def dump(engine) -> dict[str, list]:
    with engine.connect() as conn:
        return {
            t.name: sorted(tuple(r) for r in conn.execute(sa.select(t)))
            for t in (store.statements, store.statement_agents, store.statement_activities, store.voids, store.statement_refs)
        }


def test_a_repeated_id_is_applied_once(setup):
    log, runner, reader = setup
    s = statement()
    log.append([stored_event(s), stored_event(s)])
    runner.catch_up()
    assert reader.count() == 1


def test_voiding_hides_the_target_and_keeps_it_by_voided_id(setup):
    log, runner, reader = setup
    s = statement()
    log.append([stored_event(s), stored_event(voiding(s["id"]))])
    runner.catch_up()
    assert reader.get(s["id"], voided=False) is None
    assert reader.get(s["id"], voided=True)["id"] == s["id"]


def test_voiding_that_arrives_before_its_target_voids_it_on_arrival(setup):
    log, runner, reader = setup
    s = statement()
    void = voiding(s["id"], actor="other")
    log.append([stored_event(void)])
    runner.catch_up()
    log.append([stored_event(s)])
    runner.catch_up()
    assert reader.get(s["id"], voided=True)["id"] == s["id"]
    # the target is out of queries; the voiding statement matches through its StatementRef
    assert [x["id"] for x in reader.query(StatementFilter(activity=s["object"]["id"]), 10).statements] == [void["id"]]


def test_agent_filter_matches_actor_and_related_agents_match_context(setup):
    log, runner, reader = setup
    plain = statement(actor="mia")
    instructed = statement(actor="onni", context={"instructor": agent("mia")})
    log.append([stored_event(plain), stored_event(instructed)])
    runner.catch_up()
    key = agent_key(agent("mia"))
    assert {s["id"] for s in reader.query(StatementFilter(agent=key), 10).statements} == {plain["id"]}
    related = reader.query(StatementFilter(agent=key, related_agents=True), 10).statements
    assert {s["id"] for s in related} == {plain["id"], instructed["id"]}


def test_related_activities_match_context_activities(setup):
    log, runner, reader = setup
    course = "http://example.org/course"
    inside = statement(context={"contextActivities": {"parent": [{"id": course}]}})
    log.append([stored_event(inside)])
    runner.catch_up()
    assert reader.query(StatementFilter(activity=course), 10).statements == []
    assert [s["id"] for s in reader.query(StatementFilter(activity=course, related_activities=True), 10).statements] == [inside["id"]]


def test_pages_follow_stored_order_without_gaps(setup):
    log, runner, reader = setup
    batch = [statement(actor=f"a{i}") for i in range(9)]
    log.append([stored_event(s) for s in batch])
    runner.catch_up()
    seen, after = [], None
    while True:
        page = reader.query(StatementFilter(ascending=True), 4, after)
        seen.extend(s["id"] for s in page.statements)
        if page.next_after is None:
            break
        after = page.next_after
    assert seen == [s["id"] for s in batch]


def test_rebuild_gives_the_same_rows_as_the_live_projection(setup, engine):
    log, runner, reader = setup
    targets = [statement(actor=f"r{i}") for i in range(12)]
    events = [stored_event(s) for s in targets]
    events += [stored_event(voiding(targets[i]["id"])) for i in (1, 5)]
    events += [stored_event(targets[3])]
    for i in range(0, len(events), 4):
        log.append(events[i : i + 4])
        runner.run_once()
    runner.catch_up()
    live = dump(engine)
    runner.rebuild(["statements"])
    assert dump(engine) == live


def ref(target_id: str, actor: str = "ref", verb: str = "mentioned") -> dict:
    return statement(actor=actor, verb=verb) | {"object": {"objectType": "StatementRef", "id": target_id}}


@pytest.mark.parametrize("order", ["targets first", "referrers first", "middle last"])
def test_statement_ref_chains_match_the_filters_of_what_they_reach_in_any_arrival_order(setup, order):
    """Communication 2.1.4, "Filter Conditions for StatementRefs": a targets b targets c, and c
    matches the query, so b and a do too, whichever of the three was applied first."""
    log, runner, reader = setup
    activity = f"http://example.org/{uuid.uuid4()}"
    c = statement(actor="c", activity=activity)
    b = ref(c["id"], actor="b")
    a = ref(b["id"], actor="a")
    arrival = {"targets first": [c, b, a], "referrers first": [a, b, c], "middle last": [a, c, b]}[order]
    for s in arrival:
        log.append([stored_event(s)])
        runner.catch_up()
    found = {s["id"] for s in reader.query(StatementFilter(activity=activity), 10).statements}
    assert found == {a["id"], b["id"], c["id"]}
    verb_of_b = reader.query(StatementFilter(verb="http://adlnet.gov/expapi/verbs/mentioned", agent=agent_key(agent("b"))), 10)
    assert {s["id"] for s in verb_of_b.statements} == {a["id"], b["id"]}


def test_statement_ref_filters_leave_since_and_until_to_the_returned_statement(setup):
    log, runner, reader = setup
    activity = f"http://example.org/{uuid.uuid4()}"
    target = statement(activity=activity)
    log.append([stored_event(target)])
    runner.catch_up()
    referrer = ref(target["id"])
    log.append([stored_event(referrer)])
    runner.catch_up()
    target_stored = reader.get(target["id"], voided=False)["stored"]
    later = reader.query(StatementFilter(activity=activity, since=target_stored), 10).statements
    assert [s["id"] for s in later] == [referrer["id"]]
    earlier = reader.query(StatementFilter(activity=activity, until=target_stored), 10).statements
    assert [s["id"] for s in earlier] == [target["id"]]
