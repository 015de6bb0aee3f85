"""The projection runner: positions tracked in the projection's own transaction, so each event's
effect is applied exactly once, across crashes, competing runners and rebuilds."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from events import Event, Record, decode
from events.memory import MemoryLog
from events.sql import SqlLog
from projections import tracking
from projections.base import Projection
from projections.runner import Runner


class SimulatedCrash(BaseException):
    """The process dies here (not an error an event caused: nothing catches it)."""


class Tally(Projection):
    """Counts events per key; crashes on demand in the middle of a batch, and cannot apply an
    event whose data says ``poison``."""

    name = "tally"
    event_types = frozenset({"counted"})

    def __init__(self, fail_at: int | None = None):
        self.metadata = sa.MetaData()
        self.table = sa.Table(
            "test_tally", self.metadata, sa.Column("key", sa.String(50), primary_key=True), sa.Column("n", sa.Integer)
        )
        self.fail_at = fail_at
        self.seen = 0

    def apply(self, conn, record):
        self.seen += 1
        if self.fail_at is not None and self.seen == self.fail_at:
            raise SimulatedCrash()
        if record.event.data.get("poison"):
            raise ValueError("this event cannot be applied")
        key = record.event.key
        row = conn.execute(sa.select(self.table.c.n).where(self.table.c.key == key)).first()
        if row is None:
            conn.execute(self.table.insert().values(key=key, n=1))
        else:
            conn.execute(self.table.update().where(self.table.c.key == key).values(n=row.n + 1))

    def totals(self, engine) -> dict[str, int]:
        with engine.connect() as conn:
            return {r.key: r.n for r in conn.execute(sa.select(self.table))}


def events(n: int, keys: int = 3, type_: str = "counted") -> list[Event]:
    return [Event(type=type_, key=f"k{i % keys}", data={"i": i}) for i in range(n)]


@pytest.fixture
def engine(engine):
    """The migrated database plus the test projection's own table, which no migration makes."""
    Tally().metadata.create_all(engine)
    return engine


@pytest.fixture(params=["memory-1", "memory-4", "sql"])
def log(request, engine):
    if request.param == "sql":
        return SqlLog(engine)
    return MemoryLog(partitions=int(request.param.split("-")[1]))


def test_runner_applies_every_event_once_and_records_its_position(engine, log):
    log.append(events(25))
    tally = Tally()
    runner = Runner(engine, log, [tally], batch_size=4)
    runner.setup()
    assert runner.catch_up() == 25
    assert tally.totals(engine) == {"k0": 9, "k1": 8, "k2": 8}
    assert all(s.lag == 0 for s in runner.status())
    assert runner.catch_up() == 0, "a caught-up runner applies nothing again"


def test_events_of_other_types_advance_the_position_without_changing_the_view(engine, log):
    log.append(events(4) + events(3, type_="ignored"))
    tally = Tally()
    runner = Runner(engine, log, [tally])
    runner.setup()
    runner.catch_up()
    assert sum(tally.totals(engine).values()) == 4
    assert all(s.lag == 0 for s in runner.status())


def test_crash_in_the_middle_of_a_batch_leaves_neither_effect_nor_position(engine, log):
    log.append(events(10, keys=1))
    crashing = Tally(fail_at=6)
    runner = Runner(engine, log, [crashing], batch_size=10)
    runner.setup()
    with pytest.raises(SimulatedCrash):
        runner.catch_up()
    assert crashing.totals(engine) == {}, "the failed batch changed nothing"
    assert sum(s.applied for s in runner.status()) == 0 or log.partitions > 1
    restarted = Runner(engine, log, [Tally()], batch_size=10)
    restarted.setup()
    restarted.catch_up()
    assert crashing.totals(engine) == {"k0": 10}


def test_two_runners_on_one_log_apply_each_event_once(engine, log):
    log.append(events(60, keys=6))
    runners = [Runner(engine, log, [Tally()], batch_size=5) for _ in range(2)]
    runners[0].setup()
    errors: list[BaseException] = []

    def drain(runner):
        try:
            for _ in range(200):
                try:
                    if not runner.run_once() and all(s.lag == 0 for s in runner.status()):
                        return
                except sa.exc.OperationalError:
                    continue  # SQLite: the other runner held the write lock; retry
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=drain, args=(r,)) for r in runners]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(Tally().totals(engine).values()) == 60


def test_rebuild_replays_the_log_into_the_same_rows(engine, log):
    log.append(events(30, keys=4))
    tally = Tally()
    runner = Runner(engine, log, [tally], batch_size=7)
    runner.setup()
    runner.catch_up()
    live = tally.totals(engine)
    progress: list[int] = []
    assert runner.rebuild(["tally"], progress=progress.append) == 30
    assert tally.totals(engine) == live
    assert sum(progress) == 30


def test_a_rebuild_that_dies_half_way_leaves_the_live_rows_and_positions_as_they_were(engine, log):
    """A rebuild is one transaction: readers see the old rows until the rebuilt ones replace them."""
    log.append(events(30, keys=4))
    Runner(engine, log, [Tally()], batch_size=7).setup()
    Runner(engine, log, [Tally()], batch_size=7).catch_up()
    live = Tally().totals(engine)
    dying = Runner(engine, log, [Tally(fail_at=20)], batch_size=7)
    positions_before = [s.applied for s in dying.status()]
    with pytest.raises(SimulatedCrash):
        dying.rebuild(["tally"])
    assert Tally().totals(engine) == live
    assert [s.applied for s in dying.status()] == positions_before


