"""Retention (issue 11): statements stored longer ago than allowed leave the read models.

Off by default. ``POLKU_RETENTION_DAYS`` (0: off) holds for every statement; a programme's
``retentionDays`` holds for the statements on its items and its cohorts' views. Expiring is an
event on the log like everything else, so a rebuild honours it as the live views did:

- ``statements.expired`` (data: ``id``, ``before`` -- the cutoff as a UTC ``stored`` --,
  ``programme`` -- its key, or null for the global setting --, and for a programme its items'
  ``activities``) is applied by every projection: the statement store drops the statements stored
  before the cutoff (for a programme: those one of whose activities is an item of it), the cohort
  projection their facts and rows (for a programme: those counted for its cohorts), the agent
  names the names last seen before it (global only). Activity definitions stay: they describe
  activities, not people. What an expired statement voided stays voided.
- The projection runner (beside the embedded server, in ``polku project``) looks every minute;
  at most once an hour, when the statement store holds something stored before a cutoff, it
  appends one event per cutoff, deletes the attachment bytes only expired statements carried, and
  records the run in ``polku_erasures`` (kind ``retention``, requested by ``retention``, person
  ``*`` or the programme's key, the statements and attachments counted). ``polku projections
  status`` reports it.

The log itself keeps the expired events (append-only; the personal parts of statements are
sealed, and erasing a person shreds them): retention is about what Polku shows and answers from.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from events import Event, utc_iso
from lrs.statements.commands import append
from lrs.stores.erasures import erasures
from lrs.services import Services
from projections.cohort_views import CohortViews
from projections.retention import RetentionReader
from projections.statements import STATEMENTS_EXPIRED

log = logging.getLogger(__name__)

KIND = "retention"
#: the least time between two runs that append
INTERVAL = timedelta(hours=1)
#: how often the host looks whether a run is due
CHECK_S = 60.0
#: the namespace of run ids (uuid5 of the hour and the cutoff kind)
RUNS = uuid.UUID("5b0f3c1e-2f6d-4d4b-9a63-6f1f4c2b8e11")


@dataclass(frozen=True)
class Run:
    """One cutoff a run expires statements before: global (``programme`` None) or a programme's."""

    programme: str | None
    before: str
    activities: list[str] | None
    statements: int
    attachments: list[str]


def _cutoff(now: datetime, days: int) -> str:
    return utc_iso(now - timedelta(days=days))


def due(services: Services, now: datetime) -> list[Run]:
    """The cutoffs with statements stored before them, as the settings and programmes say now."""
    reader = RetentionReader(services.engine)
    runs = []
    if services.settings.retention_days > 0:
        before = _cutoff(now, services.settings.retention_days)
        held = reader.held_before(before)
        if held.statements:
            runs.append(Run(None, before, None, held.statements, held.attachments))
    for programme in CohortViews(services.engine).programmes():
        if programme.retention_days:
            before = _cutoff(now, programme.retention_days)
            activities = sorted({item.activity for item in programme.items})
            held = reader.held_before(before, activities)
            if held.statements:
                runs.append(Run(programme.key, before, activities, held.statements, held.attachments))
    return runs


def last_run(services: Services) -> dict[str, Any] | None:
    """The latest retention run recorded, and how many statements retention has dropped in all."""
    e = erasures
    with services.engine.connect() as conn:
        latest = conn.execute(sa.select(sa.func.max(e.c.requested)).where(e.c.kind == KIND)).scalar()
        if latest is None:
            return None
        total = conn.execute(sa.select(sa.func.sum(e.c.statements)).where(e.c.kind == KIND)).scalar() or 0
    return {"requested": latest, "statements": int(total)}


def run(services: Services, now: datetime | None = None, wait: bool = True) -> list[dict[str, Any]]:
    """Expire what is due, unless a run appended within the last hour; return what was recorded.
    ``wait``: until every projection has applied the events (bounded), then mark the runs
    finished; without it (the runner's own thread) the erasure finisher marks them later."""
    now = now or datetime.now(timezone.utc)
    previous = last_run(services)
    if previous is not None and previous["requested"] > utc_iso(now - INTERVAL):
        return []
    runs = due(services, now)
    if not runs:
        return []
    requested = utc_iso(now)
    records, events = [], []
    for r in runs:
        # one id per hour and cutoff kind: two hosts that look at the same moment record one run
        event_id = str(uuid.uuid5(RUNS, f"{requested[:13]}|{r.programme or '*'}"))
        data: dict[str, Any] = {"id": event_id, "before": r.before, "programme": r.programme}
        if r.activities is not None:
            data["activities"] = r.activities
        events.append(Event(type=STATEMENTS_EXPIRED, key=f"retention:{r.programme or '*'}", data=data, id=event_id))
        records.append(dict(
            id=event_id, person=r.programme or "*", kind=KIND, requested=requested, requested_by=KIND, kids="[]",
            statements=r.statements, mentions=0, documents=0, attachments=0,
        ))
    try:
        with services.engine.begin() as conn:
            conn.execute(erasures.insert(), records)
    except IntegrityError:
        return []  # another host recorded this hour's run a moment ago: it appends the events
    try:
        positions = append(services, events)
    except Exception:
        with services.engine.begin() as conn:  # not appended: not a run (the next look tries again)
            conn.execute(erasures.delete().where(erasures.c.id.in_([r["id"] for r in records])))
        raise
    for record, position, r in zip(records, positions, runs):
        record.update(attachments=services.blobs.delete(r.attachments), log_partition=position.partition, log_offset=position.offset)
        with services.engine.begin() as conn:
            conn.execute(erasures.update().where(erasures.c.id == record["id"]).values(
                attachments=record["attachments"], log_partition=position.partition, log_offset=position.offset))
    if not wait:
        return records
    if services.settings.projections_in_process:
        services.runner.apply_now()
    bound = services.settings.consistency_wait_s
    if all(services.consistency.wait_for(p.name, positions, bound) for p in services.runner.projections):
        with services.engine.begin() as conn:
            conn.execute(erasures.update().where(erasures.c.id.in_([r["id"] for r in records])).values(finished=utc_iso()))
    for r in runs:
        log.info("retention: %d statement(s) stored before %s expired (%s)", r.statements, r.before, r.programme or "all")
    return records


def describe(services: Services) -> str:
    """One line for ``polku projections status``."""
    days = services.settings.retention_days
    programmes = {p.key: p.retention_days for p in CohortViews(services.engine).programmes() if p.retention_days}
    if not days and not programmes:
        return "retention: off"
    said = [f"{days} days" if days else "global off"] + [f"{k} {d} days" for k, d in sorted(programmes.items())]
    previous = last_run(services)
    ran = f"last run {previous['requested']}, {previous['statements']} statement(s) dropped" if previous else "not run yet"
    return f"retention: on ({'; '.join(said)}); {ran}"


def beside(runner: Any, services: Services, every_s: float = CHECK_S) -> None:
    """Run :func:`run` after the projection runner's rounds (its ``after_round``, after what is
    already there), at most every ``every_s`` seconds. A failed run is logged and tried again at
    the next look: it never stops the runner."""
    before = runner.after_round
    last = [float("-inf")]

    def after_round() -> None:
        if before is not None:
            before()
        if time.monotonic() - last[0] < every_s:
            return
        last[0] = time.monotonic()
        try:
            run(services, wait=False)
        except Exception:  # noqa: BLE001 - retention must never stall the runner; it tries again later
            log.exception("retention run failed; trying again in %.0f s", every_s)

    runner.after_round = after_round
