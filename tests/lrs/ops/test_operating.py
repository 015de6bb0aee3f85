"""Operating Polku, in-process (issue 10): the health and readiness probes, /metrics behind its
scope, the request id, the access log and the JSON log format, the repeat filter for noisy
libraries, `polku config` and `polku --version`. What needs a real process (a database or a
broker taken away, several gunicorn workers) is in test_operating_live.py."""

from __future__ import annotations

import base64
import json
import logging

import pytest
from click.testing import CliRunner

from lrs.app import create_app
from lrs.cli import main
from lrs.ops.logs import JsonFormatter, RepeatFilter, RequestIdFilter, request_id_from
from lrs.config.settings import Settings
from projections import tracking
from tests.fixtures.credentials import basic
from tests.fixtures.statements_builders import statement

V2 = {"X-Experience-API-Version": "2.0.0"}


@pytest.fixture
def polku(sqlite_url):
    """An app of its own, a client, and a way to make credentials."""

    def build(**settings):
        app = create_app(Settings(database_url=sqlite_url, **settings))
        services = app.extensions["polku"]

        def credential(scopes: str) -> dict[str, str]:
            made, secret = services.credentials.create(scopes, set(scopes.split(",")))
            return basic(made.key, secret)

        built.append(services)
        return app, app.test_client(), credential

    built: list = []
    yield build
    for services in built:
        services.close()


# ---- /health and /ready ----------------------------------------------------------------------------


def test_health_answers_200_without_credentials(polku):
    _, client, _ = polku()
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_ready_is_200_with_one_passing_entry_per_check_without_credentials(polku):
    _, client, _ = polku()
    response = client.get("/ready")
    assert response.status_code == 200, response.json
    assert set(response.json["checks"]) == {"database", "log", "log_identity", "projections", "dead_letters", "retention"}
    assert all(check["ok"] for check in response.json["checks"].values())
    assert response.json["failing"] == []


def test_ready_is_503_naming_projections_when_the_lag_passes_the_threshold(polku):
    _, client, credential = polku(run_projections=False, ready_max_lag=0, consistency_wait_s=0.1, consistency_stall_s=0.05)
    writer = credential("all")
    assert client.post("/xapi/statements", json=statement(), headers=V2 | writer).status_code == 200
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.json["failing"] == ["projections"]
    detail = response.json["checks"]["projections"]["detail"]
    assert detail.startswith("lag ") and not detail.startswith("lag 0") and detail.endswith("threshold 0"), detail


def test_ready_is_503_naming_dead_letters_while_an_event_is_set_aside(polku):
    app, client, _ = polku()
    with app.extensions["polku"].engine.begin() as conn:
        tracking.set_aside(conn, "statements", 0, 7, "e1", "statement.stored", "ValueError: x", "2026-01-01T00:00:00Z")
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.json["failing"] == ["dead_letters"]
    assert "statements: 1" in response.json["checks"]["dead_letters"]["detail"]


def test_ready_is_503_naming_log_identity_when_the_log_went_backwards(polku):
    import sqlalchemy as sa

    app, client, credential = polku()
    writer = credential("all")
    assert client.post("/xapi/statements", json=[statement(), statement()], headers=V2 | writer).status_code == 200
    services = app.extensions["polku"]
    with services.engine.begin() as conn:  # the log comes back from an older backup: its last event is gone
        conn.execute(sa.text("DELETE FROM polku_event_log WHERE log_offset = (SELECT max(log_offset) FROM polku_event_log)"))
    services.guard.refresh()
    app.extensions.pop("polku.probe", None)  # a look of its own, after the guard's
    response = client.get("/ready")
    assert response.status_code == 503
    assert "log_identity" in response.json["failing"]
    assert response.json["checks"]["log_identity"]["detail"].startswith("the log went backwards")


def test_ready_decides_on_the_checks_asked_for_alone_and_names_an_unknown_one(polku):
    app, client, _ = polku()
    with app.extensions["polku"].engine.begin() as conn:
        tracking.set_aside(conn, "statements", 0, 7, "e1", "statement.stored", "ValueError: x", "2026-01-01T00:00:00Z")
    assert client.get("/ready").status_code == 503
    routed = client.get("/ready", query_string={"check": "database,log"})
    assert routed.status_code == 200 and set(routed.json["checks"]) == {"database", "log"}
    assert client.get("/ready?check=database,dead_letters").status_code == 503
    unknown = client.get("/ready", query_string={"check": "database,disk"})
    assert unknown.status_code == 400 and "check" in unknown.json["error"]["message"] and "disk" in unknown.json["error"]["message"]


