"""The log never silently goes backwards (docs/design.md, invariant 8): the guard notices another log, or
a log that ends below an applied position, and the runner applies nothing until an operator
accepts the new log."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from events.memory import MemoryLog
from events.sql import SqlLog, log_table
from projections import tracking
from projections.log_guard import LogGuard, LogMismatch
from projections.runner import Runner
from projections import statements as store
from projections.statements import StatementStore
from tests.fixtures.statements_builders import statement
from tests.projections.test_statement_store import stored_event as _stored


def stored_event():
    return _stored(statement())


def world(engine, log):
    guard = LogGuard(engine, log, max_age=0)
    runner = Runner(engine, log, [StatementStore()], guard=guard)
    runner.setup()
    return guard, runner


def test_the_first_look_records_the_log_and_finds_no_problem(engine):
    log = SqlLog(engine)
    guard, _runner = world(engine, log)
    assert guard.problem() is None
    with engine.connect() as conn:
        assert tracking.recorded_log(conn) == log.identity()


def test_another_log_is_a_problem_that_names_both_and_the_way_out(engine):
    guard, runner = world(engine, MemoryLog())
    assert guard.problem() is None
    stranger = MemoryLog()
    other_guard, _ = world(engine, stranger)
    problem = other_guard.problem()
    assert problem and "not the one Polku projects" in problem
    assert stranger.identity() in problem and "polku log accept" in problem
    with pytest.raises(LogMismatch):
        other_guard.check()


def test_a_partition_that_ends_below_an_applied_position_is_a_problem(engine):
    log = SqlLog(engine)
    guard, runner = world(engine, log)
    log.append([stored_event() for _ in range(5)])
    runner.catch_up()
    with engine.begin() as conn:  # an older backup of the log comes back: its last events are gone
        conn.execute(log_table.delete().where(log_table.c.log_offset >= 3))
    problem = guard.refresh()
    assert problem and "went backwards" in problem and "partition 0" in problem


def test_an_append_at_an_offset_below_an_applied_position_is_refused(engine):
    log = MemoryLog()
    guard, runner = world(engine, log)
    positions = log.append([stored_event() for _ in range(3)])
    runner.catch_up()
    highest = guard.check()
    assert highest == {0: 3}
    with pytest.raises(LogMismatch, match="went backwards"):
        guard.check_positions([positions[0]], highest)


def test_the_runner_applies_nothing_from_a_log_that_is_not_the_recorded_one(engine):
    guard, runner = world(engine, MemoryLog())
    assert guard.problem() is None
    stranger = MemoryLog()
    stranger.append([stored_event() for _ in range(4)])
    _, other_runner = world(engine, stranger)
    assert other_runner.run_once() == 0
    with engine.connect() as conn:
        assert tracking.applied(conn, "statements")[0].next_offset == 0


def test_accepting_the_new_log_and_rebuilding_clears_the_problem(engine):
    log = MemoryLog()
    guard, runner = world(engine, log)
    log.append([stored_event() for _ in range(6)])
    runner.catch_up()
    stranger = MemoryLog()
    stranger.append([stored_event() for _ in range(2)])
    new_guard, new_runner = world(engine, stranger)
    assert new_guard.problem()

    assert new_runner.accept_log() == (stranger.identity(), 2)
    assert new_guard.refresh() is None
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(store.statements)).scalar() == 2


def test_a_stale_answer_is_renewed_in_the_background(engine):
    guard, _runner = world(engine, SqlLog(engine))
    assert guard.problem() is None
    with engine.begin() as conn:
        tracking.record_log(conn, "sql:another", "2026-01-01T00:00:00.000000Z")
    deadline = time.monotonic() + 5
    while guard.problem() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "not the one Polku projects" in (guard.problem() or "")


def test_a_refresh_asked_for_during_a_background_look_looks_again(engine):
    """A look that began before the log went backwards cannot vouch for it: refresh() looks again."""
    import threading

    class Held(MemoryLog):
        """Its end() answers at once, then holds the caller until released (when armed)."""

        def __init__(self):
            super().__init__()
            self.armed, self.reading, self.release = False, threading.Event(), threading.Event()

        def end(self, partition):
            answer = super().end(partition)
            if self.armed:
                self.armed = False
                self.reading.set()
                self.release.wait(10)
            return answer

    log = Held()
    log.append([stored_event() for _ in range(5)])
    guard, runner = world(engine, log)
    runner.catch_up()
    assert guard.refresh() is None
    guard.max_age = 0
    log.armed = True
    guard.problem()  # starts a background look, which reads the end and is held there
    assert log.reading.wait(10)
    with log._lock:  # the log goes backwards meanwhile
        del log._partitions[0][3:]
    answer: list = []
    asking = threading.Thread(target=lambda: answer.append(guard.refresh()))
    asking.start()
    time.sleep(0.2)  # let refresh() queue behind the background look (passes either way if not)
    log.release.set()
    asking.join(10)
    assert answer and answer[0] and "went backwards" in answer[0]
