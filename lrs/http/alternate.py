"""An xAPI request as the resources see it, and the 1.0.3 Alternate Request Syntax.

:class:`XapiRequest` is what a Statement Resource handler reads: method, parameters, headers and
body. Usually it is the HTTP request itself. Under the Alternate Request Syntax (1.0.3 Part Three
1.3, for clients that cannot send custom headers or methods) it is unwrapped from a form POST:

* the query string holds only ``method`` (GET, HEAD, PUT, POST or DELETE); anything more is 400;
* the body is ``application/x-www-form-urlencoded``; its fields ``Authorization``,
  ``X-Experience-API-Version``, ``Content-Type``, ``Content-Length``, ``If-Match`` and
  ``If-None-Match`` are headers, ``content`` is the body, and every other field is a parameter.

xAPI 2.0.0 removed the syntax; a request that speaks 2.0.x (by header or form field) is refused
with 400.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

from flask import Request
from werkzeug.datastructures import Headers, MultiDict

from lrs.errors import BadRequest

METHOD = "method"
METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE")
HEADER_FIELDS = {
    "authorization": "Authorization",
    "x-experience-api-version": "X-Experience-API-Version",
    "content-type": "Content-Type",
    "content-length": "Content-Length",
    "if-match": "If-Match",
    "if-none-match": "If-None-Match",
}
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class XapiRequest:
    method: str
    args: MultiDict
    headers: Headers
    body: bytes

    @property
    def content_type(self) -> str | None:
        return self.headers.get("Content-Type")

    @classmethod
    def of(cls, request: Request) -> "XapiRequest":
        return cls(request.method, request.args, Headers(request.headers), request.get_data(cache=True))


def is_alternate(request: Request) -> bool:
    """Whether ``request`` uses the Alternate Request Syntax (a POST with a ``method`` parameter)."""
    return request.method == "POST" and METHOD in request.args


def unwrap(request: Request) -> XapiRequest:
    """The request carried by an Alternate Request Syntax POST; 400 if it is malformed."""
    extra = sorted(set(request.args) - {METHOD})
    if extra:
        raise BadRequest(
            f"alternate request syntax: the query string may hold only 'method', not {', '.join(extra)}; "
            "send the other parameters as form fields"
        )
    method = request.args[METHOD].upper()
    if method not in METHODS:
        raise BadRequest(f"method: must be one of {', '.join(METHODS)}")
    if request.mimetype != FORM:
        raise BadRequest(f"alternate request syntax: the body must be {FORM}")
    try:
        form = parse_qsl(request.get_data(cache=True).decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("alternate request syntax: the form is not UTF-8 encoded") from None
    headers = Headers(request.headers)
    headers.remove("Content-Type")
    headers.remove("Content-Length")
    args: MultiDict = MultiDict()
    body = b""
    for name, value in form:
        if name.lower() in HEADER_FIELDS:
            headers[HEADER_FIELDS[name.lower()]] = value
        elif name == "content":
            body = value.encode("utf-8")
        else:
            args.add(name, value)
    if body and "Content-Type" not in headers:
        headers["Content-Type"] = "application/json"
    return XapiRequest(method, args, headers, body)
