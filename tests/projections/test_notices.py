"""Writes waiting for a projection worker in another process are woken by its commit
(projections/notices.py): a notice is sent by the runner's transaction, delivered when it
commits and never for one rolled back, and a listener that lost its connection listens again."""

from __future__ import annotations

import pytest

from events import Event
from events.memory import MemoryLog
from events.sql import make_engine
from projections import notices
from projections.notices import Listener
from projections.registry import all_projections
from projections.runner import Runner
from tests.fixtures.databases import upgrade

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_engine(postgres_url):
    engine = make_engine(postgres_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def listener(pg_engine):
    listening = Listener(pg_engine).start()
    yield listening
    listening.stop()


def notified(listener: Listener, timeout: float) -> bool:
    with listener.condition:
        return listener.condition.wait(timeout)


def settle(listener: Listener, engine) -> None:
    """Wait until the listener is listening: a notice sent before that is not delivered to it."""
    for _ in range(100):
        with engine.begin() as conn:
            notices.announce(conn)
        if notified(listener, 0.2):
            return
    raise AssertionError("the listener never heard a notice")


def test_a_committed_runner_batch_wakes_the_waiting_writes(listener, pg_engine):
    settle(listener, pg_engine)
    log = MemoryLog(partitions=1)
    runner = Runner(pg_engine, log, all_projections())
    runner.setup()
    log.append([Event(type="test.happened", key="k", data={})])
    with listener.condition:
        assert runner.run_once() == len(runner.projections)
        assert listener.condition.wait(30), "the commit's notice reached the listener"


def test_a_rolled_back_transaction_wakes_nobody(listener, pg_engine):
    settle(listener, pg_engine)
    with pg_engine.connect() as conn:
        with conn.begin() as transaction:
            notices.announce(conn)
            transaction.rollback()
    assert not notified(listener, 1.0)


def test_a_listener_whose_connection_was_cut_listens_again(listener, pg_engine):
    settle(listener, pg_engine)
    with pg_engine.begin() as conn:
        conn.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE query LIKE 'LISTEN%%' AND pid <> pg_backend_pid() AND datname = current_database()"
        )
    settle(listener, pg_engine)
