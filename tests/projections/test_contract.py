"""The projection contract (issue 13): every projection the runner feeds, applied to one stream
of events, leaves the same tables whether the events come one by one or in batches of any size,
and an event applied a second time changes nothing. The runner applies batches
(:meth:`Projection.apply_batch`, one write per table); a rebuild and a live worker cut the log
into different batches, so this is what makes "rebuild equals live" hold.

The stream is the demo programme (cohort definitions, members' statements, voiding) plus the
cases batching could get wrong: a statement repeated in one batch with the same and with other
content, a voiding statement before and after its target, StatementRef chains, and activity
definitions and agent names that fold many statements into one row.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from events import Event, Record
from lrs.auth import authority_agent
from lrs.commands import complete
from lrs.comparison import fingerprint
from lrs.credentials import Credential
from lrs.demo import build_plan, final_definitions, statements_of
from lrs.api_schemas import CohortSchema, ProgrammeSchema
from lrs.programmes import cohort_event, load, programme_event
from projections.registry import all_projections
from projections.statements import STATEMENT_STORED
from schemas.agents import agent_key
from tests.fixtures.statements_builders import statement, voiding

AUTHORITY = authority_agent(Credential("contract", "contract", frozenset({"all"})), "https://polku.example")
ADL = "http://adlnet.gov/expapi/verbs/"


def _stored(body: dict, n: int) -> Event:
    moment = datetime(2026, 3, 1, tzinfo=timezone.utc).timestamp() + n
    stored = datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    done = complete(body, stored, AUTHORITY, "2.0.0")
    return Event(type=STATEMENT_STORED, key=agent_key(done["actor"]) or done["id"],
                 data={"statement": done, "fingerprint": fingerprint(done)}, recorded=stored)


def stream() -> list[Event]:
    """The events, in log order."""
    plan = build_plan(now=datetime(2026, 6, 17, 15, 0, tzinfo=timezone.utc), members=4)
    programmes, cohorts = final_definitions(plan)
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
               target, dict(target, verb={"id": ADL + "failed"}), *defined, *named]
    for body in special:
        bodies.insert(rng.randrange(len(bodies) + 1), body)
    events += [_stored(body, n) for n, body in enumerate(bodies)]
    return events


def records(events: list[Event]) -> list[Record]:
    return [Record(partition=0, offset=n, event=event) for n, event in enumerate(events)]


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


@pytest.mark.parametrize("projection", all_projections(), ids=lambda p: p.name)
def test_a_batch_leaves_what_its_events_one_by_one_leave_and_twice_counts_once(engine, projection):
    every = records(stream())
    apply(engine, projection, [[r] for r in every])
    one_by_one = snapshot(engine, projection)
    assert any(one_by_one.values()), "the stream gave this projection something to keep"
    for size in (7, 64, len(every)):
        reset(engine, projection)
        apply(engine, projection, [every[i:i + size] for i in range(0, len(every), size)])
        assert snapshot(engine, projection) == one_by_one, f"batches of {size}"
    apply(engine, projection, [every[:40], every[:40]])  # redelivered: applied again
    assert snapshot(engine, projection) == one_by_one


def test_the_stream_holds_the_cases_batching_could_get_wrong():
    events = stream()
    ids = [e.data["statement"]["id"] for e in events if e.type == STATEMENT_STORED]
    assert len(ids) > len(set(ids)), "a statement repeated"
    kinds = {(e.data["statement"].get("object") or {}).get("objectType") for e in events if e.type == STATEMENT_STORED}
    assert "StatementRef" in kinds
    assert json.dumps([e.data for e in events]).count("Name 3") == 1
    assert uuid.UUID(ids[0])
