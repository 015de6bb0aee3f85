"""Faults of a real Apache Kafka broker under load, over real HTTP, with the counts reconciled
(issue 8): a killed broker, a paused broker, and a broker or database that is not up yet when
Polku starts. Nothing answered 200 is lost or doubled; nothing hangs past its bound; nothing
needs a restart to recover."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
import requests

from tests.fixtures.proxy import TcpProxy
from tests.lrs.statements.test_durability import read_all
from tests.fixtures.server import free_port
from tests.fixtures.statements_builders import statement

pytestmark = [pytest.mark.postgres, pytest.mark.kafka]

V2 = {"X-Experience-API-Version": "2.0.0"}
LOG_TIMEOUT_S = 3.0
#: How far past POLKU_LOG_TIMEOUT_S a refused append may take: the HTTP round trip, the guard's
#: look at the positions, a worker busy with the request before.
SLACK_S = 5.0


@dataclass
class Outcome:
    id: str
    status: int
    seconds: float
    retry_after: str | None
    started: float


@dataclass
class Load:
    """Clients POSTing one statement at a time until stopped, every answer recorded."""

    lrs: object
    clients: int = 4
    outcomes: list[Outcome] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> "Load":
        for n in range(self.clients):
            thread = threading.Thread(target=self._client, args=(n,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _client(self, n: int) -> None:
        session = requests.Session()
        session.auth = self.lrs.auth
        deadline = time.monotonic() + 300  # bounded, whatever happens
        while not self._stop.is_set() and time.monotonic() < deadline:
            body = statement(actor=f"client{n}-{len(self.outcomes) % 7}")
            started = time.monotonic()
            try:
                response = session.post(self.lrs.endpoint + "/statements", json=body, headers=V2, timeout=60)
                status, retry_after = response.status_code, response.headers.get("Retry-After")
            except requests.RequestException:
                status, retry_after = 0, None
            with self._lock:
                self.outcomes.append(Outcome(body["id"], status, time.monotonic() - started, retry_after, started))
            if status == 503:
                time.sleep(0.2)

    def stop(self) -> list[Outcome]:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=90)
        return self.outcomes


def read_all_ids(lrs) -> list[str]:
    return [s["id"] for s in read_all(lrs)]


def reconcile(lrs, outcomes: list[Outcome], timeout: float = 60) -> list[str]:
    """Every id answered 200 is readable exactly once; returns what the store holds."""
    acknowledged = {o.id for o in outcomes if o.status == 200}
    deadline = time.monotonic() + timeout
    while True:
        ids = read_all_ids(lrs)
        if acknowledged <= set(ids) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    doubled = [i for i, n in Counter(ids).items() if n > 1]
    assert not doubled, f"{len(doubled)} statement(s) stored twice"
    missing = acknowledged - set(ids)
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged statement(s) never became readable"
    return ids


def answers_after(lrs, since: float, outcomes: list[Outcome]) -> list[Outcome]:
    return [o for o in outcomes if o.started >= since]


def test_broker_killed_under_load_and_restarted_on_its_storage_loses_and_doubles_nothing(fresh_lrs, private_broker):
    lrs = fresh_lrs("scale-out", POLKU_KAFKA_BOOTSTRAP_SERVERS=private_broker.bootstrap, POLKU_LOG_TIMEOUT_S=str(LOG_TIMEOUT_S))
    load = Load(lrs).start()
    time.sleep(3)
    private_broker.kill()  # kill -9: no clean shutdown
    killed = time.monotonic()
    time.sleep(2 * LOG_TIMEOUT_S + 2)
    private_broker.start()  # the same storage, the same port
    back = time.monotonic()
    time.sleep(8)
    outcomes = load.stop()

    before = [o for o in outcomes if o.started < killed]
    # answered while the broker was down: all 503 (a write may wait for the group ahead of it,
    # then its own append: at most two log timeouts)
    during = [o for o in outcomes if killed + 0.5 <= o.started and o.started + o.seconds < back]
    assert sum(o.status == 200 for o in before) >= 10, "the load ran before the fault"
    assert during and all(o.status == 503 for o in during), Counter(o.status for o in during)
    assert all(o.retry_after for o in during), "a 503 says when to retry"
    slowest = max(o.seconds for o in during)
    assert slowest <= 2 * LOG_TIMEOUT_S + SLACK_S, f"a refused append took {slowest:.1f}s"
    assert any(o.status == 200 for o in answers_after(lrs, back + 3, outcomes)), "writes resume without a restart"
    assert all(p.poll() is None for p in lrs.processes.values()), "no process died"
    reconcile(lrs, outcomes)


def test_broker_paused_for_30s_then_resumed_is_recovered_without_restarting_polku(fresh_lrs, private_broker):
    lrs = fresh_lrs("scale-out", POLKU_KAFKA_BOOTSTRAP_SERVERS=private_broker.bootstrap, POLKU_LOG_TIMEOUT_S=str(LOG_TIMEOUT_S))
    pids = {name: p.pid for name, p in lrs.processes.items()}
    load = Load(lrs).start()
    time.sleep(3)
    known = next(o.id for o in load.outcomes if o.status == 200)
    reads: list[tuple[int, float]] = []
    reading = threading.Event()

    def read_while_paused() -> None:
        with requests.Session() as session:
            while not reading.is_set():
                began = time.monotonic()
                got = session.get(lrs.endpoint + "/statements", params={"statementId": known}, auth=lrs.auth, headers=V2, timeout=60)
                reads.append((got.status_code, time.monotonic() - began))
                time.sleep(0.2)

    private_broker.pause()  # SIGSTOP: connections stay open, nothing answers
    paused = time.monotonic()
    reader = threading.Thread(target=read_while_paused, daemon=True)
    reader.start()
    time.sleep(30)
    reading.set()
    reader.join(timeout=60)
    private_broker.resume()
    resumed = time.monotonic()
    time.sleep(20)
    outcomes = load.stop()

    # reads come from the statement store: a broker that does not answer never holds them for
    # the log's timeout (the watermark asks the log for its end only briefly)
    assert reads and all(status == 200 for status, _ in reads), Counter(status for status, _ in reads)
    assert max(seconds for _, seconds in reads) < LOG_TIMEOUT_S, sorted(seconds for _, seconds in reads)[-5:]

    # nothing is acknowledged while the broker cannot take it: every answer given during the
    # pause is a 503. A write may wait for the group ahead of it (group commit) and then its
    # own append: at most two log timeouts.
    during = [o for o in outcomes if paused + 0.5 <= o.started and o.started + o.seconds < resumed]
    assert during and all(o.status == 503 for o in during), Counter(o.status for o in during)
    assert max(o.seconds for o in during) <= 2 * LOG_TIMEOUT_S + SLACK_S, "never a hang"
    recovered = [o for o in answers_after(lrs, resumed, outcomes) if o.status == 200]
    assert recovered, "the HTTP worker appends again without a restart"
    first_ok = min(o.started + o.seconds for o in recovered) - resumed
    assert first_ok < 15, f"recovered {first_ok:.1f}s after the broker"
    late = answers_after(lrs, resumed + 15, outcomes)
    assert late and all(o.status == 200 for o in late), Counter(o.status for o in late)
    assert {name: p.pid for name, p in lrs.processes.items()} == pids and all(p.poll() is None for p in lrs.processes.values())
    reconcile(lrs, outcomes)  # the projection worker applied everything, also without a restart


def test_serve_and_project_started_before_the_broker_wait_and_come_up_when_it_does(fresh_lrs, private_broker, tmp_path):
    lrs = fresh_lrs("scale-out", POLKU_KAFKA_BOOTSTRAP_SERVERS=private_broker.bootstrap, POLKU_LOG_TIMEOUT_S="2")
    lrs.kill()
    private_broker.kill()
    lrs.spawn("serve")
    lrs.spawn("project")
    time.sleep(8)
    assert all(p.poll() is None for p in lrs.processes.values()), f"a process gave up:\n{lrs.logs()}"
    private_broker.start()
    lrs.wait_ready(timeout=90)
    body = statement()
    response = requests.post(lrs.endpoint + "/statements", json=body, auth=lrs.auth, headers=V2, timeout=60)
    assert response.status_code == 200, response.text
    for name in ("serve", "project"):
        lines = [line for line in (lrs.log_dir / f"{name}.log").read_text().splitlines() if "not reachable (attempt" in line]
        assert len(lines) >= 2, f"polku {name} says once per attempt that it waits:\n{lrs.logs()}"
        assert "LogUnavailable" in lines[0]


def test_serve_and_project_started_before_the_database_wait_and_come_up_when_it_does(fresh_lrs, kafka_bootstrap, tmp_path):
    lrs = fresh_lrs("scale-out")
    lrs.kill()
    # a database server that is not there yet: a port where nothing listens, until a proxy opens it
    port = free_port()
    real = lrs.env["POLKU_DATABASE_URL"]
    lrs.env["POLKU_DATABASE_URL"] = real.replace("127.0.0.1:5432", f"127.0.0.1:{port}")
    lrs.spawn("serve")
    lrs.spawn("project")
    time.sleep(5)
    assert all(p.poll() is None for p in lrs.processes.values()), f"a process gave up:\n{lrs.logs()}"
    with TcpProxy(port, ("127.0.0.1", 5432)):
        lrs.wait_ready(timeout=90)
        body = statement()
        response = requests.post(lrs.endpoint + "/statements", json=body, auth=lrs.auth, headers=V2, timeout=60)
        assert response.status_code == 200, response.text
        waited = (lrs.log_dir / "serve.log").read_text()
        assert "not reachable (attempt 2)" in waited and "OperationalError" in waited
        lrs.kill()


def test_a_record_on_the_topic_that_is_not_a_polku_event_is_set_aside_and_the_rest_goes_on(fresh_lrs, kafka_bootstrap):
    from kafka import KafkaProducer

    lrs = fresh_lrs("scale-out")
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    for partition in range(4):  # whichever partition the next statement lands in
        producer.send(lrs.env["POLKU_KAFKA_TOPIC"], value=b'{"hello": "a stranger wrote this"}', partition=partition).get(timeout=30)
    producer.close()
    body = statement()
    response = requests.post(lrs.endpoint + "/statements", json=body, auth=lrs.auth, headers=V2, timeout=60)
    assert response.status_code == 200, response.text
    found = requests.get(lrs.endpoint + "/statements", params={"statementId": body["id"]}, auth=lrs.auth, headers=V2, timeout=30)
    assert found.status_code == 200, "the projection worker went on past the stranger's records"
    status = lrs.cli("projections", "status")
    assert "SET ASIDE: 4 event(s) statements could not apply" in status.stdout
    assert all(p.poll() is None for p in lrs.processes.values())


def test_serve_and_project_started_at_once_on_a_fresh_database_come_up_five_times_in_a_row(fresh_lrs, kafka_bootstrap, request):
    from tests.fixtures.databases import reset_postgres

    lrs = fresh_lrs("scale-out")
    for attempt in range(5):
        lrs.kill()
        reset_postgres(lrs.env["POLKU_DATABASE_URL"])  # as compose and systemd meet a new database
        lrs.env["POLKU_KAFKA_TOPIC"] = f"{lrs.env['POLKU_KAFKA_TOPIC'].split('-')[0]}-{attempt}"
        lrs.spawn("serve")
        lrs.spawn("project")  # at the same moment: both migrate, under the database's lock
        lrs.wait_ready(timeout=90)
        lrs.key, lrs.secret = lrs.create_credential(name=f"attempt-{attempt}")
        body = statement()
        response = requests.post(lrs.endpoint + "/statements", json=body, auth=lrs.auth, headers=V2, timeout=60)
        assert response.status_code == 200, f"attempt {attempt + 1}: {response.text}\n{lrs.logs()}"
        assert all(p.poll() is None for p in lrs.processes.values()), f"attempt {attempt + 1}:\n{lrs.logs()}"


def test_a_topic_kafka_refuses_is_a_clear_error_at_start_not_an_endless_wait(fresh_lrs, kafka_bootstrap):
    lrs = fresh_lrs("scale-out")
    lrs.kill()
    lrs.env["POLKU_KAFKA_TOPIC"] = "statements~with~an~invalid~name"
    done = lrs.cli("serve", "--port", str(lrs.port), check=False)
    assert done.returncode != 0
    assert "statements~with~an~invalid~name" in done.stderr and "InvalidTopicError" in done.stderr
    assert "not reachable" not in done.stderr, "a setting no retry can fix is not waited for"


def test_with_the_projection_worker_stopped_a_post_answers_quickly_and_reads_stay_fast(fresh_lrs):
    lrs = fresh_lrs("scale-out", POLKU_THREADS="4", POLKU_CONSISTENCY_STALL_S="1")
    lrs.kill(only="project")
    session = requests.Session()
    session.auth = lrs.auth
    posted, took = [], []
    for _ in range(3):
        body = statement()
        started = time.monotonic()
        response = session.post(lrs.endpoint + "/statements", json=body, headers=V2, timeout=60)
        took.append(time.monotonic() - started)
        assert response.status_code == 200, "the log accepted it: acknowledged"
        posted.append(body)
    assert max(took) < 5, f"a POST waited {max(took):.1f}s for a worker that is not there"

    # writers that wait cannot take every request thread: a read is answered meanwhile
    load = Load(lrs, clients=6).start()
    time.sleep(1)
    started = time.monotonic()
    read = session.get(lrs.endpoint + "/statements", params={"limit": 1}, headers=V2, timeout=60)
    read_took = time.monotonic() - started
    load.stop()
    assert read.status_code == 200 and read_took < 5, f"a read took {read_took:.1f}s"

    lrs.spawn("project")
    reconcile(lrs, load.outcomes + [Outcome(b["id"], 200, 0, None, 0) for b in posted])
