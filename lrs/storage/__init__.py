"""The database schema: gathering every table from the modules that own it (schema.py), bringing a
database to this code's revision, and the Alembic migrations (migrations/), the planner's statistics (statistics.py) and the plans of the
hot reads that ``polku db check`` shows (query_plans.py).

May import: the modules that own tables (``events``, ``projections``, ``lrs.stores``,
``lrs.stores.erasures``), ``lrs.config``. Never ``lrs.http`` or the dashboard."""
