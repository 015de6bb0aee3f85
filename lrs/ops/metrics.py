"""Polku's metrics in the Prometheus text format (``prometheus_client``), served by ``GET /metrics``
(the route and the per-request counting: lrs/http/ops.py).

Two kinds:

* **counted by the process that sees it** (requests, latencies, statements appended, append
  failures, 503s by cause, consistency waits, events applied, database pool use). Under several
  gunicorn workers these live in ``prometheus_client``'s multiprocess mode: each worker writes
  its values to files in ``PROMETHEUS_MULTIPROC_DIR`` and a scrape, whichever worker answers it,
  sums them (``polku serve`` and ``deploy/gunicorn.conf.py`` make and empty that folder at start
  and mark a stopped worker's gauges dead: lrs/server.py). The variable must be set before
  ``prometheus_client`` is first imported, which is why those two set it first thing.
* **read from the database and the log at scrape time** (applied position, lag, log end, dead
  letters, readiness per check): the same for every worker, taken from the probe of
  lrs/ops/health.py (one look per second at most, bounded in time).

Requests are counted by route template (``/api/v1/cohorts/<key>/progress``), never by raw path,
so that the number of series stays bounded whatever clients send.

``/metrics`` needs a credential with the scope ``metrics`` (or ``admin``, or ``all``): a
Prometheus scrape job sends it as HTTP Basic (``basic_auth`` in its ``scrape_configs``).
"""

from __future__ import annotations

import os

from lrs.config.settings import MULTIPROC_DIR, Settings

if os.environ.get(MULTIPROC_DIR):  # prometheus_client writes its files there from the first metric on
    os.makedirs(os.environ[MULTIPROC_DIR], exist_ok=True)

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest  # noqa: E402
from prometheus_client.core import GaugeMetricFamily  # noqa: E402

from lrs.ops import health  # noqa: E402


#: The text format every Prometheus version reads (what ``generate_latest`` writes).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"})

REQUESTS = Counter("polku_http_requests", "HTTP requests answered, by route template and status", ["method", "route", "status"])
LATENCY = Histogram(
    "polku_http_request_duration_seconds", "Time to answer an HTTP request, by route template", ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
#: What a 503 was for (lrs/errors.py): the log, the log not being Polku's, the database, the
#: attachment store, a document too contended, /ready itself, anything else.
UNAVAILABLE_CAUSES = ("log", "log_mismatch", "database", "attachment_store", "document_contention", "not_ready", "other")
APPEND_FAILURE_CAUSES = ("log_unavailable", "log_mismatch", "too_large")
UNAVAILABLE = Counter("polku_http_unavailable", "503 answers, by cause", ["cause"])
STATEMENTS_APPENDED = Counter("polku_statements_appended", "Statements appended to the log and acknowledged")
APPEND_FAILURES = Counter("polku_append_failures", "Appends to the log that failed, by cause", ["cause"])
CONSISTENCY_WAIT = Histogram(
    "polku_consistency_wait_seconds", "Time a write waited for its projection to apply it (read-your-writes)",
    ["projection", "outcome"], buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS_APPLIED = Counter(
    "polku_projection_events_applied", "Events applied by this process's projection runner", ["projection", "partition"]
)
POOL = Gauge("polku_db_pool_connections", "Database connections of the pool, by state", ["state"], multiprocess_mode="livesum")


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_DIR))


def applied(projection: str, partition: int, events: int) -> None:
    """The runner's hook: ``events`` of ``partition`` applied by ``projection``."""
    EVENTS_APPLIED.labels(projection, str(partition)).inc(events)


class StateCollector:
    """Gauges read from the database and the log at scrape time, through the probe."""

    def __init__(self, probe: health.Probe, settings: Settings) -> None:
        self.probe, self.settings = probe, settings

    def collect(self):
        look = self.probe.look()
        settings = self.settings
        position = GaugeMetricFamily("polku_projection_applied_position", "Next log offset each projection will apply", labels=["projection", "partition"])
        lag = GaugeMetricFamily("polku_projection_lag_events", "Events on the log not yet applied by each projection", labels=["projection", "partition"])
        end = GaugeMetricFamily("polku_log_end_offset", "End offset of each log partition", labels=["partition"])
        for status in look.statuses or []:
            position.add_metric([status.projection, str(status.partition)], status.applied)
            lag.add_metric([status.projection, str(status.partition)], status.lag)
        for partition, offset in sorted({(s.partition, s.end) for s in look.statuses or []}):
            end.add_metric([str(partition)], offset)
        yield from (position, lag, end)
        dead = GaugeMetricFamily("polku_dead_letters", "Events set aside (table polku_dead_letters), by projection", labels=["projection"])
        for projection, count in sorted((look.set_aside or {}).items()):
            dead.add_metric([projection], count)
        yield dead
        ready = GaugeMetricFamily("polku_ready_check", "1 when the readiness check passes (GET /ready), else 0", labels=["check"])
        for name, check in health.checks(look, settings.ready_max_lag, settings.ready_timeout_s).items():
            ready.add_metric([name], 1 if check["ok"] else 0)
        yield ready


def exposition(probe: health.Probe, settings: Settings) -> bytes:
    """Every metric: the processes' own (summed over workers in multiprocess mode), then the state."""
    if multiprocess():
        from prometheus_client import multiprocess as mp

        registry = CollectorRegistry()
        mp.MultiProcessCollector(registry)
        counted = generate_latest(registry)
    else:
        counted = generate_latest(REGISTRY)
    state = CollectorRegistry(auto_describe=False)
    state.register(StateCollector(probe, settings))
    return counted + generate_latest(state)


def zero_series() -> None:
    """Every 503 and append-failure series there from the start, at 0: rate() and alerts see it."""
    for cause in UNAVAILABLE_CAUSES:
        UNAVAILABLE.labels(cause)
    for cause in APPEND_FAILURE_CAUSES:
        APPEND_FAILURES.labels(cause)
