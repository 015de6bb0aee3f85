"""The projection contract (issue 13): every projection the runner feeds, applied to one stream
of events, leaves the same tables whether the events come one by one or in batches of any size,
and an event applied a second time changes nothing. The runner applies batches
(:meth:`Projection.apply_batch`, one write per table); a rebuild and a live worker cut the log
into different batches, so this is what makes "rebuild equals live" hold.

The stream is the demo programme (cohort definitions, members' statements, voiding) plus the
cases batching could get wrong: a statement repeated in one batch with the same and with other
content, a voiding statement before and after its target, StatementRef chains, and activity
definitions and agent names that fold many statements into one row -- and an erasure (issue 11):
a cohort member's own statements (under two forms of their address), statements of others that
name them as instructor, as object and as a team member, a voiding by them of another's statement
and one of theirs voided by another, then ``agent.erased``.

The events go through the real chain: sealed with each person's key (events/keyring.py,
events/sealing.py) onto an in-memory log, opened as the runner opens them. A projection that
applied the erasure live must hold exactly what a rebuild holds from the log as it reads once the
person's keys are deleted (docs/design.md, invariants 2 and 11).
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from events import Event, Record
from events.keyring import Keyring, parse_master_key
from events.memory import MemoryLog
from events.sealing import (
    AGENT_ERASED, COHORT_DEFINED, STATEMENT_SHREDDED, Opener, member_persons, persons_to_seal, seal_identity, seal_members,
    seal_statement, statement_owners,
)
from lrs.stores.credentials import authority_agent
from lrs.statements.commands import complete
from lrs.statements.comparison import fingerprint
from lrs.stores.credentials import Credential
from lrs.cohorts.demo import build_plan, final_definitions, statements_of
from lrs.shapes.api_schemas import CohortSchema, ProgrammeSchema
from lrs.cohorts.programmes import cohort_event, load, programme_event
from projections.registry import all_projections
from projections.statements import STATEMENT_STORED, StatementStore
from schemas.agents import agent_key, person_key
from tests.fixtures.databases import MASTER_KEY
from tests.fixtures.statements_builders import agent, statement, voiding

AUTHORITY = authority_agent(Credential("contract", "contract", frozenset({"all"})), "https://polku.example")
ADL = "http://adlnet.gov/expapi/verbs/"


def _stored(body: dict, n: int) -> Event:
    moment = datetime(2026, 3, 1, tzinfo=timezone.utc).timestamp() + n
    stored = datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    done = complete(body, stored, AUTHORITY, "2.0.0")
    return Event(type=STATEMENT_STORED, key=agent_key(done["actor"]) or done["id"],
                 data={"statement": done, "fingerprint": fingerprint(done)}, recorded=stored)


#: The person erased: a member of the north cohort (listed second) with an address and a workspace
#: account, who sends statements under the address, its SHA-1 and the account; the erasure reaches
#: all of them (one ``agent.erased`` per person key, as lrs/personal_data/erasure.py appends).
ERASED_ADDRESS = "mailto:pauliina.poistettu@example.com"
ERASED_SHA1 = hashlib.sha1(ERASED_ADDRESS.encode()).hexdigest()
ERASED = {"objectType": "Agent", "name": "Pauliina Poistettu", "mbox": ERASED_ADDRESS}
ERASED_HASHED = {"objectType": "Agent", "name": "P. Poistettu", "mbox_sha1sum": ERASED_SHA1}
ERASED_ACCOUNT = {"objectType": "Agent", "name": "Pauliina", "account": {"homePage": "https://workspace.example", "name": "pauliina.poistettu"}}
ERASED_MEMBER = dict(ERASED, account=ERASED_ACCOUNT["account"])
#: what must be nowhere once they are erased
ERASED_TRACES = (ERASED_ADDRESS, ERASED_SHA1, "pauliina.poistettu")
DEMO = "https://demo.polku.example/supervisors/"
NORTH = "https://demo.polku.example/cohorts/north"


def _theirs(verb: str, item: str, actor: dict = ERASED, **extra) -> dict:
    body = statement(verb=verb, activity=DEMO + item, **extra)
    body["actor"] = actor
    body["context"] = dict(body.get("context") or {}, contextActivities={"grouping": [{"id": NORTH}]})
    return body


def erasure_cases(chain: bool = False) -> list[dict]:
    """The erased person's statements and the statements that name them, in no particular order;
    with ``chain``, also a StatementRef chain through a statement of theirs."""
    others = statement(actor="onni")
    # a StatementRef chain through a statement of theirs: eeva's refers to theirs, theirs to onni's
    base = statement(actor="onni")
    their_ref = dict(_theirs("experienced", "reading-1"), object={"objectType": "StatementRef", "id": base["id"]})
    ref_to_theirs = statement(actor="eeva", object={"objectType": "StatementRef", "id": their_ref["id"]})
    chained = [base, their_ref, ref_to_theirs] if chain else []
    voided_by_another = _theirs("completed", "assignment-2", result={"completion": True})
    return [
        _theirs("attended", "coaching-day-1"),
        _theirs("completed", "self-assessment", result={"score": {"scaled": 0.55}, "completion": True}),
        _theirs("completed", "self-assessment", result={"score": {"scaled": 0.7}, "completion": True}),
        _theirs("passed", "knowledge-check-1", result={"success": True, "score": {"scaled": 0.8}}),
        _theirs("commented", "discussion-1", context={"instructor": agent("coach"), "registration": str(uuid.uuid4())}),
        _theirs("completed", "assignment-1", actor=ERASED_HASHED, result={"completion": True}),
        _theirs("commented", "discussion-1", actor=ERASED_ACCOUNT),
        _theirs("completed", "self-assessment", actor=ERASED_ACCOUNT, result={"score": {"scaled": 0.75}}),
        dict(_theirs("experienced", "reading-9"), object={"id": DEMO + "reading-9", "definition": {"name": {"en-US": "Reading 9"}}}),
        others,
        *chained,
        dict(voiding(others["id"]), actor=ERASED),
        voided_by_another,
        voiding(voided_by_another["id"], actor="aino"),
        statement(actor="aino", context={"instructor": ERASED}),
        statement(actor="eeva", verb="mentored", object=ERASED),
        statement(actor="eeva", context={"team": {"objectType": "Group", "name": "Pair", "member": [ERASED, agent("aino")]}}),
        statement(actor="eeva", context={"contextAgents": [{"objectType": "contextAgent", "agent": ERASED}]}),
        statement(actor="aino", object={"objectType": "SubStatement", "actor": ERASED, "verb": {"id": ADL + "completed"},
                                        "object": {"id": DEMO + "assignment-3"}}),
        dict(statement(actor="onni"), actor={"objectType": "Group", "name": "Trio", "member": [ERASED_ACCOUNT, agent("onni")]}),
    ]


def stream(chain: bool = False) -> list[Event]:
    """The events before the erasure, in log order."""
    plan = build_plan(now=datetime(2026, 6, 17, 15, 0, tzinfo=timezone.utc), members=4)
    programmes, cohorts = final_definitions(plan)
    north = cohorts["north"]
    cohorts = dict(cohorts, north=dict(north, members=[north["members"][0], ERASED_MEMBER, *north["members"][1:]]))
    events = [programme_event(key, load(ProgrammeSchema(), body)) for key, body in programmes.items()]
    events += [cohort_event(key, load(CohortSchema(), body)) for key, body in cohorts.items()]
    bodies = statements_of(plan)[:150]
    rng = random.Random(13)
    target, late_target = statement(actor="aino"), statement(actor="onni")
    ref_a = statement(actor="eeva", object={"objectType": "StatementRef", "id": target["id"]})
    ref_b = statement(actor="eeva", object={"objectType": "StatementRef", "id": ref_a["id"]})
    defined = [
        statement(actor="aino", activity="http://example.org/activities/shared",
                  object={"id": "http://example.org/activities/shared", "definition": {"name": {"en-US": f"Name {i}"}}})
        for i in range(4)
    ]
    named = [dict(statement(actor="aino"), actor={"mbox": "mailto:aino@example.org", "name": name}) for name in ("Aino", "A. Aalto", "Aino")]
    special = [target, ref_b, ref_a, voiding(target["id"]), voiding(late_target["id"]), late_target,
               target, dict(target, verb={"id": ADL + "failed"}), *defined, *named, *erasure_cases(chain)]
    for body in special:
        bodies.insert(rng.randrange(len(bodies) + 1), body)
    events += [_stored(body, n) for n, body in enumerate(bodies)]
    return events


def after_erasure() -> list[Event]:
    """Statements of others that arrive after the erasure."""
    bodies = [statement(actor="aino"), statement(actor="eeva", context={"instructor": agent("coach")})]
    return [_stored(body, 10_000 + n) for n, body in enumerate(bodies)]


@dataclass
class Streams:
    #: as the projections applied them live: each event opened when it was applied
    live: list[Record]
    #: as the log reads once the erased person's keys are deleted: what a rebuild applies
    after: list[Record]
    #: where the erasure sits in ``live``
    erasure: int


def _seal(keyring: Keyring, event: Event) -> Event:
    """The event as the write path appends it (lrs/statements/commands.py): personal parts sealed."""
    if event.type == STATEMENT_STORED:
        body = event.data["statement"]
        keys = keyring.current_keys(persons_to_seal(body))
        return Event(type=event.type, key=keyring.ref(statement_owners(body)[0]), id=event.id, recorded=event.recorded,
                     data=seal_statement(body, event.data["fingerprint"], keys))
    if event.type == COHORT_DEFINED:
        keys = keyring.current_keys(member_persons(event.data))
        return Event(type=event.type, key=event.key, id=event.id, recorded=event.recorded, data=seal_members(event.data, keys))
    return event


def streams(engine: sa.Engine, chain: bool = False) -> Streams:
    """The stream sealed onto a log and opened live; the erased person's keys retired and an
    ``agent.erased`` appended (as lrs/personal_data/erasure.py does), more events, the keys deleted; the log
    read again."""
    keyring = Keyring(engine, parse_master_key(MASTER_KEY))
    log_ = MemoryLog()
    opener = Opener(keyring.keys)

    def append(events: list[Event]) -> list[Record]:
        start = log_.end(0)
        log_.append([_seal(keyring, e) for e in events])
        return opener.open(log_.read(0, start, len(events)))

    live = append(stream(chain))
    persons = [person_key(ERASED), person_key(ERASED_ACCOUNT)]
    current = keyring.current_keys(persons)
    erased, kids = [], []
    with engine.begin() as conn:
        for person, given in zip(persons, ([agent_key(ERASED)], [])):
            ref = keyring.ref(person)
            theirs = keyring.retire(conn, ref)
            kids += theirs
            identity = {"person": person, "agents": given}
            erased.append(Event(type=AGENT_ERASED, key=ref, data=seal_identity(ref, identity, current[person], theirs)))
    erasure = len(live)
    live += append([*erased, *after_erasure()])
    with engine.begin() as conn:
        keyring.shred(conn, kids)
    return Streams(live, opener.open(log_.read(0, 0, log_.end(0))), erasure)


#: Rows that are locks, not views: the cohort guard's revision counts definition changes applied.
LOCKS = {"cohort_guard"}


def snapshot(engine: sa.Engine, projection) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        return {
            table.name: sorted((tuple(map(repr, row)) for row in conn.execute(sa.select(table))))
            for table in projection.metadata.sorted_tables
            if table.name not in LOCKS
        }


def apply(engine: sa.Engine, projection, batches: list[list[Record]]) -> None:
    for batch in batches:
        wanted = [r for r in batch if r.event.type in projection.event_types]
        with engine.begin() as conn:
            if wanted:
                projection.apply_batch(conn, wanted)


def reset(engine: sa.Engine, projection) -> None:
    with engine.begin() as conn:
        projection.reset(conn)


def batches(every: list[Record], size: int) -> list[list[Record]]:
    return [every[i:i + size] for i in range(0, len(every), size)]


@pytest.mark.parametrize("projection", all_projections(), ids=lambda p: p.name)
def test_a_batch_leaves_what_its_events_one_by_one_leave_and_twice_counts_once(engine, projection):
    every = streams(engine)
    apply(engine, projection, [[r] for r in every.live])
    one_by_one = snapshot(engine, projection)
    assert any(one_by_one.values()), "the stream gave this projection something to keep"
    for size in (7, 64, len(every.live)):
        reset(engine, projection)
        apply(engine, projection, batches(every.live, size))
        assert snapshot(engine, projection) == one_by_one, f"batches of {size}"
    apply(engine, projection, [every.after[:40], every.after[:40]])  # redelivered: read again, applied again
    assert snapshot(engine, projection) == one_by_one


@pytest.mark.parametrize("projection", all_projections(), ids=lambda p: p.name)
def test_a_projection_that_erased_a_person_live_holds_what_a_rebuild_from_the_log_after_the_erasure_holds(engine, projection):
    every = streams(engine)
    apply(engine, projection, batches(every.live[:every.erasure], 64))
    held = repr(snapshot(engine, projection))
    if projection.name != "activities":  # activity definitions are about activities, not people
        assert any(trace in held for trace in ERASED_TRACES), "the person was in the projection before the erasure"
    apply(engine, projection, batches(every.live[every.erasure:], 64))
    erased_live = snapshot(engine, projection)
    assert not [trace for trace in ERASED_TRACES if trace in repr(erased_live)]
    for size in (1, 50, len(every.after)):
        reset(engine, projection)
        apply(engine, projection, batches(every.after, size))
        assert snapshot(engine, projection) == erased_live, f"rebuilt in batches of {size}"


def test_a_statementref_chain_through_an_erased_persons_statement_is_the_same_live_and_rebuilt(engine):
    every = streams(engine, chain=True)
    projection = StatementStore()
    apply(engine, projection, batches(every.live, 64))
    erased_live = snapshot(engine, projection)
    reset(engine, projection)
    apply(engine, projection, batches(every.after, 64))
    assert snapshot(engine, projection) == erased_live


def test_the_stream_holds_the_cases_batching_could_get_wrong(engine):
    events = stream()
    ids = [e.data["statement"]["id"] for e in events if e.type == STATEMENT_STORED]
    assert len(ids) > len(set(ids)), "a statement repeated"
    kinds = {(e.data["statement"].get("object") or {}).get("objectType") for e in events if e.type == STATEMENT_STORED}
    assert "StatementRef" in kinds
    assert json.dumps([e.data for e in events]).count("Name 3") == 1
    assert uuid.UUID(ids[0])
    every = streams(engine)
    assert every.live[every.erasure].event.type == AGENT_ERASED and every.live[every.erasure].event.data["identity"]
    assert every.after[every.erasure].event.data["identity"] is None, "the rebuild cannot open who was erased"
    shredded = [r.event.data["statement"] for r in every.after if r.event.type == STATEMENT_SHREDDED]
    assert len(shredded) == sum(1 for body in erasure_cases() if body["actor"] in (ERASED, ERASED_HASHED, ERASED_ACCOUNT))
    assert any(s["verb"]["id"] == ADL + "voided" for s in shredded), "a voiding by the erased person"
    assert not [trace for trace in ERASED_TRACES if trace in json.dumps([r.event.data for r in every.after])]
