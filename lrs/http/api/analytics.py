"""The analytics API: a cohort's progress, engagement and success views (``/api/v1``, scope ``analytics``).

``GET /cohorts/{key}/progress?as_of=``, ``/engagement?from=&to=``, ``/success``; each answers
JSON, or with ``format=csv`` the members table as CSV (one row per member, the member's name and
identifiers first, ``null`` as an empty cell). The metric definitions are in
``docs/cohort-metrics.md``; the views are computed by :class:`projections.cohort_views.CohortViews`.
"""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request

from lrs.cohorts import views
from lrs.errors import BadRequest
from lrs.http.auth import require
from lrs.http.current import services
from lrs.http.downloads import csv_response

blueprint = Blueprint("analytics", __name__)

CONSISTENT_THROUGH = "X-Consistent-Through"


def _params(allowed: set[str]) -> dict[str, str]:
    unknown = set(request.args) - allowed - {"format"}
    if unknown:
        raise BadRequest(f"unknown parameter(s): {', '.join(sorted(unknown))}; this view takes {', '.join(sorted(allowed | {'format'}))}")
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "csv"):
        raise BadRequest("format: must be json or csv")
    return dict(request.args)


@blueprint.before_request
def _watermark() -> None:
    """Taken before the view is read: everything recorded up to this moment is in the answer."""
    g.consistent_through = services().consistency.consistent_through("cohorts")


@blueprint.after_request
def _consistency(response: Response) -> Response:
    """Every view says up to which moment the log is in it (as xAPI's Consistent-Through does)."""
    if response.status_code == 200 and "consistent_through" in g:
        response.headers[CONSISTENT_THROUGH] = g.consistent_through
    return response


@blueprint.get("/cohorts/<key>/progress")
@require("analytics")
def progress(key: str):
    params = _params({"as_of"})
    view = views.progress_view(services().engine, key, views.parse_date("as_of", params.get("as_of")) or views.today())
    return csv_response("progress", view) if params.get("format") == "csv" else jsonify(view)


@blueprint.get("/cohorts/<key>/engagement")
@require("analytics")
def engagement(key: str):
    params = _params({"from", "to"})
    start, end = views.parse_date("from", params.get("from")), views.parse_date("to", params.get("to"))
    view = views.engagement_view(services().engine, key, start, end)
    return csv_response("engagement", view) if params.get("format") == "csv" else jsonify(view)


@blueprint.get("/cohorts/<key>/success")
@require("analytics")
def success(key: str):
    params = _params(set())
    view = views.success_view(services().engine, key)
    return csv_response("success", view) if params.get("format") == "csv" else jsonify(view)
