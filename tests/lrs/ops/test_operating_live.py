"""Operating Polku over real HTTP (issue 10): /ready goes 503 naming the check when the database
is cut or the broker stopped and back to 200 when they return; /metrics sums the counts of two
gunicorn workers; the request id reaches the JSON log lines; the access log holds no secret;
deploy/gunicorn.conf.py runs on the settings `polku serve` reads."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.fixtures.proxy import TcpProxy
from tests.fixtures.server import ROOT, free_port, make_lrs
from tests.fixtures.statements_builders import statement

V2 = {"X-Experience-API-Version": "2.0.0"}


def wait_for_ready(base: str, status: int, timeout: float = 60) -> dict:
    """Poll GET /ready once a second (as a load balancer would) until it answers ``status``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = requests.get(base + "/ready", timeout=15)
            if response.status_code == status:
                return response.json()
            seen = f"{response.status_code} {response.text[:300]}"
        except requests.RequestException as exc:
            seen = repr(exc)
        assert time.monotonic() < deadline, f"/ready did not answer {status} in {timeout}s; last: {seen}"
        time.sleep(1)


@pytest.mark.postgres
def test_ready_is_503_naming_the_database_while_it_is_cut_and_200_once_it_returns(fresh_lrs, postgres_url):
    port = free_port()
    with TcpProxy(port, ("127.0.0.1", 5432)) as proxy:
        url = postgres_url.replace("127.0.0.1:5432", f"127.0.0.1:{port}")
        lrs = fresh_lrs("embedded", POLKU_DATABASE_URL=url, POLKU_DB_CONNECT_TIMEOUT_S="2")
        base = f"http://127.0.0.1:{lrs.port}"
        assert wait_for_ready(base, 200)["failing"] == []

        proxy.cut()
        body = wait_for_ready(base, 503, timeout=30)
        assert "database" in body["failing"]
        assert body["checks"]["database"]["ok"] is False
        assert "5432" not in json.dumps(body) and str(port) not in json.dumps(body), "no address of the database"
        assert requests.get(base + "/health", timeout=5).status_code == 200, "the process still answers"

        proxy.restore()
        assert wait_for_ready(base, 200)["failing"] == []
        lrs.kill()


@pytest.mark.postgres
@pytest.mark.kafka
def test_ready_is_503_naming_the_log_while_the_broker_is_stopped_and_200_once_it_returns(fresh_lrs, private_broker):
    lrs = fresh_lrs("scale-out", POLKU_KAFKA_BOOTSTRAP_SERVERS=private_broker.bootstrap, POLKU_LOG_TIMEOUT_S="3")
    base = f"http://127.0.0.1:{lrs.port}"
    assert wait_for_ready(base, 200)["failing"] == []
    scraper = lrs.create_credential("metrics", name="prometheus")

    private_broker.stop()
    body = wait_for_ready(base, 503, timeout=60)
    assert "log" in body["failing"]
    assert private_broker.bootstrap not in json.dumps(body), "no address of the broker"
    refused = requests.post(lrs.endpoint + "/statements", json=statement(), auth=lrs.auth, headers=V2, timeout=60)
    assert refused.status_code == 503
    metrics = requests.get(base + "/metrics", auth=scraper, timeout=30).text
    assert _sample(metrics, "polku_http_unavailable_total", cause="log") >= 1, "the 503 is counted by its cause"
    assert _sample(metrics, "polku_append_failures_total", cause="log_unavailable") >= 1

    private_broker.start()
    assert wait_for_ready(base, 200, timeout=90)["failing"] == []
    lrs.kill()


