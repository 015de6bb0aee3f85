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
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Sequence

from events.envelope import Event, Record


class LogUnavailable(Exception):
    """The log did not durably accept (or could not serve) a request; retrying later may work."""


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

    def close(self) -> None:
        """Release connections; the default has nothing to release."""
