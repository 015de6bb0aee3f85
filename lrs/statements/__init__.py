"""Statements: the write path (commands.py: validate, claim, append, wait until readable; group
commit in group_commit.py), the query parameters of GET /statements (queries.py), comparison and
signatures, attachments and their multipart bodies, the ``format`` parameter and normalisation.

May import: ``lrs.config``, ``lrs.stores``, ``lrs.ops`` (counters), ``lrs.errors``,
``lrs.services``, ``events``, ``projections``, ``schemas``. Never ``lrs.http`` or the dashboard."""
