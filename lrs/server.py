"""Serving the app with gunicorn from the ``polku serve`` command (threads in each worker)."""

from __future__ import annotations

from gunicorn.app.base import BaseApplication

from lrs.settings import Settings


class PolkuServer(BaseApplication):
    def __init__(self, settings: Settings, options: dict | None = None):
        self.settings = settings
        self.options = {
            "bind": f"{settings.host}:{settings.port}",
            "workers": settings.workers,
            "worker_class": "gthread",
            "threads": settings.threads,
            "timeout": 60,
            "graceful_timeout": 10,
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

        return create_app(self.settings)