def test_a_live_runner_passes_over_a_projection_being_rebuilt_and_feeds_the_others(engine):
    """PostgreSQL: the rebuild holds its projection's positions; a live runner neither waits for
    it nor applies that projection's events beside it (SQLite: the rebuild holds the one write lock)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: a live runner waits for the rebuild's write lock")

    class Other(Tally):
        name = "other"

    log = MemoryLog(partitions=1)
    log.append(events(10, keys=2))
    tally, other = Tally(), Other()
    runner = Runner(engine, log, [tally, other])
    runner.setup()
    with engine.connect() as rebuilding:  # as a rebuild of "tally" holds it until its commit
        rebuilding.execute(
            sa.select(tracking.positions).where(tracking.positions.c.projection == "tally").with_for_update()
        ).all()
        assert runner.run_once() == 10, "the other projection is fed"
        rebuilding.rollback()
    assert {s.projection: s.applied for s in runner.status()} == {"tally": 0, "other": 10}


def test_runners_on_disjoint_partitions_together_apply_the_whole_log(engine):
    log = MemoryLog(partitions=4)
    log.append(events(40, keys=8))
    tally = Tally()
    first = Runner(engine, log, [tally], partitions=[0, 1])
    second = Runner(engine, log, [Tally()], partitions=[2, 3])
    first.setup()
    first.catch_up()
    second.catch_up()
    assert sum(tally.totals(engine).values()) == 40
    assert all(s.lag == 0 for s in first.status())


def test_a_runner_refuses_a_partition_the_log_does_not_have(engine):
    with pytest.raises(ValueError):
        Runner(engine, MemoryLog(partitions=2), [Tally()], partitions=[2])


def test_an_event_a_projection_cannot_apply_is_set_aside_and_the_rest_goes_on(engine, log):
    poison = Event(type="counted", key="k0", data={"poison": True})
    log.append(events(5, keys=1) + [poison] + events(4, keys=1))
    tally = Tally()
    runner = Runner(engine, log, [tally], batch_size=4)
    runner.setup()
    runner.catch_up()
    assert tally.totals(engine) == {"k0": 9}, "every other event applied, each once"
    assert all(s.lag == 0 for s in runner.status())
    with engine.connect() as conn:
        assert tracking.dead_letter_counts(conn) == {"tally": 1}
        (letter,) = conn.execute(sa.select(tracking.dead_letters)).all()
    assert letter.event_id == poison.id and "ValueError" in letter.error
    assert runner.rebuild(["tally"]) == 10 and tally.totals(engine) == {"k0": 9}
    with engine.connect() as conn:
        assert tracking.dead_letter_counts(conn) == {"tally": 1}, "a rebuild sets it aside again, once"


def test_a_record_that_is_not_a_polku_event_is_set_aside_for_every_projection(engine):
    class Strangers(MemoryLog):
        def read(self, partition, offset, limit=500):
            return [
                r if r.offset != 2 else Record(r.partition, r.offset, decode(b'{"hello": "world"}'))
                for r in super().read(partition, offset, limit)
            ]

    log = Strangers()
    log.append(events(5, keys=1))
    tally = Tally()
    runner = Runner(engine, log, [tally])
    runner.setup()
    runner.catch_up()
    assert tally.totals(engine) == {"k0": 4}
    with engine.connect() as conn:
        (letter,) = conn.execute(sa.select(tracking.dead_letters)).all()
    assert letter.log_offset == 2 and "not a Polku event" in letter.error


def test_the_runner_thread_survives_an_unexpected_error(engine):
    class Flaky(MemoryLog):
        failures = 2

        def end(self, partition):
            if Flaky.failures:
                Flaky.failures -= 1
                raise RuntimeError("something nobody foresaw")
            return super().end(partition)

    log = Flaky()
    log.append(events(3, keys=1))
    tally = Tally()
    runner = Runner(engine, log, [tally])
    runner.setup()
    runner.start(idle_sleep=0.01)
    try:
        deadline = time.monotonic() + 20
        while tally.totals(engine) != {"k0": 3} and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        runner.stop()
    assert tally.totals(engine) == {"k0": 3}


def test_runners_setting_up_at_once_all_succeed_and_record_each_position_once(engine):
    log = MemoryLog(partitions=4)
    runners = [Runner(engine, log, [Tally()]) for _ in range(6)]
    start = threading.Barrier(len(runners))
    errors: list[BaseException] = []

    def set_up(runner):
        start.wait()
        try:
            runner.setup()
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=set_up, args=(r,)) for r in runners]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert [(s.projection, s.partition, s.applied) for s in runners[0].status()] == [("tally", p, 0) for p in range(4)]


def test_setting_up_again_keeps_the_positions_already_applied(engine):
    log = MemoryLog(partitions=2)
    log.append(events(10))
    runner = Runner(engine, log, [Tally()])
    runner.setup()
    runner.catch_up()
    before = runner.status()
    Runner(engine, log, [Tally()]).setup()
    assert runner.status() == before and sum(s.applied for s in before) == 10
