"""The runner: feeds every projection from its last applied position, in batches.

For each (projection, partition) it reads a batch from the log, then in ONE database
transaction moves the tracked position (compare-and-set) and applies the batch. A crash at
any point leaves either the old position with none of the batch applied, or the new position
with all of it: the effect of each event is exactly once. Rebuild empties a projection's
tables, resets its positions and replays from the start.
"""

from __future__ import annotations

import logging
import os
import threading
import traceback
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from events import UNDECODABLE, Log, LogUnavailable, utc_iso
from projections import notices, tracking
from projections.base import Projection
from projections.log_guard import LogGuard

log = logging.getLogger(__name__)

#: How long an idle runner's read of a log that :attr:`~events.log.Log.waits` is held for new
#: events (it also bounds how long :meth:`Runner.stop` waits for the loop).
IDLE_WAIT_S = 0.5

#: Failures of the database or the log, not of an event: retried, never set aside.
TRANSIENT = (LogUnavailable, OperationalError, InterfaceError)


def _describe(exc: BaseException) -> str:
    """What went wrong, without the statement's content: for a database error only its class and
    SQLSTATE (a driver's message may quote values, which hold personal data)."""
    orig = getattr(exc, "orig", None)
    if orig is not None:
        return f"{type(orig).__name__} (SQLSTATE {getattr(orig, 'sqlstate', None) or getattr(orig, 'pgcode', None) or '-'})"
    if isinstance(exc, (LookupError, ValueError, TypeError)):
        # their messages quote the values involved (a key, an identifier): where it failed instead
        frames = traceback.extract_tb(exc.__traceback__)
        where = f" at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno}" if frames else ""
        return f"{type(exc).__name__}{where}"
    detail = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {detail[0][:120] if detail else ''}"


@dataclass(frozen=True)
class Status:
    projection: str
    partition: int
    applied: int
    end: int

    @property
    def lag(self) -> int:
        return max(0, self.end - self.applied)


