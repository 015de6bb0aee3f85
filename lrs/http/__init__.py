"""The HTTP layer: the xAPI resources (xapi/) and the admin and analytics API (api/), one Blueprint per
module, and what they share: authentication and scopes (auth.py), the services of the running app
(current.py, the one place requests reach them), request parameters and bodies (parameters.py,
bodies.py, alternate.py, versioning.py), the errors as HTTP answers (errors.py), CSV downloads
(downloads.py), the OpenAPI document (openapi.py) and the routes of operating (ops.py: /health,
/ready, /metrics). :func:`blueprints` says where each blueprint is mounted; the composition root
(lrs/app.py) registers them, and the dashboard.

May import: every core package of ``lrs`` (statements, cohorts, personal_data, ops, services, stores,
shapes, storage, config, errors), ``events``, ``projections``, ``schemas``. Never the composition
root, the command line or the dashboard; blueprint modules never import each other."""

from __future__ import annotations


def blueprints():
    """(blueprint, url prefix) pairs; imported lazily so that nothing is built at import time."""
    from lrs.http.xapi import about, statements
    from lrs.http.xapi import activities_and_agents, documents
    from lrs.http.api import analytics, openapi, programmes
    from lrs.http.api import credentials
    from lrs.http.api import erasure, export

    return [
        (about.blueprint, "/xapi"),
        (statements.blueprint, "/xapi"),
        (documents.blueprint, "/xapi"),
        (activities_and_agents.blueprint, "/xapi"),
        (programmes.blueprint, "/api/v1"),
        (analytics.blueprint, "/api/v1"),
        (openapi.blueprint, "/api/v1"),
        (credentials.blueprint, "/api/v1"),
        (export.blueprint, "/api/v1"),
        (erasure.blueprint, "/api/v1"),
    ]
