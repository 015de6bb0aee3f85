"""The dashboard's pages: sign-in, the cohorts, a cohort's progress / engagement / success tabs,
a member, and the CSV downloads.

The numbers are the analytics API's own: each page calls the function the API's route calls
(:func:`lrs.cohorts.views.progress_view` and its siblings) and only rounds for people;
each CSV link answers what ``?format=csv`` answers. Which item each member has done or started,
and the results per assessment, come from the same reading of the rows as the progress and success
views; weekly lines and a member's scores and statements from
:class:`projections.cohort_details.CohortDetails`, under the same definitions.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from flask import Response, g, jsonify, redirect, render_template, request, session, url_for
from markupsafe import Markup

from dashboard import charts, live
from dashboard.blueprint import blueprint, member_name
from dashboard import signin as auth
from lrs.errors import BadRequest, NotFound
from lrs.cohorts import views as cohort_views
from lrs.http.current import services
from lrs.http.downloads import csv_response
from projections.cohort_details import CohortDetails
from projections.cohort_views import Cohort, CohortViews, Programme

TABS = ("progress", "engagement", "success")
#: a matrix cell's status: its icon, and its name in words
STATUS = {"done": ("✓", "Done"), "started": ("◐", "In progress"), "overdue": ("!", "Overdue"), "notdue": ("·", "Not due")}
SORTS = ("member", "progress", "overdue", "last_active")
#: where the page links for the metric definitions (served from the repository's docs/)
METRICS_DOC = "/docs/cohort-metrics.md"
#: the repository's docs/ beside the package (a checkout), or in the working folder (the image)
_DOCS = (Path(__file__).resolve().parents[1] / "docs", Path.cwd() / "docs")


# ---- signing in and out ------------------------------------------------------------------------

@blueprint.get("/")
def index():
    """A browser gets the dashboard; a client asking for JSON the service's address card."""
    if request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json":
        return jsonify({"name": "Polku", "xapi": request.host_url + "xapi/", "dashboard": request.host_url})
    if auth.current() is None:
        return redirect(url_for("dashboard.sign_in_page"))
    return cohorts_page()


@blueprint.get("/sign-in")
def sign_in_page():
    return render_template("sign_in.html", next=auth.safe_next(request.args.get("next"), "/"), problem=None)


@blueprint.post("/sign-in")
def sign_in():
    target = auth.safe_next(request.form.get("next"), "/")
    if not auth.csrf_ok():
        return render_template("sign_in.html", next=target, problem="The form has expired; please try again."), 400
    problem = auth.sign_in(request.form.get("key", "").strip(), request.form.get("secret", "").strip())
    if problem is not None:
        return render_template("sign_in.html", next=target, problem=problem.message), problem.status
    return redirect(target, 303)


@blueprint.post("/sign-out")
def sign_out():
    if not auth.csrf_ok():
        return render_template("error.html", status=400, message="The form has expired; please try again."), 400
    auth.sign_out()
    return render_template("sign_in.html", next="/", problem=None, notice="You have signed out.")


@blueprint.post("/language")
def language():
    if not auth.csrf_ok():
        return render_template("error.html", status=400, message="The form has expired; please try again."), 400
    chosen = request.form.get("lang")
    if chosen not in ("en", "fi"):
        raise BadRequest("lang: must be en or fi")
    session["lang"] = chosen
    return redirect(auth.safe_next(request.form.get("next"), "/"), 303)


@blueprint.get("/docs/cohort-metrics.md")
def metrics_doc():
    """The metric definitions the pages link to (``docs/cohort-metrics.md``), as text."""
    for folder in _DOCS:
        path = folder / "cohort-metrics.md"
        if path.is_file():
            return Response(path.read_text(encoding="utf-8"), mimetype="text/plain")
    raise NotFound("docs/cohort-metrics.md is not installed here; see the project's repository")


# ---- cohorts -----------------------------------------------------------------------------------

@blueprint.get("/cohorts")
@auth.signed_in
def cohorts_page():
    """Each cohort: members, the share on track today, overdue items, last activity."""
    views = CohortViews(services().engine)
    today = cohort_views.today()
    rows = []
    for cohort in views.cohorts():
        progress = cohort_views.progress_view(services().engine, cohort.key, today)
        members = progress["members"]
        on_track = sum(1 for m in members if not m["overdue"])
        rows.append(
            {
                "cohort": cohort,
                "members": len(members),
                "on_track": on_track / len(members) if members else None,
                "overdue": sum(len(m["overdue"]) for m in members),
                "last_active": max((m["last_active"] for m in members if m["last_active"]), default=None),
            }
        )
    return render_template("cohorts.html", rows=rows, today=today, metrics_doc=METRICS_DOC)


def _definitions(key: str) -> tuple[Cohort, Programme]:
    views = CohortViews(services().engine)
    cohort = views.cohort(key)
    if cohort is None:
        raise NotFound(f"no cohort {key!r}")
    return cohort, views.programme(cohort.programme) or Programme(cohort.programme, "", ())


