"""The cohort views as the analytics API answers them and the dashboard shows them: read from the
cohort projection (:class:`projections.cohort_views.CohortViews`), dumped through the API's
shapes (:mod:`lrs.shapes.api_schemas`), and as CSV. One definition for both readers, so the page
and the API cannot disagree; the metric definitions are in the dashboard's help page
(``docs/cohort-metrics.md``).

Every function takes the database engine; an unknown cohort is :class:`lrs.errors.NotFound`.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timezone
from typing import Any, Callable

import sqlalchemy as sa

from lrs.errors import BadRequest, NotFound
from lrs.shapes.api_schemas import EngagementView, ProgressView, SuccessView
from lrs.shapes.schema_dump import dumper
from projections.cohort_views import MAX_WEEKS, CohortViews

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
IDENTITY_COLUMNS = ("cohort", "name", "mbox", "mbox_sha1sum", "openid", "account_homePage", "account_name")


def parse_date(name: str, value: str | None) -> date | None:
    """A ``YYYY-MM-DD`` parameter (400 naming it otherwise)."""
    if value is None:
        return None
    try:
        if not _DATE.match(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{name}: must be a date YYYY-MM-DD") from None


def today() -> date:
    return datetime.now(timezone.utc).date()


def _found(view: dict[str, Any] | None, key: str) -> dict[str, Any]:
    if view is None:
        raise NotFound(f"no cohort {key!r}")
    return view


def progress_view(engine: sa.Engine, key: str, as_of: date) -> dict[str, Any]:
    """The progress view as the API answers it (404 for an unknown cohort)."""
    return dumper(ProgressView)(_found(CohortViews(engine).progress(key, as_of), key))


def progress_view_with_states(engine: sa.Engine, key: str, as_of: date) -> tuple[dict[str, Any], dict[int, dict[str, bool]]]:
    """The progress view as the API answers it, and beside it which objects each member has
    completed or only started, from the same reading of the rows (for the dashboard's matrix)."""
    raw = _found(CohortViews(engine).progress(key, as_of, states=True), key)
    return dumper(ProgressView)(raw), raw["states"]


def engagement_view(engine: sa.Engine, key: str, start: date | None, end: date | None) -> dict[str, Any]:
    if start and end and end < start:
        raise BadRequest("to: must not be before from")
    if start and end and (end - start).days > MAX_WEEKS * 7:
        raise BadRequest(f"to: the span from..to is at most {MAX_WEEKS} weeks")
    return dumper(EngagementView)(_found(CohortViews(engine).engagement(key, start, end), key))


def success_view(engine: sa.Engine, key: str) -> dict[str, Any]:
    return dumper(SuccessView)(_found(CohortViews(engine).success(key), key))


def success_view_by_assessment(engine: sa.Engine, key: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The success view as the API answers it, and beside it the results per assessment, from the
    same reading of the rows (for the dashboard)."""
    raw = _found(CohortViews(engine).success(key, by_assessment=True), key)
    return dumper(SuccessView)(raw), raw["assessments"]


# ---- CSV ----

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


def _field(name: str) -> Callable[[dict[str, Any]], Any]:
    return lambda row: row[name]


def _success_columns() -> dict[str, Callable[[dict[str, Any]], Any]]:
    columns = {n: _field(n) for n in ("assessments_attempted", "assessments_passed", "mean_scaled_score")}
    columns["self_assessment_first"] = lambda row: row["self_assessment"]["first"]
    columns["self_assessment_latest"] = lambda row: row["self_assessment"]["latest"]
    columns["self_assessment_count"] = lambda row: row["self_assessment"]["count"]
    columns["pre_post_delta"] = _field("pre_post_delta")
    return columns


#: Each view's CSV columns after the member's identity.
CSV_COLUMNS: dict[str, Callable[[], dict[str, Callable[[dict[str, Any]], Any]]]] = {
    "progress": lambda: {n: _field(n) for n in ("completed_required", "progress", "overdue", "last_active")},
    "engagement": lambda: {n: _field(n) for n in ("statements", "active_days", "contributions", "last_active")},
    "success": _success_columns,
}


def csv_text(view: dict[str, Any], tab: str) -> str:
    """A view (``tab``: progress, engagement or success) as CSV: one row per member."""
    columns = CSV_COLUMNS[tab]()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(list(IDENTITY_COLUMNS) + list(columns))
    for row in view["members"]:
        agent = row["member"]
        account = agent.get("account") or {}
        identity = [view["cohort"], agent.get("name"), agent.get("mbox"), agent.get("mbox_sha1sum"), agent.get("openid"),
                    account.get("homePage"), account.get("name")]
        writer.writerow([_cell(v) for v in identity] + [_cell(get(row)) for get in columns.values()])
    return out.getvalue()
