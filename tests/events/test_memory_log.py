"""The in-memory log used by unit tests keeps the same contract as the durable ones."""

import pytest

from events.memory import MemoryLog
from tests.events.contract import LogContract


class TestMemoryLogOnePartition(LogContract):
    @pytest.fixture
    def log(self):
        return MemoryLog()


class TestMemoryLogFourPartitions(LogContract):
    @pytest.fixture
    def log(self):
        return MemoryLog(partitions=4)
