"""What state Polku is in, for operators: ``polku projections status``, ``GET /ready`` and the
state gauges of ``GET /metrics`` (routes in lrs/http/ops.py) all read it from :func:`report`, one look at the database, the
log, the projections' positions and the events set aside.

``GET /health`` says only that the process answers (no database, no log: an orchestrator
restarts a process that does not answer, never one whose database is away). ``GET /ready`` says
whether this Polku can do its work now, one entry per check, ``200`` when every check passes and
``503`` naming the failing ones otherwise. Both are unauthenticated and tell no secret: no URL, no
credential, no log identity (``polku projections status`` prints those, on the operator's side).

Polled every second by a load balancer and scraped by Prometheus, the look must stay cheap and
bounded: :class:`Probe` takes one look at a time in a background thread, reuses it for
``max_age`` seconds, and waits for a fresh one at most ``timeout`` seconds; a check that has not
answered by then fails, saying so, and the look goes on in the background for the next poll.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import sqlalchemy as sa

from events import LogUnavailable
from events.log import summary
from lrs.services import Services
from projections import tracking
from projections.log_guard import LogMismatch
from projections.runner import Status

#: The checks of ``GET /ready``.
CHECKS = ("database", "log", "log_identity", "projections", "dead_letters", "retention")
#: The steps of one look, in order, and the step that decides each check.
STEPS = ("database", "log", "log_identity", "dead_letters", "retention")
DECIDED_BY = {check: ("log" if check == "projections" else check) for check in CHECKS}


@dataclass
class Report:
    """One look at Polku's state; a part that could not be looked at holds ``None`` and its
    error. ``step`` names the part being looked at while the look is still going on."""

    database_error: str | None = None  # the whole summary: for the operator's side (the CLI)
    log_error: str | None = None
    database_kind: str | None = None  # the error's class only: for /ready, which tells no address
    log_kind: str | None = None
    identity: str | None = None
    problem: str | None = None
    statuses: list[Status] | None = None
    set_aside: dict[str, int] | None = None
    warnings: list[str] | None = None
    step: str | None = STEPS[0]
    taken_at: float = field(default_factory=time.monotonic)

    @property
    def done(self) -> bool:
        return self.step is None


def report(services: Services, into: Report | None = None) -> Report:
    """Look at the database, the log, the positions, the dead letters and the log's settings,
    each failure kept beside the others (filled into ``into`` as it goes, for a caller that
    stops waiting)."""
    r = into or Report()
    r.step = "database"
    try:
        with services.engine.connect() as conn:
            conn.execute(sa.select(1))
    except Exception as exc:  # noqa: BLE001 - whatever the driver raises, the check fails saying what
        r.database_error, r.database_kind = summary(exc, 160), _kind(exc)
    r.step = "log"
    try:
        r.identity = services.log.identity()
    except Exception as exc:  # noqa: BLE001 - LogUnavailable, or what a client library raises
        r.log_error, r.log_kind = summary(exc, 160), _kind(exc)
    if r.database_error is None and r.log_error is None:
        try:
            r.statuses = services.runner.status()  # positions from the database, ends from the log
        except LogUnavailable as exc:
            r.log_error, r.log_kind = summary(exc, 160), _kind(exc)
        except Exception as exc:  # noqa: BLE001
            r.database_error, r.database_kind = summary(exc, 160), _kind(exc)
    r.step = "log_identity"
    r.problem = services.guard.problem()  # answers at once; the guard looks again in the background
    r.step = "dead_letters"
    if r.database_error is None:
        try:
            with services.engine.connect() as conn:
                r.set_aside = tracking.dead_letter_counts(conn)
        except Exception as exc:  # noqa: BLE001
            r.database_error, r.database_kind = summary(exc, 160), _kind(exc)
    r.step = "retention"
    r.warnings = services.log.warnings()
    r.step = None
    return r


def _kind(exc: BaseException) -> str:
    """An error's class, and the driver's beneath it: what /ready may say (messages name hosts)."""
    orig = getattr(exc, "orig", None) or exc.__cause__
    return type(exc).__name__ + (f" from {type(orig).__name__}" if orig is not None else "")


def checks(r: Report, max_lag: int, timeout: float) -> dict[str, dict]:
    """The entries of ``GET /ready``: ``{"ok": bool, "detail": str}`` per check."""
    late = f"no answer within {timeout:g} s"

    def entry(ok: bool, detail: str) -> dict:
        return {"ok": ok, "detail": detail}

    def pending(name: str) -> dict | None:
        """None once the step deciding ``name`` is done; else the entry of a check not answered."""
        if r.done:
            return None
        decider, now = STEPS.index(DECIDED_BY[name]), STEPS.index(r.step)
        if decider < now:
            return None
        return entry(False, late if decider == now else "not looked at yet")

    out: dict[str, dict] = {}
    out["database"] = pending("database") or (
        entry(False, f"unreachable ({r.database_kind})") if r.database_error else entry(True, "reachable")
    )
    out["log"] = pending("log") or (entry(False, f"unreachable ({r.log_kind})") if r.log_error else entry(True, "reachable"))
    out["log_identity"] = pending("log_identity") or (
        entry(False, LogMismatch(r.problem).public) if r.problem else entry(True, "the log Polku projects")
    )
    if (p := pending("projections")) is not None:
        out["projections"] = p
    elif r.statuses is None:
        out["projections"] = entry(False, "positions unknown: the database or the log is unreachable")
    else:
        worst = max(r.statuses, key=lambda s: s.lag, default=None)
        lag = worst.lag if worst else 0
        where = f" ({worst.projection}, partition {worst.partition})" if worst and lag else ""
        out["projections"] = entry(lag <= max_lag, f"lag {lag} event(s){where}; threshold {max_lag}")
    if (p := pending("dead_letters")) is not None:
        out["dead_letters"] = p
    elif r.set_aside is None:
        out["dead_letters"] = entry(False, "unknown: the database is unreachable")
    else:
        waiting = sum(r.set_aside.values())
        named = ", ".join(f"{name}: {n}" for name, n in sorted(r.set_aside.items()))
        out["dead_letters"] = entry(waiting == 0, f"{waiting} event(s) set aside ({named})" if waiting else "none")
    out["retention"] = pending("retention") or (
        entry(False, f"{len(r.warnings)} topic setting(s) break a promise; see polku projections status")
        if r.warnings
        else entry(True, "as expected")
    )
    return out


class Probe:
    """One look at a time, in a thread of its own; a look younger than ``max_age`` is reused; a
    caller waits for a fresh one at most ``timeout`` seconds and otherwise gets the look as far as
    it went."""

    def __init__(self, services: Services, max_age: float = 1.0, timeout: float = 2.0) -> None:
        self.services = services
        self.max_age = max_age
        self.timeout = timeout
        self._lock = threading.Lock()
        self._last: Report | None = None
        self._current: Report | None = None
        self._finished = threading.Event()

    def look(self) -> Report:
        with self._lock:
            last = self._last
            if last is not None and time.monotonic() - last.taken_at < self.max_age:
                return last
            if self._current is None:
                self._current = Report()
                self._finished = threading.Event()
                threading.Thread(target=self._take, args=(self._current, self._finished), name="polku-probe", daemon=True).start()
            current, finished = self._current, self._finished
        finished.wait(self.timeout)
        return current

    def _take(self, into: Report, finished: threading.Event) -> None:
        try:
            report(self.services, into)
        finally:
            with self._lock:
                self._last, self._current = into, None
            finished.set()