def test_ready_tells_no_secret_nor_the_log_identity(polku, sqlite_url):
    app, client, _ = polku()
    text = client.get("/ready").get_data(as_text=True)
    assert sqlite_url not in text and "polku.sqlite3" not in text
    assert app.extensions["polku"].log.identity() not in text


# ---- /metrics --------------------------------------------------------------------------------------


def test_metrics_needs_a_credential_with_the_metrics_or_admin_scope(polku):
    _, client, credential = polku()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=credential("statements/write")).status_code == 403
    assert client.get("/metrics", headers=credential("metrics")).status_code == 200
    assert client.get("/metrics", headers=credential("admin")).status_code == 200


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the Prometheus text ``text`` (0 when absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def test_metrics_count_requests_by_route_template_never_by_raw_path(polku):
    _, client, credential = polku()
    reader, scraper = credential("analytics"), credential("metrics")
    route = "/api/v1/cohorts/<key>/progress"
    before = _sample(client.get("/metrics", headers=scraper).get_data(as_text=True), "polku_http_requests_total", route=route, status="404")
    for key in ("north", "south", "a-cohort-nobody-made"):
        assert client.get(f"/api/v1/cohorts/{key}/progress", headers=reader).status_code == 404
    text = client.get("/metrics", headers=scraper).get_data(as_text=True)
    assert _sample(text, "polku_http_requests_total", route=route, status="404") == before + 3
    assert "a-cohort-nobody-made" not in text
    assert _sample(text, "polku_http_request_duration_seconds_count", route=route) >= 3


def test_metrics_count_statements_appended_and_show_positions_lag_and_dead_letters(polku):
    app, client, credential = polku()
    writer, scraper = credential("all"), credential("metrics")
    first = client.get("/metrics", headers=scraper).get_data(as_text=True)
    before, end_before = _sample(first, "polku_statements_appended_total"), _sample(first, "polku_log_end_offset", partition="0")
    assert client.post("/xapi/statements", json=[statement(), statement()], headers=V2 | writer).status_code == 200
    with app.extensions["polku"].engine.begin() as conn:
        tracking.set_aside(conn, "cohorts", 0, 0, "e1", "statement.stored", "ValueError: x", "2026-01-01T00:00:00Z")
    app.extensions["polku.probe"].max_age = 0  # no reuse of the look taken before the writes
    text = client.get("/metrics", headers=scraper).get_data(as_text=True)
    assert _sample(text, "polku_statements_appended_total") == before + 2
    end = _sample(text, "polku_log_end_offset", partition="0")
    assert end >= end_before + 2  # the embedded log's offsets begin at 1
    assert _sample(text, "polku_projection_applied_position", projection="statements", partition="0") == end
    assert _sample(text, "polku_projection_lag_events", projection="statements", partition="0") == 0
    assert _sample(text, "polku_dead_letters", projection="cohorts") == 1
    assert _sample(text, "polku_ready_check", check="dead_letters") == 0
    assert _sample(text, "polku_consistency_wait_seconds_count", projection="statements", outcome="applied") >= 1
    assert _sample(text, "polku_projection_events_applied_total", projection="statements", partition="0") >= 2
    assert "polku_db_pool_connections" in text


def test_every_metric_the_grafana_dashboard_queries_is_one_metrics_exposes(polku):
    import re
    from pathlib import Path

    from prometheus_client.parser import text_string_to_metric_families

    app, client, credential = polku()
    writer, scraper = credential("all"), credential("metrics")
    client.post("/xapi/statements", json=statement(), headers=V2 | writer)
    client.get("/ready")
    with app.extensions["polku"].engine.begin() as conn:
        tracking.set_aside(conn, "cohorts", 0, 0, "e1", "statement.stored", "ValueError: x", "2026-01-01T00:00:00Z")
    app.extensions["polku.probe"].max_age = 0
    text = client.get("/metrics", headers=scraper).get_data(as_text=True)
    exposed = {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}
    dashboard = json.loads((Path(__file__).resolve().parents[3] / "deploy" / "grafana" / "polku-dashboard.json").read_text())
    queried = {name for panel in dashboard["panels"] for target in panel["targets"] for name in re.findall(r"polku_[a-z_]+", target["expr"])}
    assert len(queried) >= 12
    assert queried <= exposed, queried - exposed


# ---- request id and the access log ----------------------------------------------------------------


def test_a_valid_x_request_id_is_echoed_and_an_invalid_one_replaced(polku):
    _, client, _ = polku()
    assert client.get("/health", headers={"X-Request-ID": "lb-1234:abc_D.e"}).headers["X-Request-ID"] == "lb-1234:abc_D.e"
    for bad in ("has space", "x" * 129, "<script>", "a;b"):
        made = client.get("/health", headers={"X-Request-ID": bad}).headers["X-Request-ID"]
        assert made != bad and request_id_from(made) == made
    generated = client.get("/health").headers["X-Request-ID"]
    assert len(generated) == 32


def test_the_access_log_has_one_line_per_request_with_route_status_and_request_id_and_no_secret(polku, caplog):
    _, client, credential = polku()
    writer = credential("all")
    secret = base64.b64decode(writer["Authorization"].split()[1]).decode().split(":", 1)[1]
    with caplog.at_level(logging.INFO, logger="polku.access"):
        client.get("/xapi/statements", query_string={"agent": '{"mbox": "mailto:private@example.org"}'}, headers=V2 | writer | {"X-Request-ID": "req-77"})
    lines = [r for r in caplog.records if r.name == "polku.access"]
    assert len(lines) == 1
    line = lines[0]
    assert (line.method, line.route, line.status) == ("GET", "/xapi/statements", 200)
    assert line.request_id == "req-77"
    text = caplog.text
    assert secret not in text and writer["Authorization"] not in text and "private@example.org" not in text


def test_json_log_lines_are_one_object_each_with_the_request_id(polku):
    app, _, _ = polku()
    formatter, stamp = JsonFormatter(), RequestIdFilter()
    with app.test_request_context("/health"):
        from flask import g

        g.request_id = "req-json-1"
        record = logging.LogRecord("polku.access", logging.INFO, __file__, 1, "GET %s %d", ("/health", 200), None)
        stamp.filter(record)
        line = formatter.format(record)
    entry = json.loads(line)
    assert "\n" not in line
    assert entry["request_id"] == "req-json-1"
    assert entry["message"] == "GET /health 200" and entry["level"] == "INFO" and entry["logger"] == "polku.access"


def test_a_500_puts_its_traceback_in_the_server_log_at_error_never_in_the_response(polku, caplog):
    app, client, _ = polku()

    @app.get("/boom")
    def _boom():
        raise RuntimeError("secret internals")

    with caplog.at_level(logging.ERROR):
        response = client.get("/boom")
    assert response.status_code == 500
    assert "Traceback" not in response.get_data(as_text=True) and "secret internals" not in response.get_data(as_text=True)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and r.exc_info]
    assert errors and "secret internals" in JsonFormatter().format(errors[0])


