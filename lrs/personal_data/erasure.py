"""Erasing a person (GDPR Art. 17): the command behind ``DELETE /api/v1/agents`` and ``polku erase``.

1. Count what the erasure reaches (their statements, the statements naming them, their documents,
   the attachments only they referenced) and record the erasure (who asked, when, the person's
   keyed hash -- never the identifier) in ``polku_erasures``.
2. Retire the person's data keys: nothing new is sealed with them, and projections open with them
   only the erasure event.
3. Append ``agent.erased`` (keyed by the person's hash, so it follows their events in their
   partition) holding their identity sealed with their own key; every projection applies it:
   their statements leave every view, the anonymous agent takes their place in other people's
   statements, they leave every cohort. A rebuild honours it: their parts of the log can no longer
   be opened.
4. Delete their State and Agent Profile documents and the attachment bytes only they referenced.
5. Once every projection has applied the event, delete the keys (crypto-shredding): every copy of
   their events, on every replica and in every backup of the log, is unreadable. If the
   projections have not applied it within the wait, the erasure stays ``pending`` and
   :func:`finish_pending` (run by every projection runner's host) completes it.

Erasing again is harmless: it finds nothing more and answers the same way.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any, Callable

import sqlalchemy as sa

from sqlalchemy.exc import DBAPIError, OperationalError

from events import Event, LogUnavailable, Position, utc_iso
from events.sealing import AGENT_ERASED, seal_identity
from lrs.statements.commands import append
from lrs.stores.erasures import erasures
from lrs.errors import Unavailable
from lrs.services import Services
from projections import tracking
from projections.cohort_views import CohortViews
from schemas.agents import agent_key, person_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Summary:
    """What an erasure did: its id (the ``agent.erased`` event's), the counts, and whether every
    projection has applied it and the keys are deleted (``done``) or that is still to come."""

    id: str
    person: str
    statements: int
    mentions: int
    documents: int
    attachments: int
    keys_deleted: int
    status: str
    requested: str
    #: other identifiers a cohort defines as the same person, erased with them
    linked: int = 0

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def person_of(agent: dict[str, Any]) -> str:
    """The person key an erasure of ``agent`` reaches (an address and its SHA-1 are one person)."""
    person = person_key(agent)
    if person is None:
        raise ValueError("agent: an Agent with an identifier is required")
    return person


def persons_of(services: Services, agent: dict[str, Any]) -> list[str]:
    """The person keys an erasure of ``agent`` reaches: its own, then every other identifier a cohort
    defines for the same member."""
    first = person_of(agent)
    return [first] + sorted(CohortViews(services.engine).linked_persons(first) - {first})


def erase(services: Services, agent: dict[str, Any], requested_by: str, wait_s: float | None = None) -> Summary:
    """Erase the person ``agent`` identifies (an Agent, checked by the caller), with every other
    identifier a cohort defines as theirs (an address and a workspace account of one member)."""
    first = person_of(agent)
    try:
        persons = persons_of(services, agent)
        held = {person: services.statements.held_of(person) for person in persons}
        current = services.keyring.current_keys(persons, erasing=True)  # the keys that seal who is erased (retired below)
    except (LogUnavailable, OperationalError, DBAPIError):
        raise Unavailable("the database is unavailable; retry the erasure later", cause="database") from None
    requested = utc_iso()
    given = {first: sorted({k for k in (agent_key(agent),) if k})}
    events, kids_of = [], {}
    with services.engine.begin() as conn:
        for person in persons:
            ref = services.keyring.ref(person)
            own, named, _ = held[person]
            event_id = str(uuid.uuid4())
            kids_of[event_id] = kids = services.keyring.retire(conn, ref)
            conn.execute(
                erasures.insert().values(
                    id=event_id, person=ref, kind="request", requested=requested, requested_by=requested_by[:200],
                    kids=json.dumps(kids), statements=own, mentions=named, documents=0, attachments=0,
                )
            )
            identity = {"person": person, "agents": event_identity_agents(given, person)}
            events.append(Event(type=AGENT_ERASED, key=ref, data=seal_identity(ref, identity, current[person], kids), id=event_id, recorded=requested))
    _wait_for_batches_opened_before(services)
    positions = append(services, events)
    with services.engine.begin() as conn:  # first: the runner can finish it from here on, whatever happens below
        for event, position in zip(events, positions):
            conn.execute(erasures.update().where(erasures.c.id == event.id).values(
                log_partition=position.partition, log_offset=position.offset))
    documents = attachments = 0
    for event, person in zip(events, persons):
        found = services.documents.delete_person(person, event_identity_agents(given, person))
        documents += found
        with services.engine.begin() as conn:
            conn.execute(erasures.update().where(erasures.c.id == event.id).values(documents=found))
    if services.settings.projections_in_process:
        services.runner.apply_now()
    wait = services.settings.consistency_wait_s if wait_s is None else wait_s
    applied = all(services.consistency.wait_for(p.name, positions, wait) for p in services.runner.projections)
    if applied:  # the views no longer hold the person's statements: bytes no statement references now go
        for event, person in zip(events, persons):
            gone = services.blobs.delete(services.statements.unreferenced(held[person][2]))
            attachments += gone
            with services.engine.begin() as conn:
                conn.execute(erasures.update().where(erasures.c.id == event.id).values(attachments=gone))
    deleted = sum(_finish(services, event.id, kids_of[event.id]) for event in events) if applied else 0
    own = sum(h[0] for h in held.values())
    named = sum(h[1] for h in held.values())
    status = "done" if applied else "pending"
    log.info("erasure %s (%d identifier(s)): %d statements, %d mentions, %d documents, %d attachments; %s",
             events[0].id, len(persons), own, named, documents, attachments, status)
    return Summary(events[0].id, events[0].key, own, named, documents, attachments, deleted, status, requested, len(persons) - 1)


def _wait_for_batches_opened_before(services: Services) -> None:
    """Wait (bounded) until every projection has applied the log as far as it reaches now: a batch
    a projection worker opened with the person's keys before they were retired -- in a partition
    other than the erasure's, e.g. a cohort definition -- is committed before the erasure event
    can be applied, so it cannot bring the person back afterwards."""
    try:
        ends = services.log.ends(list(range(services.log.partitions)))
    except LogUnavailable:
        return  # the append below meets the same outage and answers 503
    reached = [Position(partition, end - 1) for partition, end in ends.items() if end > 0]
    if services.settings.projections_in_process:
        services.runner.apply_now()
    for projection in services.runner.projections:
        if not services.consistency.wait_for(projection.name, reached, services.settings.consistency_wait_s):
            log.warning("erasure: projection %s has not reached the log's end; erasing anyway", projection.name)


def event_identity_agents(given: dict[str, list[str]], person: str) -> list[str]:
    """The agent keys an erased person's documents may be kept under, besides their person key."""
    return given.get(person) or ([] if person.startswith("sha1:") else [person])


def _finish(services: Services, event_id: str, kids: list[str]) -> int:
    with services.engine.begin() as conn:
        deleted = services.keyring.shred(conn, kids)
        conn.execute(erasures.update().where(erasures.c.id == event_id).where(erasures.c.finished.is_(None)).values(finished=utc_iso()))
    return deleted


def finish_pending(services: Services) -> int:
    """Delete the keys of the erasures every projection has applied; return how many finished.
    One small query when none is pending (the projection runner calls this every few seconds)."""
    with services.engine.connect() as conn:
        pending = conn.execute(
            sa.select(erasures.c.id, erasures.c.kids, erasures.c.log_partition, erasures.c.log_offset)
            .where(erasures.c.finished.is_(None), erasures.c.log_offset.is_not(None))
        ).all()
        applied = tracking.all_applied(conn) if pending else {}
    finished = 0
    for row in pending:
        if all(applied.get((p.name, row.log_partition), 0) > row.log_offset for p in services.runner.projections):
            _finish(services, row.id, json.loads(row.kids))
            log.info("erasure %s finished: every projection has applied it; its keys are deleted", row.id)
            finished += 1
    return finished


def finisher(services: Services, every_s: float = 5.0) -> Callable[[], None]:
    """:func:`finish_pending` at most every ``every_s`` seconds: the runner's ``after_round``."""
    last = [float("-inf")]

    def run() -> None:
        if time.monotonic() - last[0] >= every_s:
            last[0] = time.monotonic()
            finish_pending(services)

    return run


def history(services: Services, limit: int = 100) -> list[dict[str, Any]]:
    """The erasure record, newest first: what an auditor sees (no identifier, only the keyed hash)."""
    with services.engine.connect() as conn:
        rows = conn.execute(sa.select(erasures).order_by(erasures.c.requested.desc()).limit(limit)).all()
    return [
        {k: v for k, v in row._mapping.items() if k != "kids"} | {"keys": len(json.loads(row.kids))}
        for row in rows
    ]
