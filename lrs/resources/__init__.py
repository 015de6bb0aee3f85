"""The HTTP resources. Each module holds one Blueprint; this list says where each is mounted."""

from __future__ import annotations


def blueprints():
    """(blueprint, url prefix) pairs; imported lazily so that nothing is built at import time."""
    from lrs.resources import about, statements
    from lrs.resources import activities_and_agents, documents
    from lrs.resources import analytics, openapi, programmes
    from lrs import dashboard
    from lrs.resources import credentials
    from lrs.resources import erasure, export

    return [
        (about.blueprint, "/xapi"),
        (statements.blueprint, "/xapi"),
        (documents.blueprint, "/xapi"),
        (activities_and_agents.blueprint, "/xapi"),
        (programmes.blueprint, "/api/v1"),
        (analytics.blueprint, "/api/v1"),
        (openapi.blueprint, "/api/v1"),
        (dashboard.blueprint, None),  # the dashboard, at / (lrs/dashboard)
        (credentials.blueprint, "/api/v1"),
        (export.blueprint, "/api/v1"),
        (erasure.blueprint, "/api/v1"),
    ]
