"""HTTP Basic authentication against stored credentials, and scope checks per route."""

from __future__ import annotations

import functools
from typing import Callable

from flask import g, request
from werkzeug.datastructures import Authorization

from lrs.stores.credentials import Credential, authority_agent
from lrs.errors import Forbidden, Unauthorized
from lrs.http.current import services
from projections.statements import authority_key


def authorize(header: str | None, *scopes: str) -> Credential:
    """Authenticate an Authorization header value and demand one of ``scopes`` (``all`` always
    passes): for requests whose credentials do not arrive as the HTTP header itself, such as the
    1.0.3 Alternate Request Syntax. Sets ``g.credential``."""
    try:
        auth = Authorization.from_header(header)
    except ValueError:  # e.g. raw UTF-8 where base64 belongs
        raise Unauthorized("the Authorization header is not valid HTTP Basic credentials") from None
    credential = _verify(auth)
    if not credential.allows(*scopes):
        raise Forbidden(f"this request needs one of the scopes: {', '.join(scopes)}")
    g.credential = credential
    return credential


def _verify(auth: Authorization | None) -> Credential:
    if auth is None or auth.type != "basic" or not auth.username:
        raise Unauthorized("HTTP Basic credentials are required")
    credential = services().credentials.verify(auth.username, auth.password or "")
    if credential is None:
        raise Unauthorized("unknown key or wrong secret")
    return credential


def require(*scopes: str) -> Callable:
    """Route decorator: authenticate, then demand one of ``scopes`` (``all`` always passes)."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            authorize(request.headers.get("Authorization"), *scopes)
            return view(*args, **kwargs)

        return wrapped

    return decorate


def authority_key_of(credential: Credential) -> str:
    """The identifier key of the authority the LRS gives this credential's statements: what
    ``statements/read/mine`` reads by and what ties a credential to the agents it writes about."""
    key = authority_key({"authority": authority_agent(credential, services().settings.authority_home_page)})
    assert key is not None  # an account always identifies
    return key
