"""The activity-definition and agent-name projections on SQLite and PostgreSQL: definitions merge
across statements, the answer does not depend on the order events are applied in, and a rebuild
gives the same rows as the live projection."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from events import Event
from events.memory import MemoryLog
from projections import activities, agents
from projections.activities import ActivityDefinitions, ActivityReader
from projections.agents import AgentNames, AgentReader
from projections.runner import Runner
from projections.statements import STATEMENT_STORED
from schemas.agents import agent_key
from tests.fixtures.statements_builders import agent, statement

_clock = iter(range(10**6))
COURSE = "http://example.org/activities/leadership-path"


def stored_event(s: dict) -> Event:
    s = dict(s, id=s.get("id") or str(uuid.uuid4()), stored=f"2026-01-01T00:00:00.{next(_clock):06d}Z")
    return Event(type=STATEMENT_STORED, key=agent_key(s["actor"]), data={"statement": s, "fingerprint": s["id"]})


def defining(definition: dict, actor: str = "aino", activity: str = COURSE, **extra) -> dict:
    s = statement(actor=actor, activity=activity, **extra)
    s["object"]["definition"] = definition
    return s


@pytest.fixture
def setup(engine):
    log = MemoryLog(partitions=3)
    runner = Runner(engine, log, [ActivityDefinitions(), AgentNames()], batch_size=2)
    runner.setup()
    return log, runner


def dump(engine) -> dict[str, list]:
    with engine.connect() as conn:
        return {
            t.name: sorted(tuple(r) for r in conn.execute(sa.select(t)))
            for t in (activities.definitions, agents.agent_names)
        }


def test_language_maps_merge_and_newer_properties_replace_older(setup, engine):
    log, runner = setup
    log.append([
        stored_event(defining({"name": {"en-US": "Path"}, "type": "http://example.org/types/old", "extensions": {"http://e/a": 1}})),
        stored_event(defining({"name": {"fi-FI": "Polku"}, "type": "http://example.org/types/course", "extensions": {"http://e/b": 2}}, actor="lauri")),
    ])
    runner.catch_up()
    got = ActivityReader(engine).activity(COURSE)
    assert got == {
        "objectType": "Activity",
        "id": COURSE,
        "definition": {
            "name": {"en-US": "Path", "fi-FI": "Polku"},
            "type": "http://example.org/types/course",
            "extensions": {"http://e/a": 1, "http://e/b": 2},
        },
    }


def test_context_activities_and_sub_statements_define_activities_too(setup, engine):
    log, runner = setup
    parent = "http://example.org/activities/programme"
    inner = "http://example.org/activities/assignment"
    s = statement(context={"contextActivities": {"parent": [{"id": parent, "definition": {"name": {"en": "Programme"}}}]}})
    sub = statement(object={"objectType": "SubStatement", "actor": agent("mia"), "verb": {"id": "http://adlnet.gov/expapi/verbs/attempted"},
                            "object": {"id": inner, "definition": {"name": {"en": "Assignment"}}}})
    log.append([stored_event(s), stored_event(sub)])
    runner.catch_up()
    reader = ActivityReader(engine)
    assert reader.activity(parent)["definition"] == {"name": {"en": "Programme"}}
    assert reader.activity(inner)["definition"] == {"name": {"en": "Assignment"}}


def test_an_activity_never_defined_has_only_its_id(setup, engine):
    assert ActivityReader(engine).activity("http://example.org/unknown") == {"objectType": "Activity", "id": "http://example.org/unknown"}


def test_agent_names_are_collected_per_identifier(setup, engine):
    log, runner = setup
    aino = agent("aino")
    renamed = dict(aino, name="Aino Aalto")
    log.append([
        stored_event(statement(actor="aino")),
        stored_event(statement(actor="lauri", context={"instructor": renamed})),
        stored_event(statement(actor="aino")),
    ])
    runner.catch_up()
    reader = AgentReader(engine)
    assert reader.names(agent_key(aino)) == ["aino", "Aino Aalto"]
    assert reader.person({"mbox": aino["mbox"], "name": "A."}) == {
        "objectType": "Person", "name": ["aino", "Aino Aalto", "A."], "mbox": [aino["mbox"]],
    }


def test_rebuild_and_another_application_order_give_the_same_rows(setup, engine):
    log, runner = setup
    events = [
        stored_event(defining({"name": {"en": f"v{i}"}, "description": {f"l{i % 3}": str(i)}}, actor=f"p{i}"))
        for i in range(10)
    ]
    for i in range(0, len(events), 3):
        log.append(events[i : i + 3])
        runner.run_once()
    runner.catch_up()
    live = dump(engine)
    answer = ActivityReader(engine).activity(COURSE)
    assert answer["definition"]["name"] == {"en": "v9"}
    runner.rebuild(["activities", "agents"])
    assert dump(engine) == live

    # The same events applied newest first leave the same table and the same answer.
    reverse_log = MemoryLog(partitions=1)
    reverse_log.append(list(reversed(events)))
    other = Runner(engine, reverse_log, [ActivityDefinitions(), AgentNames()])
    with engine.begin() as conn:
        for projection in other.projections:
            projection.reset(conn)
    other.setup()
    other.rebuild(["activities", "agents"])
    assert dump(engine) == live
    assert ActivityReader(engine).activity(COURSE) == answer


def test_an_erasure_by_a_hashed_address_deletes_the_names_given_under_the_address_and_its_hash(setup, engine):
    """An erasure may know a person only by the SHA-1 of their address (another identifier of a
    cohort member was given): the names recorded under the address itself go too."""
    import hashlib

    from events.sealing import AGENT_ERASED
    from schemas.agents import person_key

    log, runner = setup
    address = "mailto:Aino.Aalto@example.org"
    hashed = {"mbox_sha1sum": hashlib.sha1(address.lower().encode()).hexdigest(), "name": "A. A."}
    log.append([
        stored_event(dict(statement(), actor={"mbox": address, "name": "Aino"})),
        stored_event(dict(statement(), actor=hashed)),
        stored_event(dict(statement(), actor={"mbox": "mailto:onni@example.org", "name": "Onni"})),
    ])
    runner.catch_up()
    person = person_key({"mbox": address})
    log.append([Event(type=AGENT_ERASED, key="erased", data={"ref": "r", "kids": [], "identity": {"person": person, "agents": []}})])
    runner.catch_up()
    reader = AgentReader(engine)
    assert reader.names(agent_key({"mbox": address})) == []
    assert reader.names(agent_key(hashed)) == []
    assert reader.names(agent_key({"mbox": "mailto:onni@example.org"})) == ["Onni"]
