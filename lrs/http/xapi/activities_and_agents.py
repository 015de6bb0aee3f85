"""The Activities Resource and the Agents Resource (xAPI 2.0.0 Communication 2.5 and 2.4; 1.0.3
Part Three the same sections): what the statements say about an activity or an agent.

``GET /activities?activityId=`` answers the canonical Activity object, merged from every
definition statements gave it, and an Activity with only its id for one never seen (2.5.s2).
``GET /agents?agent=`` answers the Person object for an Agent: its identifier and every name
seen for it. Both read projections of the log; before answering they wait (bounded) until the
projection has caught up with the statement store, so a client that has just stored a statement
sees it reflected.
"""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from events import Position
from lrs.http.auth import require
from lrs.http import parameters
from lrs.http.current import services
from lrs.http.versioning import HEADER, negotiate
from projections.activities import ActivityDefinitions, ActivityReader
from projections.agents import AgentNames, AgentReader
from projections.statements import StatementStore

blueprint = Blueprint("activities_and_agents", __name__)

#: Scopes besides ``all`` that may read activities and agents (Communication 4.2 scope table).
READ_SCOPES = ("define", "all/read")


@blueprint.before_request
def _version():
    g.xapi_version = negotiate(request.headers.get(HEADER))


@blueprint.get("/activities")
@require(*READ_SCOPES)
def get_activity():
    parameters.only({"activityId"})
    activity_id = parameters.iri("activityId")
    _caught_up(ActivityDefinitions.name)
    return jsonify(ActivityReader(services().engine).activity(activity_id))


@blueprint.get("/agents")
@require(*READ_SCOPES)
def get_person():
    parameters.only({"agent"})
    agent, _key = parameters.agent("agent")
    _caught_up(AgentNames.name)
    return jsonify(AgentReader(services().engine).person(agent))


def _caught_up(projection: str) -> None:
    """Wait (bounded) until ``projection`` has applied what the statement store has: a statement
    a client could read back is then reflected here too. Answer anyway once the bound passes."""
    svc = services()
    applied = svc.consistency.applied(StatementStore.name)
    positions = [Position(partition, a.next_offset - 1) for partition, a in applied.items() if a.next_offset > 0]
    svc.consistency.wait_for(projection, positions, svc.settings.consistency_wait_s)
