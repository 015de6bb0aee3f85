"""``GET /api/v1/openapi.json``: the OpenAPI 3 document of the admin and analytics APIs."""

from __future__ import annotations

from flask import Blueprint, jsonify

from lrs.http.openapi import document

blueprint = Blueprint("openapi", __name__)


@blueprint.get("/openapi.json")
def openapi():
    return jsonify(document())
