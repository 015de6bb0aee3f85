"""The HTTP side of operating Polku: ``GET /health``, ``GET /ready`` and ``GET /metrics`` (what they
report: lrs/ops/health.py and lrs/ops/metrics.py), and the hooks that give every request its id,
its access-log line and its count (lrs/ops/logs.py, lrs/ops/metrics.py). The app factory
(lrs/app.py) registers them before every other blueprint."""

from __future__ import annotations

import time

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request

from lrs.errors import BadRequest
from lrs.http import current
from lrs.http.auth import authorize
from lrs.ops import metrics
from lrs.ops.health import CHECKS, Probe, checks
from lrs.ops.logs import REQUEST_ID_HEADER, access_log, request_id_from
from lrs.services import Services


def log_requests(app: Flask) -> None:
    """The request id and the access log: registered before every other hook, so that a request
    refused by another hook is still logged with its id."""

    @app.before_request
    def _request_started():
        g.request_started = time.perf_counter()
        g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))

    @app.after_request
    def _request_finished(response):
        response.headers[REQUEST_ID_HEADER] = g.get("request_id") or request_id_from(None)
        route = request.url_rule.rule if request.url_rule is not None else "(unmatched)"
        duration_ms = round((time.perf_counter() - g.get("request_started", time.perf_counter())) * 1000, 1)
        access_log.info(
            "%s %s %d %.1f ms", request.method, route, response.status_code, duration_ms,
            extra={
                "method": request.method, "route": route, "status": response.status_code, "duration_ms": duration_ms,
                "request_id": response.headers[REQUEST_ID_HEADER],
            },
        )
        return response


def count_requests(app: Flask, services: Services) -> None:
    """Count every request by route template and status, and note the pool's use after each."""

    @app.after_request
    def _count(response):
        method = request.method if request.method in metrics.METHODS else "other"
        route = request.url_rule.rule if request.url_rule is not None else "(unmatched)"
        metrics.REQUESTS.labels(method, route, str(response.status_code)).inc()
        started = g.get("request_started")
        if started is not None:
            metrics.LATENCY.labels(method, route).observe(time.perf_counter() - started)
        if response.status_code == 503:
            metrics.UNAVAILABLE.labels(g.get("unavailable_cause", "other")).inc()
        pool = services.engine.pool
        for state, read in (("checked_out", "checkedout"), ("idle", "checkedin")):
            if hasattr(pool, read):
                metrics.POOL.labels(state).set(getattr(pool, read)())
        return response

    metrics.zero_series()


def probe() -> Probe:
    """The probe of this app's services (one per app)."""
    found = current_app.extensions.get("polku.probe")
    if found is None:
        services = current.services()
        found = current_app.extensions.setdefault("polku.probe", Probe(services, 1.0, services.settings.ready_timeout_s))
    return found


health_blueprint = Blueprint("health", __name__)


@health_blueprint.get("/health")
def health():
    """The process answers; nothing else is looked at."""
    return jsonify({"status": "ok"})


@health_blueprint.get("/ready")
def ready():
    """Whether Polku can do its work now: 200 if every check passes, else 503 naming them.
    ``?check=database,log`` decides on those checks alone: a load
    balancer may route on what a request needs while an alarm watches them all."""
    chosen = [name.strip() for name in request.args.get("check", "").split(",") if name.strip()]
    unknown = [name for name in chosen if name not in CHECKS]
    if unknown:
        raise BadRequest(f"check: unknown check {unknown[0][:40]!r}; known: {', '.join(CHECKS)}")
    settings = current.services().settings
    found = checks(probe().look(), settings.ready_max_lag, settings.ready_timeout_s)
    if chosen:
        found = {name: entry for name, entry in found.items() if name in chosen}
    failing = [name for name, c in found.items() if not c["ok"]]
    body = {"status": "not ready" if failing else "ready", "failing": failing, "checks": found}
    response = jsonify(body)
    response.status_code = 503 if failing else 200
    if failing:
        g.unavailable_cause = "not_ready"  # counted apart from the 503s of the API
    response.headers["Cache-Control"] = "no-store"
    return response


metrics_blueprint = Blueprint("metrics", __name__)


@metrics_blueprint.get("/metrics")
def metrics_page():
    """The Prometheus text format; scope ``metrics`` (or ``admin``)."""
    authorize(request.headers.get("Authorization"), "metrics", "admin")
    body = metrics.exposition(probe(), current.services().settings)
    return Response(body, content_type=metrics.CONTENT_TYPE, headers={"Cache-Control": "no-store"})
