"""One error hierarchy: every error Polku answers with is an :class:`XAPIError` carrying its status.
It is mapped to HTTP in one place, lrs/http/errors.py, whose ``register`` installs the only handlers. Bodies are JSON ``{"error": {"status": N, "message": "..."}}``;
no exception text from a library, no stack trace, ever reaches a client or a log line.
"""

from __future__ import annotations



class XAPIError(Exception):
    status = 500
    default_message = "internal error"

    def __init__(self, message: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        self.headers = headers or {}


class BadRequest(XAPIError):
    status = 400
    default_message = "bad request"


class Unauthorized(XAPIError):
    status = 401
    default_message = "authentication required"

    def __init__(self, message: str | None = None):
        super().__init__(message, {"WWW-Authenticate": 'Basic realm="Polku xAPI"'})


class Forbidden(XAPIError):
    status = 403
    default_message = "the credential lacks the scope this request needs"


class NotFound(XAPIError):
    status = 404
    default_message = "not found"


class Conflict(XAPIError):
    status = 409
    default_message = "conflict"


class PreconditionFailed(XAPIError):
    status = 412
    default_message = "precondition failed"


class RequestTooLarge(XAPIError):
    status = 413
    default_message = "request too large"


class PreconditionRequired(XAPIError):
    status = 428
    default_message = "precondition required"


class Unavailable(XAPIError):
    status = 503
    default_message = "temporarily unavailable; retry later"

    def __init__(self, message: str | None = None, cause: str = "other"):
        super().__init__(message, {"Retry-After": "1"})
        self.cause = cause  # what was unavailable, for the 503 counter of /metrics
