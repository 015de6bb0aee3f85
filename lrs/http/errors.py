"""The one error hierarchy (lrs/errors.py) mapped to HTTP, in one place: :func:`register` installs the
only handlers. Bodies are JSON ``{"error": {"status": N, "message": "..."}}``; no exception text
from a library, no stack trace, ever reaches a client or a log line."""

from __future__ import annotations

import logging
import time
import uuid

from flask import Flask, g, jsonify, request
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from events import LogUnavailable
from lrs.errors import Unavailable, XAPIError

log = logging.getLogger(__name__)


def error_response(status: int, message: str, headers: dict[str, str] | None = None):
    response = jsonify({"error": {"status": status, "message": message}})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


#: How much of a refused body is read and dropped, and for how long, so that its connection can
#: carry the next request; a larger or slower body is left unread (the client then finds the
#: connection closed): a refused client must not hold a request thread.
DRAIN_LIMIT = 32 * 1024 * 1024
DRAIN_SECONDS = 2.0


def _drain_body() -> None:
    """Read and drop the body of a request refused for its size (bounded), so that a keep-alive
    client's next request on the same connection is not lost."""
    length = request.content_length or 0
    if not 0 < length <= DRAIN_LIMIT:
        return
    stream = request.environ.get("wsgi.input")
    deadline = time.monotonic() + DRAIN_SECONDS
    try:
        while length > 0 and time.monotonic() < deadline and (chunk := stream.read(min(length, 1 << 16))):
            length -= len(chunk)
    except (OSError, ValueError):
        pass  # the client went away: nothing to keep alive


def register(app: Flask) -> None:
    @app.errorhandler(XAPIError)
    def _xapi(error: XAPIError):
        if error.status == 503:
            g.unavailable_cause = getattr(error, "cause", "other")
        return error_response(error.status, error.message, error.headers)

    @app.errorhandler(LogUnavailable)
    def _log_unavailable(_error: LogUnavailable):
        g.unavailable_cause = "log"
        return error_response(503, Unavailable.default_message, {"Retry-After": "1"})

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    @app.errorhandler(PoolTimeout)
    def _database_unavailable(error: Exception):
        # the storage boundary: a database that refuses, drops or times out a connection is an
        # outage on every route, reads and authentication included -- 503, never a 500
        log.warning("database unavailable on %s %s: %s", request.method, request.path, type(getattr(error, "orig", error)).__name__)
        g.unavailable_cause = "database"
        return error_response(503, "the database is unavailable; retry later", {"Retry-After": "1"})

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        if error.code == 413:
            _drain_body()
            return error_response(413, "request body exceeds the configured limit")
        # keep what the status needs said (405's Allow, 416's Content-Range), drop the rest
        kept = {k: v for k, v in error.get_headers() if k.lower() in ("allow", "content-range", "retry-after")}
        return error_response(error.code or 500, error.description or error.name, kept)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        incident = uuid.uuid4().hex[:12]
        log.error(  # the traceback goes to the server log only, never to the client
            "unexpected %s on %s %s (incident %s)", type(error).__name__, request.method, request.path, incident, exc_info=error
        )
        return error_response(500, f"internal error (incident {incident})")
