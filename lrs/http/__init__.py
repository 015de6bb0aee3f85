"""The HTTP resources. Each module holds one Blueprint; this list says where each is mounted."""

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
