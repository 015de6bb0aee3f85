"""The admin and analytics REST API (``/api/v1``, described by OpenAPI): one Blueprint per module.

May import: ``lrs.http`` (auth, parameters, api_schemas, current), the core packages, ``events``,
``projections``, ``schemas``. Never another blueprint module (``lrs.http.xapi``, or a sibling
here), nor the dashboard."""
