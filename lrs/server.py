"""Serving the app from the ``polku serve`` command.

One process (``POLKU_WORKERS=1``, the default): waitress. Its I/O thread reads every request
whole -- headers and body, within ``POLKU_CLIENT_TIMEOUT_S`` of silence -- before a request thread
sees it, so clients that trickle their bytes or connect and say nothing hold a socket, never one
of the ``POLKU_THREADS`` request threads (docs/design.md, invariant 10); at most
``POLKU_MAX_CONNECTIONS`` connections are open at once.

Several processes (``POLKU_WORKERS>1``): gunicorn with threads in each worker. gunicorn hands a
connection to a request thread as soon as it is readable, so a slow client holds a thread; run
it behind a buffering proxy (nginx with ``proxy_request_buffering on``, the default) when it
faces clients you do not control. docs/running.md says so.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import sys
import tempfile

from lrs.config.settings import MULTIPROC_DIR, Settings

log = logging.getLogger(__name__)


def run(settings: Settings) -> None:
    """Serve until stopped."""
    if settings.workers > 1:
        if not multiprocess_asked():  # polku serve prepared it already; a caller of run() may not have
            prepare_multiprocess()
        GunicornServer(settings).run()
    else:
        _waitress(settings)


def _waitress(settings: Settings) -> None:
    import waitress

    from lrs.app import create_app

    app = create_app(settings)
    log.info("serving on http://%s:%d with %d request threads", settings.host, settings.port, settings.threads)
    waitress.serve(
        app,
        host=settings.host,
        port=settings.port,
        threads=settings.threads,
        connection_limit=settings.max_connections,
        channel_timeout=settings.client_timeout_s,  # a connection silent this long is closed
        cleanup_interval=max(1, int(settings.client_timeout_s) // 2),
        # Flask answers an oversized body with Polku's own 413; waitress only stops what is far past it
        max_request_body_size=2 * settings.max_request_bytes,
        max_request_header_size=64 * 1024,
        asyncore_use_poll=True,  # more than 1024 sockets
        expose_tracebacks=False,
        ident="Polku",
    )


def control_socket(settings: Settings) -> str | None:
    """gunicorn's control socket for this instance (gunicorn >= 25 opens one at a single path per
    user by default, which a second instance on the host would take over): one per port in
    ``$XDG_RUNTIME_DIR`` (else the temporary folder), or ``POLKU_GUNICORN_CONTROL_SOCKET``; None
    when that is ``off``."""
    chosen = settings.gunicorn_control_socket
    if chosen.lower() in ("off", "none", "no"):
        return None
    if chosen:
        return chosen
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    folder = runtime if runtime and os.path.isdir(runtime) else tempfile.gettempdir()
    return os.path.join(folder, f"polku-gunicorn-{settings.port}.ctl")


def gunicorn_options(settings: Settings) -> dict:
    """gunicorn's settings from Polku's: one source for ``polku serve --workers N`` and
    ``deploy/gunicorn.conf.py``."""
    socket = control_socket(settings)
    options = {
        "bind": f"{settings.host}:{settings.port}",
        "workers": settings.workers,
        "worker_class": "gthread",
        "threads": settings.threads,
        "timeout": 60,
        "graceful_timeout": 10,
        "keepalive": 5,
        "worker_connections": settings.max_connections,
        "accesslog": None,  # Polku writes its own access log (lrs/ops/logs.py): route templates, request ids
        "errorlog": "-",
        "loglevel": settings.log_level.lower(),
        # each worker builds its own app after the fork: no connection or producer is shared
        "preload_app": False,
        "control_socket_disable": socket is None,
    }
    if socket is not None:
        options["control_socket"] = socket
    if settings.log_format == "json":  # gunicorn's own lines as JSON objects too, through the root logger
        options["logconfig_dict"] = _json_logging(settings.log_level)
    return options


def _json_logging(level: str) -> dict:
    """gunicorn's logging (dictConfig): its error log through the root logger in JSON, its access
    log off (Polku writes its own)."""
    return {
        "root": {"level": level, "handlers": ["console"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": [], "propagate": True, "qualname": "gunicorn.error"},
            "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False, "qualname": "gunicorn.access"},
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "formatters": {"json": {"()": "lrs.ops.logs.JsonFormatter"}},
    }


def multiprocess_asked() -> bool:
    return bool(os.environ.get(MULTIPROC_DIR))


def prepare_multiprocess(folder: str | None = None) -> str:
    """Set ``PROMETHEUS_MULTIPROC_DIR`` (kept if set, else a new temporary folder) and empty it of
    an earlier run's files, so that the metrics of several workers add up (lrs/ops/metrics.py). Call
    it in the process that forks the workers before anything imports ``prometheus_client``.
    Returns the folder."""
    if "prometheus_client.values" in sys.modules and not os.environ.get(MULTIPROC_DIR):
        log.warning("prometheus_client was imported before %s was set: /metrics counts one worker only", MULTIPROC_DIR)
    if not (folder or os.environ.get(MULTIPROC_DIR)):
        folder = tempfile.mkdtemp(prefix="polku-metrics-")
        atexit.register(_remove_if_owner, folder, os.getpid())
    folder = folder or os.environ[MULTIPROC_DIR]
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        if name.endswith(".db"):
            os.remove(os.path.join(folder, name))
    os.environ[MULTIPROC_DIR] = folder
    return folder


def _remove_if_owner(folder: str, owner: int) -> None:
    """At exit of the process that made the metrics folder (a forked worker's exit leaves it)."""
    if os.getpid() == owner:
        shutil.rmtree(folder, ignore_errors=True)


def worker_exited(pid: int) -> None:
    """gunicorn's ``child_exit`` hook: a stopped worker's live gauges no longer count."""
    if os.environ.get(MULTIPROC_DIR):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


def _child_exit(_server, worker) -> None:
    worker_exited(worker.pid)


def GunicornServer(settings: Settings, options: dict | None = None):  # noqa: N802 - a class built on first use
    """gunicorn, imported only when several worker processes are asked for."""
    from gunicorn.app.base import BaseApplication

    class _Gunicorn(BaseApplication):
        def __init__(self) -> None:
            self.options = gunicorn_options(settings) | {"child_exit": _child_exit} | (options or {})
            super().__init__()

        def load_config(self):
            for key, value in self.options.items():
                if key in self.cfg.settings and value is not None:
                    self.cfg.set(key, value)

        def load(self):
            from lrs.app import create_app

            return create_app(settings)

    return _Gunicorn()
