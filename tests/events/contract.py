"""The contract every log implementation keeps. A backend's test module subclasses
:class:`LogContract` and provides a ``log`` fixture; nothing else."""

from __future__ import annotations

import threading

import pytest

from events import Event, EventTooLarge, Position


def make_events(n: int, key: str = "learner-1", start: int = 0) -> list[Event]:
    return [Event(type="test.happened", key=key, data={"n": start + i, "text": "päivä ✓"}) for i in range(n)]


def read_all(log, partition: int, offset: int = 0) -> list:
    """Every record from ``offset`` on: a read may return fewer than are there (Kafka returns what
    one fetch brought), so read until a read finds nothing, as the runner does."""
    records = []
    while True:
        batch = log.read(partition, offset, limit=7)
        if not batch:
            return records
        records.extend(batch)
        offset = batch[-1].offset + 1


class LogContract:
    def test_empty_log_has_end_zero_and_reads_nothing(self, log):
        for partition in range(log.partitions):
            assert log.end(partition) == 0
            assert log.read(partition, 0) == []

    def test_append_returns_one_increasing_position_per_event(self, log):
        positions = log.append(make_events(5))
        assert len(positions) == 5
        assert all(isinstance(p, Position) for p in positions)
        same_key = [p for p in positions if p.partition == positions[0].partition]
        assert len(same_key) == 5, "events with one key share a partition"
        assert [p.offset for p in positions] == sorted({p.offset for p in positions})

    def test_read_returns_the_appended_events_unchanged_and_in_order(self, log):
        events = make_events(12)
        positions = log.append(events)
        partition = positions[0].partition
        records = read_all(log, partition)
        assert [r.event for r in records] == events
        assert [Position(r.partition, r.offset) for r in records] == positions

    def test_end_is_past_every_appended_offset(self, log):
        positions = log.append(make_events(3))
        assert log.end(positions[0].partition) > positions[-1].offset

    def test_ends_are_each_partitions_end(self, log):
        log.append(make_events(5))
        partitions = list(range(log.partitions))
        assert log.ends(partitions) == {p: log.end(p) for p in partitions}

    def test_read_from_an_offset_starts_there(self, log):
        positions = log.append(make_events(6))
        partition = positions[0].partition
        records = read_all(log, partition, positions[3].offset)
        assert [r.event.data["n"] for r in records] == [3, 4, 5]

    def test_read_respects_limit(self, log):
        positions = log.append(make_events(6))
        assert len(log.read(positions[0].partition, 0, limit=2)) == 2

    def test_one_keys_events_stay_in_order_across_appends(self, log):
        for start in range(0, 20, 5):
            log.append(make_events(5, key="learner-7", start=start) + make_events(1, key=f"other-{start}", start=100))
        seen = []
        for partition in range(log.partitions):
            seen.extend(r.event.data["n"] for r in read_all(log, partition) if r.event.key == "learner-7")
        assert seen == list(range(20))

    def test_concurrent_appends_lose_nothing_and_reuse_no_position(self, log):
        results: list[list[Position]] = []
        lock = threading.Lock()

        def writer(w: int) -> None:
            for i in range(10):
                positions = log.append(make_events(2, key=f"w{w}", start=i * 2))
                with lock:
                    results.append(positions)

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        positions = [p for batch in results for p in batch]
        assert len(set(positions)) == len(positions) == 80
        total = sum(len(read_all(log, p)) for p in range(log.partitions))
        assert total == 80

    def test_events_appended_while_reading_are_not_skipped(self, log):
        log.append(make_events(3, key="k"))
        partition = log.append(make_events(1, key="k", start=3))[0].partition
        first = read_all(log, partition)
        log.append(make_events(2, key="k", start=4))
        rest = read_all(log, partition, first[-1].offset + 1)
        assert [r.event.data["n"] for r in first + rest] == list(range(6))

    def test_identity_is_stable_for_one_log(self, log):
        first = log.identity()
        log.append(make_events(2))
        assert first and log.identity() == first

    def test_an_event_over_the_size_limit_is_refused_and_nothing_of_its_batch_is_appended(self, log):
        log.max_event_bytes = 2_000
        small = make_events(1, key="size")
        big = Event(type="test.happened", key="size", data={"text": "x" * 3_000})
        with pytest.raises(EventTooLarge) as refused:
            log.append(small + [big])
        assert refused.value.limit == 2_000
        assert all(log.end(p) == 0 for p in range(log.partitions)), "all or nothing"
        assert len(log.append(small)) == 1, "an event under the limit still goes through"

    # ---- following the log: tail ---------------------------------------------------------
    def tail_all(self, log, starts: dict[int, int]) -> dict[int, list]:
        """Every record past ``starts``, following the log as a worker does until it answers nothing."""
        starts, found = dict(starts), {}
        while True:
            batch = log.tail(starts, limit=7)
            if not batch:
                return found
            for partition, records in batch.items():
                assert records, "a partition with nothing is left out of the answer"
                found.setdefault(partition, []).extend(records)
                starts[partition] = records[-1].offset + 1

    def test_tail_of_a_caught_up_reader_is_empty(self, log):
        positions = log.append(make_events(3))
        ends = log.ends(list(range(log.partitions)))
        assert log.tail(ends) == {}
        assert log.tail({positions[-1].partition: positions[-1].offset + 1}) == {}

    def test_tail_brings_every_partitions_records_from_each_start_in_order(self, log):
        keys = [f"learner-{n}" for n in range(8)]
        for key in keys:
            log.append(make_events(4, key=key))
        starts = {p: 0 for p in range(log.partitions)}
        found = self.tail_all(log, starts)
        assert sum(len(records) for records in found.values()) == 32
        for partition, records in found.items():
            assert [r.partition for r in records] == [partition] * len(records)
            assert [r.offset for r in records] == sorted({r.offset for r in records})
            assert records == read_all(log, partition)

    def test_tail_respects_limit_and_starts_where_asked(self, log):
        positions = log.append(make_events(10, key="k"))
        partition = positions[0].partition
        first = log.tail({partition: positions[2].offset}, limit=3)
        assert [r.event.data["n"] for r in first[partition]] == [2, 3, 4][: len(first[partition])]

    def test_tail_asked_again_from_the_same_place_gives_the_same_records(self, log):
        """A batch a worker could not commit is asked for again: nothing of it may be lost."""
        positions = log.append(make_events(5, key="k"))
        partition = positions[0].partition
        first = log.tail({partition: 0}, limit=3)
        again = log.tail({partition: 0}, limit=3)
        assert again == first
        earlier = self.tail_all(log, {partition: positions[1].offset})
        assert [r.event.data["n"] for r in earlier[partition]] == [1, 2, 3, 4]

    def test_tail_brings_events_appended_after_it_caught_up(self, log):
        partition = log.append(make_events(2, key="k"))[0].partition
        caught_up = self.tail_all(log, {partition: 0})
        after = caught_up[partition][-1].offset + 1
        assert log.tail({partition: after}) == {}
        log.append(make_events(2, key="k", start=2))
        later = self.tail_all(log, {partition: after})
        assert [r.event.data["n"] for r in later[partition]] == [2, 3]

    def test_tail_and_read_can_be_used_side_by_side(self, log):
        """A worker follows the log with tail while a projection behind the others reads apart."""
        positions = log.append(make_events(6, key="k"))
        partition = positions[0].partition
        assert [r.event.data["n"] for r in log.tail({partition: 0}, limit=2)[partition]] in ([0], [0, 1])
        assert [r.event.data["n"] for r in read_all(log, partition, positions[4].offset)] == [4, 5]
        assert [r.event.data["n"] for r in self.tail_all(log, {partition: positions[2].offset})[partition]] == [2, 3, 4, 5]
