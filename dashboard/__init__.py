"""The cohort dashboard: what programme leads and analysts open in a browser (mounted at ``/``).

Pages are rendered on the server from Jinja2 templates (``templates/``) and read without
JavaScript; the one small script (``static/dashboard.js``) only keeps an open cohort page up to
date (server-sent events, :mod:`dashboard.live`). Every number comes from the same functions
the analytics API answers from (:mod:`lrs.cohorts.views`), so the page and the API cannot
disagree; the definitions are in ``docs/cohort-metrics.md``.

- ``/sign-in``, ``/sign-out``: :mod:`dashboard.signin`;
- ``/`` and ``/cohorts/…``: the cohorts, a cohort's three tabs, a member, CSV downloads
  (:mod:`dashboard.pages`);
- ``/statements``: the statement store, filtered and paged (:mod:`dashboard.browse`);
- ``/cohorts/{key}/live``: the event stream an open cohort page listens to.

May import: ``lrs`` below the composition root (its core packages, and from the HTTP layer only
what is not a blueprint: ``lrs.http.current``, ``lrs.http.downloads``), ``events``, ``projections``,
``schemas``. Never an xAPI or API blueprint (an import-linter contract in pyproject.toml). The
composition root (lrs/app.py) mounts it.
"""

from __future__ import annotations

from dashboard import browse, live, pages  # noqa: F401 - they add their routes to the blueprint
from dashboard.blueprint import blueprint

__all__ = ["blueprint"]