def _through() -> str:
    """Taken before the views are read, as the API's ``X-Consistent-Through`` is."""
    return services().consistency.consistent_through("cohorts")


@blueprint.get("/cohorts/<key>")
@auth.signed_in
def cohort_page(key: str):
    return redirect(url_for("dashboard.cohort_tab", key=key, tab="progress"))


@blueprint.get("/cohorts/<key>/<any(progress, engagement, success):tab>")
@auth.signed_in
def cohort_tab(key: str, tab: str):
    position = live.applied_position(services().engine)  # before the views are read
    through = _through()
    cohort, programme = _definitions(key)
    context = {"progress": _progress, "engagement": _engagement, "success": _success}[tab](cohort, programme)
    return render_template(
        f"cohort_{tab}.html", cohort=cohort, programme=programme, tab=tab, tabs=TABS, through=through,
        position=position, metrics_doc=METRICS_DOC, **context,
    )


def _status(item, states: dict[str, bool], overdue: list[str]) -> str:
    """A cell of the matrix: done, overdue (the view's list), in progress, or not due yet."""
    if states.get(item.activity) is True:
        return "done"
    if item.activity in overdue:
        return "overdue"
    if item.activity in states:
        return "started"
    return "notdue"


def _progress(cohort: Cohort, programme: Programme) -> dict[str, Any]:
    as_of = cohort_views.parse_date("as_of", request.args.get("as_of")) or cohort_views.today()
    view, states = cohort_views.progress_view_with_states(services().engine, cohort.key, as_of)
    required = [i for i in programme.items if i.required]
    completed_by = {i["activity"]: i["completed_by"] for i in view["items"]}
    loc = _locale()
    # a cell is an icon and the status in words (for screen readers); made once per status, as a
    # 200-member matrix has thousands of cells
    cell = {code: Markup("<td class={}>{}<i>{}</i></td>").format(code, icon, loc.t(word)) for code, (icon, word) in STATUS.items()}
    rows = []
    for position, member in enumerate(view["members"]):
        mine = states.get(position, {})
        codes = [_status(item, mine, member["overdue"]) for item in required]
        rows.append(
            {
                "position": position,
                "view": member,
                "name": member_name(member["member"]),
                "cells": codes,
                "cells_html": Markup("").join(cell[c] for c in codes),
            }
        )
    sort, descending = _sort()
    keys = {
        "member": lambda r: r["name"].casefold(),
        "progress": lambda r: (r["view"]["progress"] is None, r["view"]["progress"] or 0),
        "overdue": lambda r: len(r["view"]["overdue"]),
        "last_active": lambda r: r["view"]["last_active"] or "",
    }
    if sort in keys:
        rows.sort(key=keys[sort], reverse=descending)
    return {
        "view": view, "rows": rows, "required": required, "completed_by": completed_by, "as_of": as_of,
        "sort": sort, "descending": descending, "csv": url_for("dashboard.cohort_csv", key=cohort.key, tab="progress", as_of=view["as_of"]),
    }


def _sort() -> tuple[str | None, bool]:
    sort = request.args.get("sort")
    if sort is not None and sort not in SORTS:
        raise BadRequest(f"sort: must be one of {', '.join(SORTS)}")
    order = request.args.get("order", "asc")
    if order not in ("asc", "desc"):
        raise BadRequest("order: must be asc or desc")
    return sort, order == "desc"


def _engagement(cohort: Cohort, programme: Programme) -> dict[str, Any]:
    start = cohort_views.parse_date("from", request.args.get("from"))
    end = cohort_views.parse_date("to", request.args.get("to"))
    quiet_weeks = _int("quiet", request.args.get("quiet"), 2, 1, 52)
    view = cohort_views.engagement_view(services().engine, cohort.key, start, end)
    first, last = date.fromisoformat(view["from"]), date.fromisoformat(view["to"])
    per_member = CohortDetails(services().engine).member_weeks(cohort.key, first, last)
    labels = [w["week"] for w in view["weeks"]]
    loc = _locale()
    rows = []
    for position, member in enumerate(view["members"]):
        name = member_name(member["member"])
        line = [per_member.get(position, {}).get(w, 0) for w in labels]
        rows.append({"position": position, "view": member, "name": name, "spark": charts.sparkline(line, f"{name}: {loc.t('Weekly line')}, {loc.t('Statements')} {sum(line)}")})
    reference = min(last, cohort_views.today())
    quiet_since = reference - timedelta(weeks=quiet_weeks)
    quiet = [r for r in rows if not r["view"]["last_active"] or r["view"]["last_active"][:10] < quiet_since.isoformat()]
    chart = charts.bars(
        [w["statements"] for w in view["weeks"]], [loc.week(w) for w in labels],
        f"{loc.t('Statements per week')}: {view['from']} – {view['to']}",
    )
    return {
        "view": view, "rows": rows, "quiet": quiet, "quiet_weeks": quiet_weeks, "chart": chart,
        "csv": url_for("dashboard.cohort_csv", key=cohort.key, tab="engagement", **_given("from", "to")),
    }


