"""Polku's schema migrations (Alembic), run by :mod:`lrs.storage.schema`: ``env.py`` and ``versions/``."""
