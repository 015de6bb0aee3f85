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


# ---- the agent read path (revision 0007) -------------------------------------------------------

def every_page(reader: StatementReader, f: StatementFilter, size: int) -> list[str]:
    seen, after = [], None
    while True:
        page = reader.query(f, size, after)
        seen.extend(s["id"] for s in page.statements)
        if page.next_after is None:
            return seen
        after = page.next_after


@pytest.mark.parametrize("ascending", [False, True], ids=["newest first", "oldest first"])
def test_agent_verb_and_since_pages_hold_exactly_the_matching_statements_in_stored_order(setup, ascending):
    log, runner, reader = setup
    mia, onni = agent("mia"), agent("onni")
    batch = []
    for i in range(14):
        actor, verb = ("mia", "onni")[i % 2], ("completed", "attended", "completed")[i % 3]
        extra = {"context": {"instructor": mia}} if actor == "onni" and i % 4 == 1 else {}
        batch.append(statement(actor=actor, verb=verb, **extra))
    events = [stored_event(s) for s in batch]
    log.append(events)
    void = voiding(batch[0]["id"], actor="pia")
    log.append([stored_event(void)])  # the target is never returned; the voiding statement matches through it
    runner.catch_up()
    stored = {e.data["statement"]["id"]: e.data["statement"]["stored"] for e in events}
    since = stored[batch[3]["id"]]
    completed = "http://adlnet.gov/expapi/verbs/completed"

    def expected(who: dict, verb: str | None, related: bool) -> list[str]:
        def matches(s: dict) -> bool:
            agents = [s["actor"]] + ([s["context"]["instructor"]] if related and "context" in s else [])
            return who in agents and (verb is None or s["verb"]["id"] == verb)
        ids = [s["id"] for s in batch[1:] if matches(s) and stored[s["id"]] > since] + ([void["id"]] if matches(batch[0]) else [])
        return ids if ascending else ids[::-1]

    for who, verb, related in [(mia, completed, False), (mia, completed, True), (mia, None, True), (onni, None, False), (onni, completed, False)]:
        f = StatementFilter(agent=agent_key(who), verb=verb, since=since, related_agents=related, ascending=ascending)
        assert every_page(reader, f, 2) == expected(who, verb, related), (who["name"], verb, related)


def test_agent_verb_and_since_reads_the_agent_index_with_no_scan_of_the_statements(setup, engine):
    """On SQLite: EXPLAIN QUERY PLAN of every query the reader runs for agent+verb+since names the
    agent index (agent, primary?, verb, stored) and reads no table whole but the references, so its
    cost does not grow with the store."""
    if engine.dialect.name != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    log, runner, reader = setup
    log.append([stored_event(statement(actor=f"a{i % 3}", verb=("completed", "attended")[i % 2])) for i in range(20)])
    runner.catch_up()
    queries = []

    def capture(conn, cursor, sql, parameters, context, executemany):
        if sql.lstrip().upper().startswith("SELECT"):
            queries.append((sql, parameters))

    sa.event.listen(engine, "before_cursor_execute", capture)
    try:
        f = StatementFilter(agent=agent_key(agent("a1")), verb="http://adlnet.gov/expapi/verbs/completed", since="2025-01-01T00:00:00.000000Z")
        reader.query(f, 10)
        reader.query(f, 10, after=("2026-01-01T00:00:00.000010Z", "z"))
    finally:
        sa.event.remove(engine, "before_cursor_execute", capture)
    assert queries
    plans = []
    with engine.connect() as conn:
        for sql, parameters in queries:
            plans.append([row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, parameters)])
    for plan in plans:
        # the references are read whole on purpose: one row per statement that targets another
        # (the StatementRef rule), each target then looked up by its id (lrs/storage/query_plans.py)
        assert not [step for step in plan if step.startswith("SCAN") and step != "SCAN xapi_statement_refs"], plan
        assert not [step for step in plan if "ix_xapi_statements_verb" in step or "ix_xapi_statements_stored" in step], plan
    assert any("ix_xapi_statement_agents_read (agent=? AND is_primary=? AND verb_id=? AND stored>?)" in step for step in plans[0]), plans[0]
