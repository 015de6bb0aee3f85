"""Group commit: the statement writes of concurrent requests claimed, stamped and appended
together (issue 13).

Each write costs a claim transaction, an append and a projection pass; on SQLite all three
take the one writer lock, so eight clients posting one statement each spent most of their time
waiting for it. Here the first request that finds no writer at work becomes the *leader*: it
takes every write waiting (up to :data:`MAX_GROUP`, no statement id in two of them) and hands
them to the work function as one group, while the other requests wait for their own write's
outcome. A leader leads until its own write is done; a waiting request takes over when nobody
leads. Nothing changes for one client alone: its group is its own write.

Every write's outcome is its own: the work function sets a result or an error on each write of
the group (one write's conflicting id is that write's 409, not its neighbours').
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable

#: At most this many requests' writes in one group.
MAX_GROUP = 64


@dataclass(eq=False)
class Write:
    """One request's statements, completed and fingerprinted, waiting to be claimed and appended."""

    statements: list[dict[str, Any]]
    #: statement id -> fingerprint
    prints: dict[str, str]
    #: whether each statement came without a timestamp (the LRS sets it to ``stored``)
    untimed: list[bool]
    #: ids the LRS gave statements sent without one (said in a 503, so a retry reuses them)
    assigned: list[str]
    done: threading.Event = field(default_factory=threading.Event)
    ids: list[str] | None = None
    error: BaseException | None = None
    #: where its statements are on the log, once appended: its request waits for them to be
    #: readable after the group is done, so the next group is appended meanwhile
    positions: list[Any] = field(default_factory=list)

    def finish(self, ids: list[str] | None = None, error: BaseException | None = None) -> None:
        self.ids, self.error = ids, error
        self.done.set()


class WriteQueue:
    def __init__(self, max_group: int = MAX_GROUP) -> None:
        self._max_group = max_group
        self._pending: list[Write] = []
        self._leading = False
        self._changed = threading.Condition()

    def run(self, write: Write, work: Callable[[list[Write]], None]) -> list[str]:
        """Queue ``write``, take part in the work until it is done, and give its outcome."""
        with self._changed:
            self._pending.append(write)
        while not write.done.is_set():
            with self._changed:
                if self._leading:
                    self._changed.wait(0.05)  # woken when the leader finishes a group
                    continue
                self._leading = True
            try:
                while not write.done.is_set():
                    self._work_once(work)
            finally:
                with self._changed:
                    self._leading = False
                    self._changed.notify_all()
        if write.error is not None:
            raise write.error
        assert write.ids is not None
        return write.ids

    def _work_once(self, work: Callable[[list[Write]], None]) -> None:
        with self._changed:
            group, taken = [], set()
            for pending in list(self._pending):
                if len(group) >= self._max_group:
                    break
                if taken.isdisjoint(pending.prints):
                    group.append(pending)
                    taken |= set(pending.prints)
                    self._pending.remove(pending)
        if not group:
            return
        try:
            work(group)
        except BaseException as exc:  # noqa: BLE001 - whatever stopped the work is every unfinished write's answer
            for pending in group:
                if not pending.done.is_set():
                    pending.finish(error=exc)
            if not isinstance(exc, Exception):
                raise
        finally:
            for pending in group:
                if not pending.done.is_set():
                    pending.finish(error=RuntimeError("the write was not carried out"))
            with self._changed:
                self._changed.notify_all()
