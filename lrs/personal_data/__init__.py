"""A person's data: erasure (erasure.py, with its record table in records.py), the export of
everything held about a person (export.py) and retention, expiring old statements (retention.py).

May import: ``lrs.statements``, ``lrs.stores``, ``lrs.errors``, ``lrs.services``, ``events``,
``projections``, ``schemas``. Never ``lrs.http`` or the dashboard."""
