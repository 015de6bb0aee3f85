"""Serving the app from the ``polku serve`` command.

One process (``POLKU_WORKERS=1``, the default): waitress. Its I/O thread reads every request
whole -- headers and body, within ``POLKU_CLIENT_TIMEOUT_S`` of silence -- before a request thread
sees it, so clients that trickle their bytes or connect and say nothing hold a socket, never one
of the ``POLKU_THREADS`` request threads (DESIGN invariant 10); at most
``POLKU_MAX_CONNECTIONS`` connections are open at once.

Several processes (``POLKU_WORKERS>1``): gunicorn with threads in each worker. gunicorn hands a
connection to a request thread as soon as it is readable, so a slow client holds a thread; run
it behind a buffering proxy (nginx with ``proxy_request_buffering on``, the default) when it
faces clients you do not control. The README says so.
"""

from __future__ import annotations

import logging

from lrs.settings import Settings

log = logging.getLogger(__name__)


def run(settings: Settings) -> None:
    """Serve until stopped."""
    if settings.workers > 1:
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


def GunicornServer(settings: Settings, options: dict | None = None):  # noqa: N802 - a class built on first use
    """gunicorn, imported only when several worker processes are asked for."""
    from gunicorn.app.base import BaseApplication

    class _Gunicorn(BaseApplication):
        def __init__(self) -> None:
            self.options = {
                "bind": f"{settings.host}:{settings.port}",
                "workers": settings.workers,
                "worker_class": "gthread",
                "threads": settings.threads,
                "timeout": 60,
                "graceful_timeout": 10,
                "keepalive": 5,
                "worker_connections": settings.max_connections,
                "accesslog": None,
                "errorlog": "-",
                "loglevel": settings.log_level.lower(),
                **(options or {}),
            }
            super().__init__()

        def load_config(self):
            for key, value in self.options.items():
                if key in self.cfg.settings and value is not None:
                    self.cfg.set(key, value)

        def load(self):
            from lrs.app import create_app

            return create_app(settings)

    return _Gunicorn()
