"""The running app's :class:`~lrs.services.Services`, for the HTTP layer and the dashboard: the one
place a request reaches them through ``current_app``. Everything below the HTTP layer is handed
the services (or the part it needs) as a parameter; the composition root (lrs/app.py) puts them
in ``app.extensions``."""

from __future__ import annotations

from flask import current_app

from lrs.services import Services

#: The key of ``app.extensions`` that holds the services.
EXTENSION = "polku"


def services() -> Services:
    return current_app.extensions[EXTENSION]
