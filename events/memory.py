"""An in-memory log for unit tests of pure logic. Not durable; never used by the server."""

from __future__ import annotations

import threading
import uuid
import zlib
from typing import Sequence

from events.envelope import Event, Record, encode
from events.log import Log, Position


class MemoryLog(Log):
    def __init__(self, partitions: int = 1) -> None:
        self._partitions: list[list[Event]] = [[] for _ in range(partitions)]
        self._lock = threading.Lock()
        self._identity = f"memory:{uuid.uuid4()}"

    def identity(self) -> str:
        return self._identity

    @property
    def partitions(self) -> int:
        return len(self._partitions)

    def append(self, events: Sequence[Event]) -> list[Position]:
        self.check_sizes([encode(e) for e in events])
        with self._lock:
            positions = []
            for event in events:
                partition = zlib.crc32(event.key.encode()) % len(self._partitions)
                self._partitions[partition].append(event)
                positions.append(Position(partition, len(self._partitions[partition]) - 1))
            return positions

    def read(self, partition: int, offset: int, limit: int = 500) -> list[Record]:
        with self._lock:
            events = self._partitions[partition][offset : offset + limit]
            return [Record(partition, offset + i, e) for i, e in enumerate(events)]

    def end(self, partition: int) -> int:
        with self._lock:
            return len(self._partitions[partition])