# ---- repeated warnings of a library ----------------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _record(name: str, msg: str, *args) -> logging.LogRecord:
    return logging.LogRecord(name, logging.WARNING, __file__, 1, msg, args, None)


def test_a_librarys_identical_warnings_pass_once_per_interval_then_say_how_many_were_suppressed():
    clock = _Clock()
    limit = RepeatFilter(("kafka",), interval=60, clock=clock)
    passed = [limit.filter(_record("kafka.conn", "connect to %s failed", f"node {n}")) for n in range(900)]
    assert passed.count(True) == 1
    clock.now = 61
    again = _record("kafka.conn", "connect to %s failed", "node 1")
    assert limit.filter(again)
    assert again.getMessage() == "connect to node 1 failed (899 identical message(s) suppressed in the last 60 s)"


def test_the_repeat_filter_leaves_other_loggers_and_other_messages_alone():
    limit = RepeatFilter(("kafka",), interval=60, clock=_Clock())
    assert all(limit.filter(_record("polku.access", "GET / 200")) for _ in range(5))
    assert all(limit.filter(_record("kafkaesque", "same")) for _ in range(5))
    assert limit.filter(_record("kafka.conn", "one thing"))
    assert limit.filter(_record("kafka.conn", "another thing"))


# ---- polku config and polku --version --------------------------------------------------------------


def test_polku_config_prints_the_effective_configuration_with_secrets_masked(monkeypatch):
    monkeypatch.setenv("POLKU_DATABASE_URL", "postgresql://polku:hunter2@db:5432/polku?sslpassword=pem-secret")
    monkeypatch.setenv("POLKU_WORKERS", "3")
    result = CliRunner().invoke(main, ["config"])
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output and "pem-secret" not in result.output
    assert "POLKU_DATABASE_URL=postgresql://polku:***@db:5432/polku?sslpassword=***" in result.output
    assert "POLKU_WORKERS=3" in result.output
    assert "POLKU_HOST=127.0.0.1" in result.output, "the defaults are shown too"


def test_polku_version_prints_the_installed_version():
    from importlib.metadata import version

    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"polku {version('polku')}"
