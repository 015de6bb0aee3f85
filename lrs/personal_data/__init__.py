"""A person's data: erasure (erasure.py; its record table is lrs/stores/erasures.py), the export of
everything held about a person (export.py) and retention, expiring old statements (retention.py).

May import: ``lrs.statements``, ``lrs.stores``, ``lrs.shapes``, ``lrs.errors``, ``lrs.services``, ``events``,
``projections``, ``schemas``. Never ``lrs.http`` or the dashboard."""
