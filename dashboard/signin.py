"""Signing in to the dashboard: a credential's key and secret, once, for a signed session cookie.

- The cookie is Flask's session: signed (itsdangerous, HMAC) with a key derived from the
  installation's signing key in the database (:mod:`lrs.stores.credentials`), so every worker and host
  accepts it; HttpOnly, SameSite=Lax, and it expires ``SESSION_LIFETIME`` after signing in
  (checked on the server from the sign-in time the session holds, not only by the browser). It holds the credential's key, never the
  secret; each request looks the credential up again, so a deleted, revoked or expired credential,
  a rotated secret or a scope taken away ends its sessions at once.
- Every POST form carries a CSRF token kept in the session and compared in constant time.
- An unknown key and a wrong secret get the same answer, after the same work
  (:meth:`lrs.stores.credentials.CredentialStore.verify`).
- Nothing here answers 401 with ``WWW-Authenticate``: a browser never shows its Basic-auth box
  for the dashboard; a reader who is not signed in is sent to the sign-in page.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable
from urllib.parse import urlsplit

from flask import Flask, abort, g, redirect, request, session, url_for

from events import utc_iso
from lrs.stores.credentials import Credential
from lrs.http.current import EXTENSION, services

#: How long a sign-in lasts.
SESSION_LIFETIME = timedelta(hours=8)
COOKIE_NAME = "polku_dashboard"
SCOPES = ("analytics", "admin")


def configure(app: Flask) -> None:
    """The session's signing key and cookie flags (called once, when the blueprint is registered)."""
    signing_key = app.extensions[EXTENSION].signing_key
    app.secret_key = hmac.new(signing_key, b"polku-dashboard-session", hashlib.sha256).hexdigest()
    app.config.update(
        SESSION_COOKIE_NAME=COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
        SESSION_REFRESH_EACH_REQUEST=False,  # the lifetime counts from signing in, not from the last page
    )


def csrf_token() -> str:
    """This session's CSRF token (made on first use)."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def csrf_ok() -> bool:
    expected = session.get("csrf")
    given = request.form.get("csrf", "")
    return bool(expected) and hmac.compare_digest(expected.encode(), given.encode())


@dataclass(frozen=True)
class Refusal:
    status: int
    message: str


UNKNOWN = Refusal(401, "Unknown key or wrong secret.")
NO_SCOPE = Refusal(403, "This credential has neither the analytics nor the admin scope.")


def sign_in(key: str, secret: str) -> Refusal | None:
    """Start a session for the credential when the key and secret hold and it may use the
    dashboard; else the refusal: the same one for an unknown key and for a wrong secret."""
    credential = services().credentials.verify(key, secret)
    if credential is None:
        return UNKNOWN
    if not credential.allows(*SCOPES):
        return NO_SCOPE
    language = session.get("lang")
    session.clear()  # a new session: nothing of the one before sign-in (its CSRF token) carries over
    session.permanent = True
    session["key"] = credential.key
    session["gen"] = credential.generation  # a rotation of the secret ends this session
    session["at"] = int(time.time())
    session["csrf"] = secrets.token_urlsafe(32)
    if language:
        session["lang"] = language
    return None


def sign_out() -> None:
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language


def current() -> Credential | None:
    """The signed-in credential of this request, if it still exists and still has a dashboard scope."""
    if "dashboard_credential" in g:
        return g.dashboard_credential
    credential = None
    key, at = session.get("key"), session.get("at")
    fresh = isinstance(at, int) and 0 <= time.time() - at <= SESSION_LIFETIME.total_seconds()
    if isinstance(key, str) and fresh:
        found = services().credentials.get(key)
        if (
            found is not None and found.allows(*SCOPES) and found.valid_at(utc_iso())
            and session.get("gen") == found.generation
        ):
            credential = found
    g.dashboard_credential = credential
    return credential


def signed_in(view: Callable) -> Callable:
    """Route decorator: the page needs a signed-in reader; others are sent to sign in first."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if current() is None:
            if request.accept_mimetypes.best == "text/event-stream":
                abort(403)
            return redirect(url_for("dashboard.sign_in_page", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped


def safe_next(target: str | None, default: str) -> str:
    """Only a path on this site (``/…``, never ``//host`` or a scheme) is followed after a form."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target