def _sample(text: str, name: str, **labels: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


# ---- two gunicorn workers, JSON logs ---------------------------------------------------------------


@pytest.fixture(scope="module")
def two_workers(request, tmp_path_factory):
    """`polku serve --workers 2` (gunicorn) with JSON logs and a metrics folder the test can see."""
    tmp = tmp_path_factory.mktemp("two-workers")
    metrics_dir = tmp / "metrics"
    extra = {"POLKU_WORKERS": "2", "POLKU_LOG_FORMAT": "json", "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    lrs = make_lrs(tmp, "embedded", request, extra)
    lrs.metrics_dir = metrics_dir
    lrs.scraper = lrs.create_credential("metrics", name="prometheus")
    yield lrs
    lrs.kill(signal.SIGTERM)


def _pids_counted(folder: Path) -> set[str]:
    """The processes that have written counters (prometheus_client names the files by pid)."""
    return {p.stem.rsplit("_", 1)[1] for p in folder.glob("counter_*.db")}


def test_metrics_under_two_gunicorn_workers_sum_the_requests_both_served(two_workers):
    lrs = two_workers
    base = f"http://127.0.0.1:{lrs.port}"

    def route_count(text: str) -> float:
        return _sample(text, "polku_http_requests_total", route="/health", status="200")

    before = route_count(requests.get(base + "/metrics", auth=lrs.scraper, timeout=30).text)
    sent = 0
    lock = threading.Lock()

    def client(n: int) -> None:
        nonlocal sent
        for _ in range(n):
            with requests.Session() as fresh:  # a new connection each time: either worker may take it
                assert fresh.get(base + "/health", headers={"Connection": "close"}, timeout=30).status_code == 200
            with lock:
                sent += 1

    deadline = time.monotonic() + 60
    while len(_pids_counted(lrs.metrics_dir)) < 2:
        assert time.monotonic() < deadline, "one worker took every request"
        threads = [threading.Thread(target=client, args=(5,)) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for _ in range(6):  # whichever worker answers the scrape, it reports both workers' counts
        with requests.Session() as fresh:
            text = fresh.get(base + "/metrics", auth=lrs.scraper, headers={"Connection": "close"}, timeout=30).text
        assert route_count(text) == before + sent


def test_statements_appended_move_with_posts_under_two_workers(two_workers):
    lrs = two_workers
    base = f"http://127.0.0.1:{lrs.port}"
    before = _sample(requests.get(base + "/metrics", auth=lrs.scraper, timeout=30).text, "polku_statements_appended_total")
    for _ in range(4):
        assert requests.post(lrs.endpoint + "/statements", json=[statement(), statement()], auth=lrs.auth, headers=V2, timeout=30).status_code == 200
    after = _sample(requests.get(base + "/metrics", auth=lrs.scraper, timeout=30).text, "polku_statements_appended_total")
    assert after == before + 8


def _json_lines(lrs) -> list[dict]:
    text = (lrs.log_dir / "serve.log").read_text(errors="replace")
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_the_request_id_is_echoed_and_in_the_json_access_log_line_without_any_secret(two_workers):
    lrs = two_workers
    response = requests.post(
        lrs.endpoint + "/statements", json=statement(), auth=lrs.auth, headers=V2 | {"X-Request-ID": "e2e-request-42"}, timeout=30
    )
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "e2e-request-42"
    made = requests.get(lrs.endpoint + "/about", timeout=30).headers["X-Request-ID"]
    deadline = time.monotonic() + 10
    while True:
        lines = _json_lines(lrs)
        mine = [entry for entry in lines if entry.get("request_id") == "e2e-request-42" and entry["logger"] == "polku.access"]
        generated = [entry for entry in lines if entry.get("request_id") == made]
        if mine and generated:
            break
        assert time.monotonic() < deadline, "no JSON access log line with the request id"
        time.sleep(0.2)
    assert (mine[0]["method"], mine[0]["route"], mine[0]["status"]) == ("POST", "/xapi/statements", 200)
    assert "duration_ms" in mine[0]
    text = (lrs.log_dir / "serve.log").read_text(errors="replace")
    serving = text.split("Credentials exist already", 1)[-1]  # what the server logged once serving
    assert lrs.secret not in serving and "Authorization" not in serving and "Basic " not in serving
    # past the banner polku serve prints (its last line is the credentials one), every line is JSON
    others = [line for line in serving.splitlines()[1:] if line.strip() and not line.startswith("{")]
    assert not others, others


def test_a_worker_that_dies_stops_counting_in_the_live_gauges_and_its_counts_stay(two_workers):
    lrs = two_workers
    base = f"http://127.0.0.1:{lrs.port}"
    gauges = {p.stem.rsplit("_", 1)[1] for p in lrs.metrics_dir.glob("gauge_livesum_*.db")}
    assert len(gauges) >= 2, "both workers have reported their pool"
    total_before = _sample(requests.get(base + "/metrics", auth=lrs.scraper, timeout=30).text, "polku_http_requests_total", route="/health")
    victim = int(sorted(gauges)[0])
    os.kill(victim, signal.SIGKILL)  # gunicorn starts another; its child_exit hook drops the dead one's live gauges
    deadline = time.monotonic() + 30
    while (lrs.metrics_dir / f"gauge_livesum_{victim}.db").exists():
        assert time.monotonic() < deadline, "the dead worker's live gauges were not dropped"
        time.sleep(0.2)
    after = requests.get(base + "/metrics", auth=lrs.scraper, timeout=30).text
    assert _sample(after, "polku_http_requests_total", route="/health") >= total_before, "counters keep what the dead worker counted"


def test_gunicorn_conf_reads_the_settings_polku_serve_reads(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLKU_")} | {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "m")}
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))

    def printed(**polku: str) -> dict[str, str]:
        done = subprocess.run(
            [gunicorn, "--print-config", "-c", "deploy/gunicorn.conf.py", "lrs.app:create_app()"],
            env=env | polku, cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
        )
        return {k.strip(): v.strip() for k, _, v in (line.partition("=") for line in done.stdout.splitlines()) if v}

    defaults = printed()
    assert defaults["bind"] == "['127.0.0.1:8080']" and defaults["workers"] == "1", "the defaults of polku serve"
    assert defaults["child_exit"].startswith("<child_exit"), "a stopped worker's gauges are dropped"
    chosen = printed(POLKU_HOST="0.0.0.0", POLKU_PORT="8111", POLKU_WORKERS="3", POLKU_THREADS="4")
    assert chosen["bind"] == "['0.0.0.0:8111']"
    assert (chosen["workers"], chosen["threads"]) == ("3", "4")
    assert chosen["control_socket"].endswith("polku-gunicorn-8111.ctl"), "one control socket per instance"
    assert printed(POLKU_GUNICORN_CONTROL_SOCKET="off")["control_socket_disable"] == "True"


def test_a_projection_worker_counts_the_events_it_applies_on_its_metrics_port(fresh_lrs):
    lrs = fresh_lrs("embedded", POLKU_RUN_PROJECTIONS="false")  # only the worker applies
    port = free_port()
    out = open(lrs.log_dir / "project.log", "ab")
    worker = subprocess.Popen(
        [sys.executable, "-m", "lrs.cli", "project", "--metrics-port", str(port)],
        env=lrs.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
    )
    lrs.processes["project"] = worker
    assert requests.post(lrs.endpoint + "/statements", json=[statement(), statement()], auth=lrs.auth, headers=V2, timeout=30).status_code == 200
    deadline = time.monotonic() + 30
    while True:
        try:
            text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            if _sample(text, "polku_projection_events_applied_total", projection="statements", partition="0") >= 2:
                break
        except requests.ConnectionError:
            pass  # not listening yet
        assert worker.poll() is None, lrs.logs()
        assert time.monotonic() < deadline, "the worker's metrics never counted the events"
        time.sleep(0.3)
