"""The credentials API (``/api/v1/credentials``, scope ``admin``): the same life cycle as
``polku credentials``.

``GET /credentials`` lists them and ``GET /credentials/{key}`` shows one (never a secret); ``POST /credentials`` creates one (201, its
secret in this response only); ``DELETE /credentials/{key}`` revokes one for good (200, the
credential as it is now); ``POST /credentials/{key}/rotate`` gives it a new secret (200, the new
secret in this response only; the old one stops working at once). Not xAPI: no
``X-Experience-API-Version`` header is needed.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request, url_for

from lrs.shapes.api_schemas import CredentialIn, load
from lrs.http.auth import authorize, require
from lrs.stores.credentials import SEPARATE_SCOPES, CredentialError, CredentialRevoked, NameTaken, UnknownCredential, parse_expiry
from lrs.errors import BadRequest, Conflict, Forbidden, NotFound
from lrs.http.parameters import json_body
from lrs.http.current import services

blueprint = Blueprint("credentials", __name__)


def _refusal(exc: CredentialError):
    if isinstance(exc, NameTaken) or isinstance(exc, CredentialRevoked):
        return Conflict(str(exc))
    if isinstance(exc, UnknownCredential):
        return NotFound(str(exc))
    return BadRequest(str(exc))


@blueprint.get("/credentials")
@require("admin")
def list_credentials():
    return jsonify([c.public() for c in services().credentials.list()])


@blueprint.get("/credentials/<key>")
@require("admin")
def get_credential(key: str):
    credential = services().credentials.get(key)
    if credential is None:
        raise NotFound(f"key: no credential {key[:64]!r}")
    return jsonify(credential.public())


def _may_grant(scopes: set[str] | frozenset[str]) -> None:
    """Scopes ``all`` does not grant (erase, keys) are given over HTTP only by a credential that
    holds them itself: an ``admin`` or ``all`` credential cannot make itself an eraser."""
    caller = authorize(request.headers.get("Authorization"), "admin")
    missing = sorted(set(scopes) & SEPARATE_SCOPES - caller.scopes)
    if missing:
        raise Forbidden(f"scopes: only a credential holding {', '.join(missing)} may give it (or `polku credentials create`)")


@blueprint.post("/credentials")
@require("admin")
def create_credential():
    data = load(CredentialIn(), json_body())
    _may_grant(set(data["scopes"]))
    try:
        expires = parse_expiry(data["expires"]) if data["expires"] is not None else None
        credential, secret = services().credentials.create(data["name"], set(data["scopes"]), expires)
    except CredentialError as exc:
        raise _refusal(exc) from None
    response = jsonify(credential.public() | {"secret": secret})
    response.status_code = 201
    response.headers["Location"] = url_for("credentials.get_credential", key=credential.key)
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.delete("/credentials/<key>")
@require("admin")
def revoke_credential(key: str):
    try:
        credential = services().credentials.revoke(key)
    except CredentialError as exc:
        raise _refusal(exc) from None
    return jsonify(credential.public())


@blueprint.post("/credentials/<key>/rotate")
@require("admin")
def rotate_credential(key: str):
    held = services().credentials.get(key)
    if held is not None:
        _may_grant(held.scopes)
    try:
        credential, secret = services().credentials.rotate(key)
    except CredentialError as exc:
        raise _refusal(exc) from None
    response = jsonify(credential.public() | {"secret": secret})
    response.headers["Cache-Control"] = "no-store"
    return response