class Runner:
    def __init__(
        self,
        engine: sa.Engine,
        log_: Log,
        projections: Sequence[Projection],
        batch_size: int = 500,
        partitions: Iterable[int] | None = None,
        guard: LogGuard | None = None,
        opener: Callable[[list], list] | None = None,
    ):
        """``partitions``: the log partitions this runner applies (default all), so that several
        projection workers can split a topic between them. ``guard``: when it names a problem
        (the log is another one, or went backwards), the runner applies nothing. ``opener``:
        turns each batch read into what projections apply (events/sealing.py opens the sealed
        personal parts); default, the records as read."""
        self.engine = engine
        self.log = log_
        self.projections = list(projections)
        self.batch_size = batch_size
        self.guard = guard
        self.opener = opener
        self.partitions = sorted(set(partitions)) if partitions is not None else list(range(log_.partitions))
        unknown = [p for p in self.partitions if not 0 <= p < log_.partitions]
        if unknown:
            raise ValueError(f"the log has partitions 0..{log_.partitions - 1}; no partition {unknown[0]}")
        #: Notified after every committed batch, so in-process waiters wake at once.
        self.applied_condition = threading.Condition()
        #: Positions this runner has committed, (projection, partition) -> next offset: a lower
        #: bound of the tracked positions that in-process waiters can read without a query.
        self.committed: dict[tuple[str, int], int] = {}
        #: Told (projection, partition, events) after each committed batch (the server's metrics).
        self.on_commit: Callable[[str, int, int], None] | None = None
        #: Called after each round of the background loop (the server finishes pending erasures).
        self.after_round: Callable[[], None] | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._apply_lock = threading.Lock()
        self._waited = False  # whether the last round's read waited for events (run_forever)

    # ---- set-up -------------------------------------------------------------------------
    def setup(self) -> None:
        """Record a zero position for every (projection, partition) that has none yet.

        The tables themselves come from the migrations; runners starting at once may both do
        this, and the rows they insert do not collide.
        """
        with self.engine.begin() as conn:
            for projection in self.projections:
                tracking.ensure_rows(conn, projection.name, self.log.partitions)

    def projection(self, name: str) -> Projection:
        for projection in self.projections:
            if projection.name == name:
                return projection
        raise KeyError(name)

    # ---- applying -----------------------------------------------------------------------
    def run_once(self, names: Iterable[str] | None = None, wait_s: float = 0.0) -> int:
        """Apply at most one batch per (projection, partition); return how many events were read.
        ``wait_s``: on a log that :attr:`~events.log.Log.waits`, how long to wait for events when
        there are none."""
        wanted = set(names) if names is not None else None
        total = 0
        if self.guard is not None and self.guard.problem():
            return 0  # never apply a stranger's events over these views (the guard logs why)
        with self._apply_lock:  # one applying thread per process; other processes use the CAS
            with self.engine.connect() as conn:
                starts = tracking.all_applied(conn)
            # Projections at the same position share one read and one transaction (the usual
            # case); one being rebuilt, or behind, forms a group of its own.
            groups: dict[int, dict[int, list[Projection]]] = {}
            for partition in self.partitions:
                for projection in self.projections:
                    if wanted is None or projection.name in wanted:
                        start = starts.get((projection.name, partition), 0)
                        groups.setdefault(partition, {}).setdefault(start, []).append(projection)
            # Partitions where every projection is at one position are followed together (one
            # tail of the log); where they differ, each group reads on its own.
            together = {p: next(iter(by_start)) for p, by_start in groups.items() if len(by_start) == 1}
            apart = [p for p, by_start in groups.items() if len(by_start) > 1]
            self._waited = bool(together) and not apart and wait_s > 0 and self.log.waits
            if together:
                found = self.log.tail(together, self.batch_size, wait_s if self._waited else 0.0)
                for partition, records in found.items():
                    group = groups[partition][together[partition]]
                    total += self._apply_batch(group, partition, together[partition], records)
            ends = self.log.ends(apart) if apart else {}
            for partition in apart:
                for start, group in sorted(groups[partition].items()):
                    if ends[partition] > start:  # asking end is cheaper than a read that finds nothing
                        total += self._apply_batch(group, partition, start)
        if total:
            with self.applied_condition:
                self.applied_condition.notify_all()
        return total

    def catch_up(self, names: Iterable[str] | None = None, progress: Callable[[int], None] | None = None) -> int:
        """Apply batches until the projections reach the end of the log as it was on entry."""
        names = list(names) if names is not None else None
        total = 0
        while True:
            applied = self.run_once(names)
            total += applied
            if progress and applied:
                progress(applied)
            if not applied:
                return total

    def _apply_batch(self, group: list[Projection], partition: int, start: int, read: list | None = None) -> int:
        """Apply one batch to every projection of ``group`` (all at ``start``) in one transaction.

        ``read``: the batch, if the tail of the log brought it already; else it is read here.
        Returns the events read times the projections fed, so progress counts each projection.
        If an event cannot be applied, the batch is applied again one event at a time, each in a
        savepoint, and what still fails is set aside as a dead letter (docs/design.md, invariant 7): one
        event never stalls a projection. A database or log outage is not the event's fault and
        is raised, to be retried.
        """
        records = self._read(partition, start) if read is None else self._opened(read)
        if not records:
            return 0
        try:
            return self._commit(group, partition, start, records, careful=False)
        except TRANSIENT:
            raise
        except IntegrityError:
            # most likely a race with a worker on another partition (two check-then-inserts of
            # one row): the same batch again usually goes through; if not, find the event below
            try:
                return self._commit(group, partition, start, records, careful=False)
            except TRANSIENT:
                raise
            except Exception:  # noqa: BLE001 - found and set aside below
                return self._commit(group, partition, start, records, careful=True)
        except Exception:  # noqa: BLE001 - an event no projection code foresaw; found and set aside below
            return self._commit(group, partition, start, records, careful=True)

    def _read(self, partition: int, offset: int) -> list:
        return self._opened(self.log.read(partition, offset, self.batch_size))

    def _opened(self, records: list) -> list:
        return self.opener(records) if self.opener is not None and records else records

    def _commit(self, group: list[Projection], partition: int, start: int, records: list, careful: bool) -> int:
        next_offset, recorded = records[-1].offset + 1, records[-1].event.recorded or None
        with self.engine.begin() as conn:
            _commit_without_flush_wait(conn)
            group = self._unlocked(conn, group, partition)
            for projection in group:
                if not tracking.advance(conn, projection.name, partition, start, next_offset, recorded):
                    conn.rollback()  # another runner moved first: it applies this batch
                    return 0
            self._apply_records(conn, group, records, careful)
            notices.announce(conn)  # the servers' waiting writes look again once this commits
        for projection in group:
            self.committed[(projection.name, partition)] = next_offset
            if self.on_commit is not None:
                self.on_commit(projection.name, partition, len(records))
        return len(records) * len(group)

    @staticmethod
    def _unlocked(conn: sa.Connection, group: list[Projection], partition: int) -> list[Projection]:
        """The projections of ``group`` whose position in ``partition`` no other transaction holds
        (PostgreSQL; now locked by this one): a projection being rebuilt is passed over, not waited
        for, so the others go on. SQLite has one writer at a time: every projection is free."""
        if conn.dialect.name != "postgresql":
            return group
        free = tracking.lock_unless_locked(conn, [p.name for p in group], partition)
        return [p for p in group if p.name in free]

    def _apply_records(self, conn: sa.Connection, group: list[Projection], records: list, careful: bool) -> None:
        """Apply ``records`` to each projection of ``group`` in ``conn``'s transaction: as one batch,
        or (``careful``) one event at a time in a savepoint each, setting aside what fails."""
        for projection in group:
            if not careful:
                wanted = [r for r in records if r.event.type in projection.event_types]
                if wanted:
                    projection.apply_batch(conn, wanted)
            for record in records:
                if record.event.type == UNDECODABLE:
                    self._set_aside(conn, projection, record, record.event.data.get("error", "undecodable"))
                elif record.event.type not in projection.event_types or not careful:
                    continue
                else:
                    try:
                        with conn.begin_nested():
                            projection.apply(conn, record)
                    except TRANSIENT:
                        raise
                    except Exception as exc:  # noqa: BLE001 - this event's own fault: set it aside
                        self._set_aside(conn, projection, record, _describe(exc))

    def _set_aside(self, conn: sa.Connection, projection: Projection, record, error: str) -> None:
        event = record.event
        tracking.set_aside(conn, projection.name, record.partition, record.offset, event.id, event.type, error, utc_iso())
        log.error(
            "projection %s set aside event %s (%s) at %d:%d: %s",
            projection.name, event.id or "-", event.type, record.partition, record.offset, error,
        )

    # ---- running beside the server --------------------------------------------------------
    def start(self, idle_sleep: float = 0.05, idle_max_s: float | None = None) -> None:
        """Run in a daemon thread until :meth:`stop`. See :meth:`run_forever`."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self.run_forever, args=(idle_sleep, idle_max_s), name="polku-projections", daemon=True
        )
        self._thread.start()

    def wake(self) -> None:
        """Tell an idle runner that something was appended."""
        self._wake.set()

    def apply_now(self) -> None:
        """Apply what is pending in the calling thread, unless another thread is applying already.

        The server calls this right after an append in the embedded mode, so the writer does not
        wait for the background thread to wake up and be scheduled.
        """
        if self._apply_lock.acquire(blocking=False):
            self._apply_lock.release()
            self.run_once()
        else:
            self.wake()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def run_forever(self, idle_sleep: float = 0.05, idle_max_s: float | None = None) -> None:
        """Apply until stopped. The loop outlives every error: an outage pauses it with backoff,
        and an unexpected error is logged (with its traceback, once per kind in a row) and
        retried the same way -- never a live process whose runner silently died.

        Between rounds that find nothing it waits ``idle_sleep``; with ``idle_max_s`` that wait
        doubles while nothing comes, up to it: for a runner beside the server, whose own appends
        :meth:`wake` it at once, so only events others append wait longer."""
        backoff = idle_sleep
        last_error = ""
        while not self._stop.is_set():
            # on a log that holds a read until events arrive, that read is the idle wait
            self._waited = False
            try:
                applied = self.run_once(wait_s=IDLE_WAIT_S)
                waited = self._waited
                if self.after_round is not None:
                    self.after_round()
                idle = not applied and idle_max_s is not None
                backoff = min(max(backoff, idle_sleep) * 2, idle_max_s) if idle else idle_sleep
                last_error = ""
            except TRANSIENT as exc:
                log.warning("projection runner paused: %s", _describe(exc))
                applied, waited = 0, False
                backoff = min(backoff * 2, 5.0)
            except Exception as exc:  # noqa: BLE001 - the loop must survive what it did not foresee
                if _describe(exc) != last_error:
                    log.exception("projection runner failed; retrying")
                last_error = _describe(exc)
                applied, waited = 0, False
                backoff = min(max(backoff, 0.5) * 2, 30.0)
            if not applied and not waited:
                self._wake.wait(backoff)
                self._wake.clear()

    # ---- operations ---------------------------------------------------------------------
    def status(self) -> list[Status]:
        with self.engine.connect() as conn:
            rows = {p.name: tracking.applied(conn, p.name) for p in self.projections}
        ends = [self.log.end(p) for p in range(self.log.partitions)]
        return [
            Status(name, partition, applied.next_offset, ends[partition])
            for name, by_partition in rows.items()
            for partition, applied in sorted(by_partition.items())
        ]

    def accept_log(self, progress: Callable[[int], None] | None = None) -> tuple[str, int]:
        """Take the log found now as the one to project (see projections/log_guard.py): record it,
        empty every projection, reset its positions and replay, in one transaction (as
        :meth:`rebuild`: readers see the old views until the new ones replace them). Returns the
        log's identity and the events applied."""
        if self.guard is None:
            raise ValueError("a runner without a guard has no recorded log to replace")
        with self.engine.begin() as conn:
            _no_statement_timeout(conn)
            identity = self.guard.accept(conn)
            applied, reached = self._replay(conn, self.projections, progress)
        self._replayed(self.projections, reached)
        self.guard.refresh()
        return identity, applied

    def rebuild(self, names: Iterable[str], progress: Callable[[int], None] | None = None) -> int:
        """Empty the named projections and replay the whole log into them, in one transaction
        (see the module docstring): safe while servers and workers run. Returns the events
        applied times the projections fed."""
        chosen = [self.projection(name) for name in names]
        with self.engine.begin() as conn:
            _no_statement_timeout(conn)  # emptying and refilling large tables takes longer than a request may
            applied, reached = self._replay(conn, chosen, progress)
        self._replayed(chosen, reached)
        return applied

    def _replay(
        self, conn: sa.Connection, chosen: list[Projection], progress: Callable[[int], None] | None
    ) -> tuple[int, dict[int, int]]:
        """Empty ``chosen``, reset their positions and replay the whole log into them, all in the
        transaction of ``conn``. Returns the events applied times the projections fed, and the
        position reached in each partition."""
        total = 0
        reached: dict[int, int] = {}
        for projection in chosen:  # from here to the commit this transaction holds their positions
            projection.reset(conn)
            tracking.reset(conn, projection.name)
        for partition in range(self.log.partitions):
            offset, recorded = 0, None
            while True:  # until a read finds nothing: the end as it is when the replay gets there
                records = self._read(partition, offset)
                if not records:
                    break
                self._replay_batch(conn, chosen, records)
                offset, recorded = records[-1].offset + 1, records[-1].event.recorded or recorded
                total += len(records) * len(chosen)
                if progress:
                    progress(len(records) * len(chosen))
            for projection in chosen:
                tracking.advance(conn, projection.name, partition, 0, offset, recorded)
            reached[partition] = offset
        return total, reached

    def _replayed(self, chosen: list[Projection], reached: dict[int, int]) -> None:
        """After the replay's commit: the positions reached are a lower bound for in-process waiters."""
        for projection in chosen:
            for partition, offset in reached.items():
                self.committed[(projection.name, partition)] = offset
        with self.applied_condition:
            self.applied_condition.notify_all()

    def _replay_batch(self, conn: sa.Connection, group: list[Projection], records: list) -> None:
        """Apply a batch inside the rebuild's transaction; if an event fails, the batch again one
        event at a time, setting aside what still fails (as :meth:`_apply_batch` does)."""
        try:
            with conn.begin_nested():
                self._apply_records(conn, group, records, careful=False)
        except TRANSIENT:
            raise
        except Exception:  # noqa: BLE001 - an event no projection code foresaw; found and set aside below
            self._apply_records(conn, group, records, careful=True)


def _commit_without_flush_wait(conn: sa.Connection) -> None:
    """Let this transaction's commit return before PostgreSQL has flushed it to disk
    (``synchronous_commit=off`` for it alone). A projection may: the log is the source of truth
    and the positions move in the same transaction, so what a crash of PostgreSQL takes (its last
    fraction of a second of commits, never half of one) is applied again from the log, while every
    batch no longer waits for a disk flush. Claims, credentials and documents keep the default."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.set_config("synchronous_commit", "off", True)))


def _no_statement_timeout(conn: sa.Connection) -> None:
    """Lift PostgreSQL's statement timeout for the rest of this transaction (maintenance only)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.set_config("statement_timeout", "0", True)))
