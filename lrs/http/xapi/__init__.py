"""The xAPI resources (xAPI 2.0.0 Communication 2): one Blueprint per module, mounted at ``/xapi``.

May import: ``lrs.http`` (auth, parameters, bodies, versioning, current), the core packages
(``lrs.statements``, ``lrs.stores``, ...), ``events``, ``projections``, ``schemas``. Never another
blueprint module (``lrs.http.api``), nor the dashboard."""
