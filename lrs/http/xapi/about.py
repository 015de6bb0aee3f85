"""The About resource (xAPI 2.0.0 Communication 2.8): versions spoken, no authentication."""

from flask import Blueprint, jsonify

from lrs.config.settings import SUPPORTED_VERSIONS

blueprint = Blueprint("about", __name__)


@blueprint.get("/about")
def about():
    return jsonify({"version": list(SUPPORTED_VERSIONS), "extensions": {}})
