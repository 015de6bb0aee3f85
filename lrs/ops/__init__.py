"""Operating Polku: health and readiness (health.py), Prometheus metrics (metrics.py) and the
server log (logs.py).

May import: ``lrs.config``, ``lrs.errors``, ``lrs.services``, ``events``, ``projections``. Never the
HTTP layer (their routes are in lrs/http/ops.py), nor the dashboard; Flask only for the request id
on log records (logs.py)."""
