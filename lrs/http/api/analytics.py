"""The analytics API: a cohort's progress, engagement and success views (``/api/v1``, scope ``analytics``).

``GET /cohorts/{key}/progress?as_of=``, ``/engagement?from=&to=``, ``/success``; each answers
JSON, or with ``format=csv`` the members table as CSV (one row per member, the member's name and
identifiers first, ``null`` as an empty cell). The metric definitions are in
``docs/cohort-metrics.md``; the views are computed by :class:`projections.cohort_views.CohortViews`.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timezone
from typing import Any, Callable

from flask import Blueprint, Response, g, jsonify, request

from lrs.shapes.api_schemas import EngagementView, ProgressView, SuccessView
from lrs.http.auth import require
from lrs.errors import BadRequest, NotFound
from lrs.shapes.schema_dump import dumper
from lrs.http.current import services
from projections.cohort_views import MAX_WEEKS, CohortViews

blueprint = Blueprint("analytics", __name__)

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
IDENTITY_COLUMNS = ("cohort", "name", "mbox", "mbox_sha1sum", "openid", "account_homePage", "account_name")


def _params(allowed: set[str]) -> dict[str, str]:
    unknown = set(request.args) - allowed - {"format"}
    if unknown:
        raise BadRequest(f"unknown parameter(s): {', '.join(sorted(unknown))}; this view takes {', '.join(sorted(allowed | {'format'}))}")
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "csv"):
        raise BadRequest("format: must be json or csv")
    return dict(request.args)


def _date(name: str, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        if not _DATE.match(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{name}: must be a date YYYY-MM-DD") from None


CONSISTENT_THROUGH = "X-Consistent-Through"


def _found(view: dict[str, Any] | None, key: str) -> dict[str, Any]:
    if view is None:
        raise NotFound(f"no cohort {key!r}")
    return view


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


def _cell(value: Any) -> Any:
    """A CSV cell; text a spreadsheet would run as a formula (a learner's name may start with
    ``=``) is neutralised with a leading apostrophe (OWASP's advice for CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, list):
        value = " ".join(str(v) for v in value)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _csv(view: dict[str, Any], name: str, columns: dict[str, Callable[[dict[str, Any]], Any]]) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(list(IDENTITY_COLUMNS) + list(columns))
    for row in view["members"]:
        agent = row["member"]
        account = agent.get("account") or {}
        identity = [view["cohort"], agent.get("name"), agent.get("mbox"), agent.get("mbox_sha1sum"), agent.get("openid"),
                    account.get("homePage"), account.get("name")]
        writer.writerow([_cell(v) for v in identity] + [_cell(get(row)) for get in columns.values()])
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{view["cohort"]}-{name}.csv"'
    return response


def _field(name: str) -> Callable[[dict[str, Any]], Any]:
    return lambda row: row[name]


# ---- the views and their CSV: the API's routes and the dashboard (dashboard/) both use these ----

def progress_view(key: str, as_of: date) -> dict[str, Any]:
    """The progress view as the API answers it (404 for an unknown cohort)."""
    return dumper(ProgressView)(_found(CohortViews(services().engine).progress(key, as_of), key))


def progress_view_with_states(key: str, as_of: date) -> tuple[dict[str, Any], dict[int, dict[str, bool]]]:
    """The progress view as the API answers it, and beside it which objects each member has
    completed or only started, from the same reading of the rows (for the dashboard's matrix)."""
    raw = _found(CohortViews(services().engine).progress(key, as_of, states=True), key)
    return dumper(ProgressView)(raw), raw["states"]


def progress_csv(view: dict[str, Any]) -> Response:
    names = ("completed_required", "progress", "overdue", "last_active")
    return _csv(view, "progress", {n: _field(n) for n in names})


def engagement_view(key: str, start: date | None, end: date | None) -> dict[str, Any]:
    if start and end and end < start:
        raise BadRequest("to: must not be before from")
    if start and end and (end - start).days > MAX_WEEKS * 7:
        raise BadRequest(f"to: the span from..to is at most {MAX_WEEKS} weeks")
    return dumper(EngagementView)(_found(CohortViews(services().engine).engagement(key, start, end), key))


def engagement_csv(view: dict[str, Any]) -> Response:
    names = ("statements", "active_days", "contributions", "last_active")
    return _csv(view, "engagement", {n: _field(n) for n in names})


def success_view(key: str) -> dict[str, Any]:
    return dumper(SuccessView)(_found(CohortViews(services().engine).success(key), key))


def success_view_by_assessment(key: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The success view as the API answers it, and beside it the results per assessment, from the
    same reading of the rows (for the dashboard)."""
    raw = _found(CohortViews(services().engine).success(key, by_assessment=True), key)
    return dumper(SuccessView)(raw), raw["assessments"]


def success_csv(view: dict[str, Any]) -> Response:
    columns = {n: _field(n) for n in ("assessments_attempted", "assessments_passed", "mean_scaled_score")}
    columns["self_assessment_first"] = lambda row: row["self_assessment"]["first"]
    columns["self_assessment_latest"] = lambda row: row["self_assessment"]["latest"]
    columns["self_assessment_count"] = lambda row: row["self_assessment"]["count"]
    columns["pre_post_delta"] = _field("pre_post_delta")
    return _csv(view, "success", columns)


def parse_date(name: str, value: str | None) -> date | None:
    """A ``YYYY-MM-DD`` parameter (400 naming it otherwise)."""
    return _date(name, value)


def today() -> date:
    return datetime.now(timezone.utc).date()


@blueprint.get("/cohorts/<key>/progress")
@require("analytics")
def progress(key: str):
    params = _params({"as_of"})
    view = progress_view(key, _date("as_of", params.get("as_of")) or today())
    return progress_csv(view) if params.get("format") == "csv" else jsonify(view)


@blueprint.get("/cohorts/<key>/engagement")
@require("analytics")
def engagement(key: str):
    params = _params({"from", "to"})
    view = engagement_view(key, _date("from", params.get("from")), _date("to", params.get("to")))
    return engagement_csv(view) if params.get("format") == "csv" else jsonify(view)


@blueprint.get("/cohorts/<key>/success")
@require("analytics")
def success(key: str):
    params = _params(set())
    view = success_view(key)
    return success_csv(view) if params.get("format") == "csv" else jsonify(view)
