"""The HTTP resources. Each module holds one Blueprint; this list says where each is mounted."""

from __future__ import annotations


def blueprints():
    """(blueprint, url prefix) pairs; imported lazily so that nothing is built at import time."""
    from lrs.resources import about, statements

    return [
        (about.blueprint, "/xapi"),
        (statements.blueprint, "/xapi"),
    ]
