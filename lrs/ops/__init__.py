"""Operating Polku: health and readiness (health.py), Prometheus metrics (metrics.py) and the
server log (logs.py).

May import: ``lrs.config``, ``lrs.errors``, ``lrs.services``, ``lrs.http.auth`` and
``lrs.http.current`` (for their own routes), ``events``, ``projections``. Never an xAPI or API
blueprint, nor the dashboard."""