def _success(cohort: Cohort, programme: Programme) -> dict[str, Any]:
    view, results = cohort_views.success_view_by_assessment(services().engine, cohort.key)
    per_assessment = []
    for item in (i for i in programme.items if i.kind == "assessment"):
        got = results.get(item.activity, {"attempted": 0, "passed": 0, "scores": []})
        per_assessment.append(
            {
                "item": item,
                "attempted": got["attempted"],
                "passed": got["passed"],
                "rate": got["passed"] / got["attempted"] if got["attempted"] else None,
                "chart": charts.histogram(got["scores"], f"{item.title}: {len(got['scores'])}"),
                "scores": len(got["scores"]),
            }
        )
    rows = []
    for position, member in enumerate(view["members"]):
        own = member["self_assessment"]
        change = own["latest"] - own["first"] if own["count"] >= 2 else None
        rows.append({"position": position, "view": member, "name": member_name(member["member"]), "change": change})
    return {"view": view, "rows": rows, "assessments": per_assessment, "csv": url_for("dashboard.cohort_csv", key=cohort.key, tab="success")}


def _given(*names: str) -> dict[str, str]:
    return {n: request.args[n] for n in names if request.args.get(n)}


def _int(name: str, value: str | None, default: int, low: int, high: int) -> int:
    if value is None or value == "":
        return default
    if not (value.isascii() and value.isdigit()) or not low <= int(value) <= high:
        raise BadRequest(f"{name}: must be a whole number from {low} to {high}")
    return int(value)


def _locale():
    return g.locale


# ---- CSV ---------------------------------------------------------------------------------------

@blueprint.get("/cohorts/<key>/<any(progress, engagement, success):tab>.csv")
@auth.signed_in
def cohort_csv(key: str, tab: str):
    """The members table, byte for byte what the API answers with ``?format=csv``."""
    if tab == "progress":
        as_of = cohort_views.parse_date("as_of", request.args.get("as_of")) or cohort_views.today()
        return csv_response("progress", cohort_views.progress_view(services().engine, key, as_of))
    if tab == "engagement":
        start = cohort_views.parse_date("from", request.args.get("from"))
        end = cohort_views.parse_date("to", request.args.get("to"))
        return csv_response("engagement", cohort_views.engagement_view(services().engine, key, start, end))
    return csv_response("success", cohort_views.success_view(services().engine, key))


# ---- a member ----------------------------------------------------------------------------------

TIMELINE = 50


@blueprint.get("/cohorts/<key>/members/<int:position>")
@auth.signed_in
def member_page(key: str, position: int):
    through = _through()
    cohort, programme = _definitions(key)
    if position >= len(cohort.members):
        raise NotFound(f"cohort {key!r} has no member {position}")
    details = CohortDetails(services().engine)
    today = cohort_views.today()
    progress_view, states_by_member = cohort_views.progress_view_with_states(services().engine, key, today)
    progress = progress_view["members"][position]
    success = cohort_views.success_view(services().engine, key)["members"][position]
    states = states_by_member.get(position, {})
    items = [{"item": i, "status": _status(i, states, progress["overdue"])} for i in programme.items]
    titles = {i.activity: i.title for i in programme.items}
    self_items = [i.activity for i in programme.items if i.kind == "self-assessment"]
    scores = details.scores(key, position, self_items)
    name = member_name(cohort.members[position])
    trend = charts.line([s for _, _, s in scores], f"{_locale().t('Self-assessment trend')}: {name}")
    timeline = []
    for statement_id in details.latest_statement_ids(key, position, TIMELINE):
        statement = services().statements.get(statement_id, voided=False)
        if statement is not None:
            timeline.append(_entry(statement, titles))
    return render_template(
        "member.html", cohort=cohort, programme=programme, position=position, member=cohort.members[position], name=name,
        progress=progress, success=success, items=items, trend=trend, scores=scores, timeline=timeline, through=through,
        limit=TIMELINE, metrics_doc=METRICS_DOC,
    )


def display(language_map: Any, language: str) -> str | None:
    """The text of a language map in the reader's language, else English, else any."""
    if not isinstance(language_map, dict) or not language_map:
        return None
    for tag in (language, "en", "en-US", "en-GB"):
        for key, value in language_map.items():
            if key.lower() == tag.lower() or key.lower().startswith(tag.lower() + "-"):
                return str(value)
    return str(next(iter(language_map.values())))


def _entry(statement: dict[str, Any], titles: dict[str, str]) -> dict[str, Any]:
    language = _locale().language
    verb = statement.get("verb") or {}
    target = statement.get("object") or {}
    object_id = target.get("id", "")
    title = titles.get(object_id) or display((target.get("definition") or {}).get("name"), language) or object_id
    result = statement.get("result") or {}
    return {
        "id": statement.get("id"),
        "verb": display(verb.get("display"), language) or str(verb.get("id", "")).rsplit("/", 1)[-1],
        "object": title,
        "object_id": object_id,
        "success": result.get("success"),
        "completion": result.get("completion"),
        "scaled": (result.get("score") or {}).get("scaled"),
        "at": statement.get("timestamp") or statement.get("stored"),
    }
