"""Polku's schema migrations (Alembic), run by :mod:`lrs.schema`: ``env.py`` and ``versions/``."""
