"""The log never silently goes backwards (docs/design.md, invariant 8).

The projections' positions mean something only on the log they were applied from. If the log
Polku finds is another one -- a Kafka broker whose storage was wiped comes back as a new cluster,
a topic deleted and recreated has a new topic id -- or if a partition now ends below a position
already applied (restored from an older backup), then an append would be acknowledged and never
shown: the runner is past that offset, or applies a stranger's events on top of old views.

So Polku records the identity of the log it projects (``polku_projected_log``, written the first
time a guard looks) and the guard compares, before each append and before the runner applies:

* the log's :meth:`~events.log.Log.identity` with the recorded one, and
* each partition's end with the highest position any projection applied there.

While either differs, appends answer 503 with a message naming the problem, the runner applies
nothing, and ``polku projections status`` says so. The way out is for an operator: restore the
log, or accept the new log and rebuild every projection from it (``polku log accept``).

The check costs a couple of requests to the log, so its answer is reused for ``max_age`` seconds
and renewed in the background (a request never waits for a log that does not answer);
between checks, an append whose offset lies below a position applied before it is caught from
the positions alone (:meth:`LogGuard.check` reads them, :meth:`LogGuard.check_positions` compares).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Iterable

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, OperationalError

from events import Log, LogUnavailable, Position, utc_iso
from projections import tracking

log = logging.getLogger(__name__)

WAY_OUT = "restore the log Polku projects, or accept this one and rebuild the views from it with: polku log accept"


class LogMismatch(LogUnavailable):
    """The log is not the one the projections were applied from, or it went backwards.

    ``str()`` is the whole story for operators (logs, ``polku projections status``);
    :attr:`public` is what a client is told, without the log's identities."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.public = problem.split(":", 1)[0] + "; writes are stopped until an operator restores it or runs polku log accept"


class LogGuard:
    def __init__(self, engine: sa.Engine, log_: Log, max_age: float = 2.0) -> None:
        self.engine = engine
        self.log = log_
        self.max_age = max_age
        self._lock = threading.Lock()
        self._checked_at = float("-inf")
        self._problem: str | None = None
        self._reported: str | None = None
        self._looked = False

    def problem(self) -> str | None:
        """What is wrong with the log, or None. The first call looks; later calls answer at once
        and, when the answer is older than ``max_age``, look again in the background, so a
        request never waits on a log that does not answer."""
        if self._checked_at == float("-inf") and not self._looked:
            return self.refresh()
        if time.monotonic() - self._checked_at >= self.max_age and self._lock.acquire(blocking=False):
            threading.Thread(target=self._refresh_locked, name="polku-log-guard", daemon=True).start()
        return self._problem

    def refresh(self) -> str | None:
        """Look at the log now and return what is wrong with it, or None (a look that finished
        while this call waited for the lock serves it)."""
        asked = time.monotonic()
        with self._lock:
            if self._checked_at < asked:
                self._look()
        return self._problem

    def _refresh_locked(self) -> None:
        try:
            self._look()
        finally:
            self._lock.release()

    def _look(self) -> None:
        started = time.monotonic()  # what the look can vouch for: the log as it was from then on
        try:
            self._problem = self._compute()
        except LogUnavailable:
            pass  # cannot tell now: keep the last answer; appends fail on their own meanwhile
        except (OperationalError, DBAPIError):
            pass  # the database is away: requests fail on their own
        self._looked = True
        self._checked_at = started  # a look that began before a refresh was asked for does not serve it
        if self._problem and self._problem != self._reported:
            log.error("%s", self._problem)
        self._reported = self._problem

    def check(self) -> dict[int, int]:
        """Raise :class:`LogMismatch` naming the problem, if there is one; else return the highest
        applied position per partition now, for :meth:`check_positions` after the append."""
        problem = self.problem()
        if problem:
            raise LogMismatch(problem)
        try:
            with self.engine.connect() as conn:
                return tracking.highest_applied(conn)
        except (OperationalError, DBAPIError) as exc:
            raise LogUnavailable("the projection positions cannot be read") from exc

    def check_positions(self, positions: Iterable[Position], highest: dict[int, int]) -> None:
        """Raise :class:`LogMismatch` if the log gave an offset below a position applied before
        the append (``highest``, from :meth:`check`): the log went backwards."""
        for position in positions:
            highest_here = highest.get(position.partition, 0)
            if position.offset < highest_here:
                self._checked_at = float("-inf")  # look again on the next call
                raise LogMismatch(_backwards(position.partition, position.offset, highest_here))

    def _compute(self) -> str | None:
        identity = self.log.identity()
        with self.engine.begin() as conn:
            recorded = tracking.recorded_log(conn)
            if recorded is None:
                if identity.endswith(":missing"):
                    return None  # nothing to project yet: record the log once it exists
                tracking.record_log(conn, identity, utc_iso())
                log.info("projecting the log %s", identity)
                recorded = identity
            highest = tracking.highest_applied(conn)
        if recorded != identity:
            return (
                f"the log is not the one Polku projects: its views were applied from {recorded}, the log now is "
                f"{identity} (storage wiped, topic recreated, or another cluster); {WAY_OUT}"
            )
        for partition, applied in sorted(highest.items()):
            if applied == 0:
                continue
            if partition >= self.log.partitions:
                return f"the log has {self.log.partitions} partition(s), but events of partition {partition} were applied; {WAY_OUT}"
            end = self.log.end(partition)
            if end < applied:
                return _backwards(partition, end, applied)
        return None

    def accept(self, conn: sa.Connection) -> str:
        """Record the log found now as the one Polku projects and forget positions in partitions
        it does not have, in the caller's transaction, which also empties the projections
        (:meth:`projections.runner.Runner.accept_log`)."""
        identity = self.log.identity()
        tracking.record_log(conn, identity, utc_iso())
        conn.execute(tracking.positions.delete().where(tracking.positions.c.partition >= self.log.partitions))
        return identity


def _backwards(partition: int, end: int, applied: int) -> str:
    return (
        f"the log went backwards: partition {partition} ends at offset {end}, below offset {applied} that the views "
        f"have applied (restored from an older backup, or events deleted); {WAY_OUT}"
    )
