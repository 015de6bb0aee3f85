"""Read-your-writes and the consistency watermark, computed from what a projection has applied.

``wait_for`` blocks (bounded) until a projection has applied given log positions; the API calls
it after an append so that a POST is answered only once its statements are readable.
``consistent_through`` is the instant up to which everything recorded is visible: the present
moment for partitions that are fully applied, otherwise the recording time of the last applied
event; the earliest over all partitions.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Iterable

import sqlalchemy as sa
from sqlalchemy.exc import InterfaceError, OperationalError

from events import Log, LogUnavailable, Position, utc_iso
from events.claims import STATEMENT_IDS, ClaimRegistry
from projections import tracking
from schemas.timestamps import instant

if TYPE_CHECKING:
    from projections.runner import Runner

#: A watermark that is always true: nothing was recorded before it.
EPOCH = "1970-01-01T00:00:00.000000Z"


class Consistency:
    """``max_age``: how long a computed watermark is reused. A reused watermark is older, never
    wrong: everything up to it stays visible."""

    def __init__(
        self,
        engine: sa.Engine,
        log: Log,
        runner: "Runner | None" = None,
        max_age: float = 0.1,
        claims: ClaimRegistry | None = None,
        in_flight_ttl_s: float = 60.0,
        woken_by: threading.Condition | None = None,
    ):
        """``runner``: the projection runner of this process, if it runs one; waiters then wake
        on its commits and read its committed positions before asking the database.
        ``claims``: where writes in flight are marked; the watermark stays below the oldest one
        younger than ``in_flight_ttl_s`` (an older mark was left by a write that failed).
        ``woken_by``: without a runner here, a condition notified when another process applied
        something (projections/notices.py), so waiters look then rather than at their pace."""
        self.engine = engine
        self.log = log
        self.runner = runner
        self.claims = claims
        self.in_flight_ttl_s = in_flight_ttl_s
        self.condition = runner.applied_condition if runner is not None else woken_by
        self.max_age = max_age
        self._cached: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def applied(self, projection: str) -> dict[int, tracking.Applied]:
        with self.engine.connect() as conn:
            return tracking.applied(conn, projection)

    def is_applied(self, projection: str, positions: Iterable[Position]) -> bool:
        needed: dict[int, int] = {}
        for p in positions:
            needed[p.partition] = max(needed.get(p.partition, -1), p.offset)
        if not needed:
            return True
        if self.runner is not None and all(
            self.runner.committed.get((projection, part), -1) > off for part, off in needed.items()
        ):
            return True
        applied = self.applied(projection)
        return all(part in applied and applied[part].next_offset > off for part, off in needed.items())

    def wait_for(self, projection: str, positions: Iterable[Position], timeout: float, stall_s: float | None = None) -> bool:
        """True once ``projection`` has applied every position; False if ``timeout`` passes first,
        or if the projection moves not at all for ``stall_s`` (no worker is applying: waiting the
        whole timeout would only hold a request thread)."""
        positions = list(positions)
        deadline = time.monotonic() + timeout
        pause = 0.002
        progress, progressed_at, looked_at = None, time.monotonic(), float("-inf")
        while True:
            if self.is_applied(projection, positions):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if stall_s is not None and time.monotonic() - looked_at >= 0.1:
                looked_at = time.monotonic()
                now_at = self._progress(projection)
                if now_at != progress:
                    progress, progressed_at = now_at, looked_at
                elif looked_at - progressed_at >= stall_s:
                    return False
            if self.condition is not None:
                with self.condition:
                    self.condition.wait(min(remaining, 0.05))
            else:
                time.sleep(min(pause, remaining))
                pause = min(pause * 2, 0.02)

    def _progress(self, projection: str) -> int:
        """A number that grows whenever ``projection`` applies anything."""
        if self.runner is not None:
            return sum(offset for (name, _), offset in list(self.runner.committed.items()) if name == projection)
        return sum(row.next_offset for row in self.applied(projection).values())

    def consistent_through(self, projection: str) -> str:
        with self._lock:
            cached = self._cached.get(projection)
        if cached is not None and time.monotonic() - cached[0] < self.max_age:
            return cached[1]
        computed_at = time.monotonic()
        try:
            through = self._compute(projection)
        except (OperationalError, InterfaceError, LogUnavailable):
            # the database is away: an older watermark is still true, and the beginning of time
            # always is; the read that follows answers 503 on its own
            return cached[1] if cached is not None else EPOCH
        with self._lock:
            self._cached[projection] = (computed_at, through)
        return through

    def _compute(self, projection: str) -> str:
        """The watermark, from the moment ``observed`` taken before anything is read: a write
        that begins later stamps a later ``stored``; one that began earlier is either in flight
        (and holds the watermark below its start) or applied (and visible)."""
        observed = utc_iso()
        applied = self.applied(projection)
        through = observed
        for partition in range(self.log.partitions):
            row = applied.get(partition)
            if row is None:
                continue
            try:
                caught_up = row.next_offset >= self.log.end(partition)
            except LogUnavailable:
                caught_up = False  # cannot see the end: vouch only for what was applied
            if caught_up:
                continue
            if row.last_recorded is None:
                return EPOCH
            through = min(through, row.last_recorded)
        if self.claims is not None and projection == "statements":
            oldest = self.claims.oldest_in_flight(STATEMENT_IDS, utc_iso(_parse(observed) - timedelta(seconds=self.in_flight_ttl_s)))
            if oldest is not None:
                through = min(through, utc_iso(_parse(oldest) - timedelta(microseconds=1)))
        return through


def _parse(text: str) -> datetime:
    return instant(text)
