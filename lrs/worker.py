"""The projection runner's start-up, for the server and for ``polku project``: the one place that
attaches the runner's hooks, always in this order --

1. ``on_commit``: count the events applied (lrs/ops/metrics.py), when this process reports them;
2. ``after_round``: finish the erasures every projection has applied (their keys are deleted,
   lrs/personal_data/erasure.py);
3. then expire the statements past retention (lrs/personal_data/retention.py wraps the hook of 2);
4. then refresh SQLite's planner statistics (lrs/storage/statistics.py wraps the hook of 3).

The HTTP app factory (lrs/app.py) starts a runner beside the server in the embedded mode; the
command line (``polku project``, lrs/cli/serving.py) runs one as a worker. Both are handed the :class:`Services` built once
at start-up.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

from lrs.services import Services
from lrs.config.settings import MULTIPROC_DIR
from projections.runner import Runner


def hook(services: Services, runner: Runner, *, count: bool = True) -> Runner:
    """Attach every hook of ``runner`` in the one order above; ``count``: report events applied."""
    from lrs.personal_data import erasure, retention
    from lrs.storage import statistics as storage_statistics

    if count:
        from lrs.ops import metrics

        runner.on_commit = metrics.applied
    runner.after_round = erasure.finisher(services)  # erasures every projection has applied lose their keys
    retention.beside(runner, services)  # expires old statements when retention is set
    storage_statistics.beside(runner, services.engine)  # SQLite's statistics kept current
    return runner


def beside_server(services: Services) -> None:
    """The embedded mode: the services' runner applies the log in a thread of the server. This
    server's appends wake it at once; others' (the command line's) wait at most half a second."""
    hook(services, services.runner).start(idle_max_s=0.5)


def runner_for(services: Services, partitions: Sequence[int] | None) -> Runner:
    """The worker's runner: the services' own, or one for some of the log's ``partitions``
    (ValueError names a partition the log does not have)."""
    if not partitions:
        return services.runner
    return Runner(
        services.engine, services.log, services.runner.projections, partitions=list(partitions), guard=services.guard,
        opener=services.runner.opener,
    )


def serve_metrics(host: str, port: int) -> None:
    """The worker's own counters (lrs/ops/metrics.py) on a port of their own, unauthenticated: one
    process, its own registry (no multiprocess files)."""
    os.environ.pop(MULTIPROC_DIR, None)
    from prometheus_client import start_http_server

    start_http_server(port, addr=host)


def run(services: Services, runner: Runner, stop: threading.Event, idle_sleep: float, *, count: bool) -> None:
    """Apply the log with ``runner`` until ``stop`` is set, then close the services."""
    hook(services, runner, count=count)
    runner.start(idle_sleep)
    while not stop.wait(0.5):
        pass
    services.close()
