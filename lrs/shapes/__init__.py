"""The shapes of what the admin and analytics API take and answer: marshmallow schemas (api_schemas.py),
which validate programme, cohort and credential definitions and describe the views and the export,
and a fast plain dump made from them (schema_dump.py). One definition serves the HTTP layer, the
commands that validate definitions, the personal-data export and the OpenAPI document.

May import: ``lrs.errors``, ``projections`` (the cohort model's kinds and measures), marshmallow.
Nothing else of ``lrs``."""
