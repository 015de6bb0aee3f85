"""Every projection the runner feeds, in one list (the runner, the CLI and the server share it)."""

from __future__ import annotations

from projections.activities import ActivityDefinitions
from projections.agents import AgentNames
from projections.base import Projection
from projections.cohorts import CohortProjection
from projections.statements import StatementStore


def all_projections() -> list[Projection]:
    return [StatementStore(), CohortProjection(), ActivityDefinitions(), AgentNames()]
