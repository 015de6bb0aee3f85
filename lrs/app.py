"""The app factory. Nothing is built at import time: ``create_app`` opens the services from the
settings it is given (or from the environment), registers the blueprints and, in the embedded
mode, starts the projection runner beside the server. gunicorn runs ``lrs.app:create_app()``."""

from __future__ import annotations

from urllib.parse import parse_qsl

from flask import Flask, g, request

from lrs.http import current
from lrs import errors
from lrs.http import errors as http_errors
from lrs.services import Services, build_services
from lrs.config.settings import Settings
from lrs.http.versioning import HEADER
from schemas import strict_json


def configure_logging(settings: Settings) -> None:
    """The server log's format and levels: lrs/ops/logs.py."""
    from lrs.ops import logs

    logs.configure_logging(settings)


def create_app(settings: Settings | None = None, services: Services | None = None) -> Flask:
    settings = settings or Settings.from_env()
    configure_logging(settings)
    app = Flask("polku")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    services = services or build_services(settings)
    app.extensions[current.EXTENSION] = services
    from lrs.http import ops

    ops.log_requests(app)  # first: the request id and the access log see every request
    ops.count_requests(app, services)
    app.register_blueprint(ops.health_blueprint)
    app.register_blueprint(ops.metrics_blueprint)
    if settings.projections_in_process:
        from lrs import worker

        worker.beside_server(services)  # its hooks attached in the one order (lrs/worker.py), then started

    from lrs.http import blueprints

    for blueprint, prefix in blueprints():
        app.register_blueprint(blueprint, url_prefix=prefix)
    import dashboard

    app.register_blueprint(dashboard.blueprint)  # the cohort dashboard, at / (dashboard/)
    http_errors.register(app)

    @app.before_request
    def _no_unstorable_text():
        """A query or form parameter no store can hold (U+0000), one whose percent-encoding is not
        UTF-8 (Werkzeug would quietly make it U+FFFD, so two ids would become one), or one given
        twice (no route takes a list) is 400 naming it, on every route; so is a U+0000 in the
        path, where keys reach queries the same way, and a body in a content coding (gzip, ...),
        which Polku does not decode."""
        problem = strict_json.text_problem(request.path)
        if problem:
            raise errors.BadRequest(f"path: {problem}")
        coding = request.headers.get("Content-Encoding", "").strip().lower()
        if coding not in ("", "identity") and request.method in ("POST", "PUT"):  # never read as if it were plain
            raise errors.BadRequest(f"Content-Encoding: {coding[:40]!r} is not read here; send the body without a content coding")
        raw = request.query_string
        if b"%" in raw:
            try:
                parse_qsl(raw.decode("ascii", "replace"), keep_blank_values=True, errors="strict")
            except UnicodeDecodeError:
                raise errors.BadRequest("query: a parameter is not UTF-8 once percent-decoded") from None
        repeated = sorted({name for name in request.args if len(request.args.getlist(name)) > 1})
        if repeated:
            raise errors.BadRequest(f"{repeated[0].replace(chr(0), '?')[:40]}: given more than once")
        sources = [request.args]
        if request.mimetype == "application/x-www-form-urlencoded":  # the 1.0.3 Alternate Request Syntax
            request.get_data(cache=True)  # keep the raw body for the resource, which reads it itself
            sources.append(request.form)
        for source in sources:
            for name, value in source.items(multi=True):
                problem = strict_json.text_problem(name) or strict_json.text_problem(value)
                if problem:
                    raise errors.BadRequest(f"{name.replace(chr(0), '?')[:40]}: {problem}")

    @app.after_request
    def _version_header(response):
        response.headers[HEADER] = g.get("xapi_version", settings.default_version)
        response.headers["X-Content-Type-Options"] = "nosniff"  # a type is what it says, never sniffed
        return response

    return app
