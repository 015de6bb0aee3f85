"""JSON Schemas for xAPI objects, shipped as package data (``schemas/*.json``)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def load(name: str) -> dict[str, Any]:
    """The schema ``schemas/<name>.json`` as a dict, e.g. ``load("statement")``."""
    return json.loads(resources.files(__name__).joinpath(f"{name}.json").read_text(encoding="utf-8"))
