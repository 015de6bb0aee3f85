"""``/statements``: the xAPI statement store, filtered and paged, each statement's JSON on demand.

The filters are the xAPI query's (agent, verb, activity, registration, since, until), parsed by
the same code as ``GET /xapi/statements`` (:mod:`lrs.statements.queries`), so a bad value is a
400 naming the parameter; pages follow the same signed ``more`` tokens. The JSON is shown as
text in a ``<pre>`` (escaped by the template), never as HTML. An object that is a programme's
item is shown by the item's title.

Reading the store needs more than the cohort views: the signed-in credential must also hold
``statements/read``, ``all/read`` or ``admin`` (``all`` has them all).
"""

from __future__ import annotations

import json

from flask import g, render_template, request, url_for

from lrs.statements import queries as statement_queries
from dashboard.blueprint import blueprint
from dashboard import signin as auth
from dashboard.pages import display
from lrs.errors import BadRequest, Forbidden
from lrs.http.current import services
from projections.cohort_views import CohortViews
from schemas.agents import agent_key

PAGE = 20
FILTERS = ("agent", "verb", "activity", "registration", "since", "until")
READ_SCOPES = ("statements/read", "all/read", "admin")


def _agent_parameter(value: str) -> str:
    """The agent filter as xAPI's JSON; an e-mail address is taken as ``{"mbox": "mailto:…"}``."""
    value = value.strip()
    if value.startswith("{"):
        return value
    address = value.removeprefix("mailto:")
    if "@" not in address or " " in address:
        raise BadRequest("agent: must be an e-mail address or an Agent as JSON")
    return json.dumps({"mbox": "mailto:" + address})


@blueprint.get("/statements")
@auth.signed_in
def statements_page():
    credential = auth.current()
    if not credential.allows(*READ_SCOPES):
        raise Forbidden("This page needs a credential that may read statements (statements/read, all/read or admin).")
    settings = services().settings
    given = {n: request.args[n].strip() for n in FILTERS if request.args.get(n, "").strip()}
    if request.args.get("more"):
        query, after = statement_queries.from_more_token({"more": request.args["more"]}, services().signing_key, settings)
    else:
        params = dict(given)
        if "agent" in params:
            params["agent"] = _agent_parameter(params["agent"])
        params["limit"] = str(PAGE)
        query, after = statement_queries.parse(params, settings, "2.0.0"), None
        if not isinstance(query, dict):  # only filter names reach parse: never a single lookup
            raise BadRequest("statementId: not a filter of this page")
    page = services().statements.query(
        statement_queries.statement_filter(query), query["limit"], after, max_bytes=settings.max_request_bytes
    )
    more = None
    if page.next_after:
        token = statement_queries.more_token(query, page.next_after, services().signing_key)
        more = url_for("dashboard.statements_page", more=token, **given)
    language = g.locale.language
    titles = {i.activity: i.title for p in CohortViews(services().engine).programmes() for i in p.items}
    rows = [
        {
            "id": s["id"],
            "stored": s.get("stored"),
            "actor": _actor(s.get("actor") or {}),
            "verb": display((s.get("verb") or {}).get("display"), language) or (s.get("verb") or {}).get("id"),
            "object": titles.get((s.get("object") or {}).get("id")) or _object(s.get("object") or {}, language),
            "json": json.dumps(s, indent=2, ensure_ascii=False),
        }
        for s in page.statements
    ]
    return render_template("statements.html", rows=rows, given=given, more=more, paged=bool(request.args.get("more")))


def _actor(actor: dict) -> str:
    if actor.get("name"):
        return str(actor["name"])
    key = agent_key(actor)
    return key.split(":", 1)[1] if key else "?"


def _object(target: dict, language: str) -> str:
    if target.get("objectType") in ("StatementRef", "SubStatement"):
        return f"{target.get('objectType')} {target.get('id', '')}"
    if target.get("objectType") in ("Agent", "Group"):
        return _actor(target)
    return display((target.get("definition") or {}).get("name"), language) or str(target.get("id", ""))
