"""The log interface every implementation keeps.

A log is split into a fixed number of partitions (the embedded log has one). Within a partition
offsets are non-negative and strictly increasing in append order (an implementation may leave
gaps); ``end(p)`` is greater than every offset present, so a reader that has applied everything
below ``end(p)`` is caught up.

Three verbs:

* ``append(events)`` durably stores a batch and returns one :class:`Position` per event, in
  order. It returns only once the log has accepted every event; if it cannot, it raises
  :class:`LogUnavailable` and the caller must answer 503.
* ``read(partition, offset, limit)`` returns up to ``limit`` records from ``offset`` on.
* ``end(partition)`` is the next offset of a partition.

A projection worker follows the log with ``tail(starts)``: the records past its position in every
partition it applies, at once; on Kafka the answer is held at the broker until something arrives,
so an idle worker costs nothing and a new event is applied as soon as it is acknowledged.

Besides the verbs, a log tells who it is and what it accepts: ``identity()`` names this very log
(a Kafka cluster and topic id, the embedded log's own id), so that the projections can notice
when the log they find is not the one they applied; ``max_event_bytes`` is the largest encoded
event it stores (an append of a larger one raises :class:`EventTooLarge`, before anything is
written); ``warnings()`` lists settings of the log that break Polku's promises (a topic that
deletes old events).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Mapping, Sequence

from events.envelope import Event, Record


class LogUnavailable(Exception):
    """The log did not durably accept (or could not serve) a request; retrying later may work."""


def summary(exc: BaseException, limit: int = 200) -> str:
    """An error's class and the first line of its message: what a log line or a CLI message says
    (drivers and kafka-python repeat whole requests in theirs)."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:limit] if lines else ''}"


class LogMisconfigured(Exception):
    """The log refuses Polku's settings (an invalid topic name, more replicas than brokers): no
    retry can help; the operator must change a setting."""


class EventTooLarge(ValueError):
    """An event is larger than the log accepts; nothing of its batch was appended."""

    def __init__(self, size: int, limit: int):
        super().__init__(f"an event of {size} bytes exceeds the log's limit of {limit} bytes")
        self.size = size
        self.limit = limit


@dataclass(frozen=True, order=True)
class Position:
    partition: int
    offset: int


class Log(abc.ABC):
    """An append-only, partitioned event log."""

    @property
    @abc.abstractmethod
    def partitions(self) -> int:
        """How many partitions the log has."""

    @abc.abstractmethod
    def append(self, events: Sequence[Event]) -> list[Position]:
        """Durably append ``events``; return their positions or raise :class:`LogUnavailable`."""

    @abc.abstractmethod
    def read(self, partition: int, offset: int, limit: int = 500) -> list[Record]:
        """Read up to ``limit`` records of ``partition`` starting at ``offset``."""

    @abc.abstractmethod
    def end(self, partition: int) -> int:
        """An offset greater than every offset now in ``partition`` (0 when it is empty)."""

    def ends(self, partitions: Sequence[int]) -> dict[int, int]:
        """:meth:`end` of each of ``partitions``; a log that can ask for all at once overrides it
        (a projection worker asks every few milliseconds while idle)."""
        return {partition: self.end(partition) for partition in partitions}

    #: Whether :meth:`tail` holds an empty answer until events arrive (up to its ``wait_s``): a
    #: runner on a log that does not wait sleeps between rounds itself.
    waits: bool = False

    def tail(self, starts: Mapping[int, int], limit: int = 500, wait_s: float = 0.0) -> dict[int, list[Record]]:
        """Up to ``limit`` records of each partition of ``starts`` from its offset there, for every
        partition that has some. It never answers nothing while a partition holds records past its
        start, so a reader it answers nothing is caught up. A log that :attr:`waits` holds an empty
        answer up to ``wait_s`` for events appended meanwhile; this default asks each end once and
        reads the partitions that have more."""
        ends = self.ends(list(starts))
        found = {}
        for partition, offset in starts.items():
            if ends[partition] > offset:
                records = self.read(partition, offset, limit)
                if records:
                    found[partition] = records
        return found

    @abc.abstractmethod
    def identity(self) -> str:
        """A name of this very log that changes when it is replaced (raises LogUnavailable)."""

    #: The largest encoded event (key included) the log stores.
    max_event_bytes: int = 20 * 1024 * 1024

    def check_sizes(self, encoded: Sequence[bytes]) -> None:
        """Raise :class:`EventTooLarge` for the first encoded event over :attr:`max_event_bytes`."""
        for payload in encoded:
            if len(payload) > self.max_event_bytes:
                raise EventTooLarge(len(payload), self.max_event_bytes)

    def warnings(self) -> list[str]:
        """Settings of the log that break a promise (e.g. finite retention); none by default."""
        return []

    def close(self) -> None:
        """Release connections; the default has nothing to release."""
