"""The dashboard's blueprint: its templates and static files, the headers and compression of its
pages, its error page and the helpers every template sees. The route modules add their routes to it."""

from __future__ import annotations

import gzip
from datetime import datetime, timezone

from flask import Blueprint, Response, g, render_template, request, session

from dashboard import i18n
from dashboard import signin as auth
from lrs.errors import XAPIError

blueprint = Blueprint("dashboard", __name__, template_folder="templates", static_folder="static", static_url_path="/dashboard/static")

#: Pages may load only their own script, styles and pictures (no CDN, no inline script).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


@blueprint.record_once
def _configure(state) -> None:
    auth.configure(state.app)


@blueprint.before_request
def _locale() -> None:
    g.locale = i18n.Locale(i18n.choose(session.get("lang"), request.accept_languages))


@blueprint.after_request
def _headers(response: Response) -> Response:
    if response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Language"] = g.locale.language if "locale" in g else "en"
        response.vary.add("Accept-Language")
        response.vary.add("Cookie")
        _compress(response)
    return response


def _compress(response: Response) -> None:
    """gzip a page for a browser that takes it: a 200-member matrix is mostly repeated markup."""
    if response.direct_passthrough or response.is_streamed or "gzip" not in request.accept_encodings:
        return
    body = response.get_data()
    if len(body) < 1400:
        return
    response.set_data(gzip.compress(body, 5))
    response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")


@blueprint.context_processor
def _helpers() -> dict:
    locale = g.get("locale") or i18n.Locale("en")
    return {
        "loc": locale,
        "t": locale.t,
        "csrf_token": auth.csrf_token,
        "credential": auth.current,
        "languages": i18n.LANGUAGES,
        "language_names": i18n.NAMES,
        "member_name": member_name,
        "now": datetime.now(timezone.utc),
    }


@blueprint.errorhandler(XAPIError)
def _error(error: XAPIError):
    """The one error hierarchy, as a page (and never with ``WWW-Authenticate``)."""
    if request.accept_mimetypes.best == "text/event-stream":
        return Response(status=error.status)
    return render_template("error.html", status=error.status, message=error.message), error.status


def member_name(agent: dict) -> str:
    """How a member is shown: their name, else their address or account name."""
    if agent.get("name"):
        return agent["name"]
    if agent.get("mbox"):
        return str(agent["mbox"]).removeprefix("mailto:")
    account = agent.get("account") or {}
    return account.get("name") or agent.get("openid") or agent.get("mbox_sha1sum") or "?"

