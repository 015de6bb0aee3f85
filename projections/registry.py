"""Every projection the runner feeds, in one list (the runner, the CLI and the server share it)."""

from __future__ import annotations

from projections.base import Projection
from projections.statements import StatementStore


def all_projections() -> list[Projection]:
    return [StatementStore()]
