"""The analytics API answers with its published schemas (the OpenAPI document is made from them):
the plain dump it uses for speed (lrs/shapes/schema_dump.py) gives exactly what the schema's own dump
gives, byte for byte and key order included, and refuses a schema it could not dump the same way."""

from __future__ import annotations

import json

import pytest
from marshmallow import Schema, fields, post_dump

from lrs.shapes.api_schemas import EngagementView, ProgressView, SuccessView
from lrs.shapes.schema_dump import dumper

MEMBERS = [
    # identifiers in another order than the schema's, an account, a name only some have
    {"mbox": "mailto:ann@example.com", "objectType": "Agent", "name": "Ann"},
    {"account": {"name": "bo", "homePage": "https://workspace.example"}, "mbox_sha1sum": "a" * 40},
    {"openid": "https://id.example/cy", "name": "=Cy"},
]


def progress() -> dict:
    rows = [
        {"member": MEMBERS[0], "completed_required": 2, "progress": 1.0, "overdue": [], "last_active": "2026-02-03T09:15:00.000000Z"},
        {"member": MEMBERS[1], "completed_required": 0, "progress": 0.0, "overdue": ["https://x.example/a", "https://x.example/b"], "last_active": None},
        {"member": MEMBERS[2], "completed_required": 1, "progress": None, "overdue": ["https://x.example/b"], "last_active": None},
    ]
    items = [{"activity": "https://x.example/a", "completed_by": 1}, {"activity": "https://x.example/b", "completed_by": 0}]
    # "states" is the dashboard's, read beside the view: not part of the answer
    return {"cohort": "north", "as_of": "2026-03-01", "required_items": 2, "members": rows, "items": items, "states": {0: {"x": True}}}


def engagement() -> dict:
    weeks = [{"week": "2026-W05", "active_members": 2, "statements": 7, "contributions": 3}, {"week": "2026-W06", "active_members": 0, "statements": 0, "contributions": 0}]
    rows = [
        {"member": m, "statements": n, "active_days": n and 1, "contributions": 0, "last_active": "2026-02-03T09:15:00.000000Z" if n else None}
        for m, n in zip(MEMBERS, (5, 2, 0))
    ]
    return {"cohort": "north", "from": "2026-01-26", "to": "2026-02-08", "weeks": weeks, "members": rows}


def success() -> dict:
    rows = [
        {"member": MEMBERS[0], "assessments_attempted": 2, "assessments_passed": 1, "mean_scaled_score": 0.625,
         "self_assessment": {"first": 0.25, "latest": 0.75, "count": 3}, "pre_post_delta": -0.125},
        {"member": MEMBERS[1], "assessments_attempted": 0, "assessments_passed": 0, "mean_scaled_score": None,
         "self_assessment": {"first": None, "latest": None, "count": 0}, "pre_post_delta": None},
        # a score the statement gave as a whole number is a float in the answer
        {"member": MEMBERS[2], "assessments_attempted": 1, "assessments_passed": 1, "mean_scaled_score": 1,
         "self_assessment": {"first": 1, "latest": 1, "count": 1}, "pre_post_delta": 0},
    ]
    summary = {"pass_rate": 2 / 3, "mean_scaled_score": 0.8125, "mean_self_assessment_change": 0.5, "mean_pre_post_delta": None}
    return {"cohort": "north", "members": rows, "summary": summary, "assessments": {"https://x.example/a": {"attempted": 1}}}


@pytest.mark.parametrize(("schema", "view"), [(ProgressView, progress), (EngagementView, engagement), (SuccessView, success)])
def test_view_answers_are_exactly_their_schemas_dump(schema, view):
    assert json.dumps(dumper(schema)(view())) == json.dumps(schema().dump(view()))


def test_a_schema_the_plain_dump_cannot_match_is_refused():
    class Dated(Schema):
        day = fields.Date()

    class Hooked(Schema):
        name = fields.String()

        @post_dump
        def _upper(self, data, **_kwargs):
            return {k: v.upper() for k, v in data.items()}

    for schema in (Dated, Hooked):
        with pytest.raises(TypeError):
            dumper(schema)
