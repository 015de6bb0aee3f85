"""Cohorts and programmes: the commands that define them (programmes.py), appended to the log like
statements, and the demo programme ``polku demo`` loads through the HTTP endpoints (demo.py).

May import: ``lrs.statements``, ``lrs.stores``, ``lrs.shapes``, ``lrs.config``, ``lrs.errors``, ``lrs.services``,
``events``, ``projections``, ``schemas``. Never ``lrs.http`` or the dashboard."""
