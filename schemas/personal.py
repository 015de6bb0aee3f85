"""Where a statement holds personal data, and the anonymous agent that takes an erased person's place.

One walk over a statement's agents (:func:`agent_slots`) serves the sealing of events on the log
(events/sealing.py: each Agent or Group sealed with the key of the person it identifies) and the
erasure in the read models (:func:`anonymise`): both reach exactly the same places, so a view
that erased a person in place equals one rebuilt from a log whose copies of them are unreadable.

Personal parts of a statement (xAPI 2.0.0 Data 2.4):
- every Agent and Group: the actor, an Agent or Group object, ``context.instructor``,
  ``context.team``, ``context.contextAgents[].agent``, ``context.contextGroups[].group``
  (2.0.0), and the same parts of a SubStatement object; a Group's members each on their own;
- what the actor did or said: ``result`` and ``context.extensions`` (and a SubStatement's).

The authority is not among them: Polku sets it to the credential's account, never a person.
"""

from __future__ import annotations

import copy
from typing import Any, Iterator

from schemas.agents import person_key

#: The fixed agent an erased person becomes where they appear in another person's statement.
ERASED_HOME_PAGE = "https://polku.invalid/erased"
ANONYMOUS_AGENT: dict[str, Any] = {"objectType": "Agent", "account": {"homePage": ERASED_HOME_PAGE, "name": "erased"}}
ANONYMOUS_GROUP: dict[str, Any] = {"objectType": "Group", "account": {"homePage": ERASED_HOME_PAGE, "name": "erased"}}

#: The actor's own words and results, as paths from the statement.
FREE_TEXT_PATHS: tuple[tuple[str, ...], ...] = (
    ("result",),
    ("context", "extensions"),
    ("object", "result"),
    ("object", "context", "extensions"),
)

Path = tuple[Any, ...]


def anonymous(kind: str) -> dict[str, Any]:
    """The anonymous agent of ``kind`` (``Agent`` or ``Group``): a fresh copy."""
    return copy.deepcopy(ANONYMOUS_GROUP if kind == "Group" else ANONYMOUS_AGENT)


def is_anonymous(agent: Any) -> bool:
    account = agent.get("account") if isinstance(agent, dict) else None
    return isinstance(account, dict) and account.get("homePage") == ERASED_HOME_PAGE


def agent_slots(statement: dict[str, Any]) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every Agent or Group of ``statement`` with its path, parents before their members."""
    yield from _slots(statement, ())
    obj = statement.get("object")
    if isinstance(obj, dict) and obj.get("objectType") == "SubStatement":
        yield from _slots(obj, ("object",))


def _slots(stmt: dict[str, Any], base: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    yield from _agent(stmt.get("actor"), base + ("actor",))
    obj = stmt.get("object")
    if isinstance(obj, dict) and obj.get("objectType") in ("Agent", "Group"):
        yield from _agent(obj, base + ("object",))
    context = stmt.get("context")
    if not isinstance(context, dict):
        return
    yield from _agent(context.get("instructor"), base + ("context", "instructor"))
    yield from _agent(context.get("team"), base + ("context", "team"))
    for i, entry in enumerate(context.get("contextAgents") or []):
        if isinstance(entry, dict):
            yield from _agent(entry.get("agent"), base + ("context", "contextAgents", i, "agent"))
    for i, entry in enumerate(context.get("contextGroups") or []):
        if isinstance(entry, dict):
            yield from _agent(entry.get("group"), base + ("context", "contextGroups", i, "group"))


def _agent(agent: Any, path: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    if not isinstance(agent, dict):
        return
    yield path, agent
    if agent.get("objectType") == "Group":
        for i, member in enumerate(agent.get("member") or []):
            if isinstance(member, dict):
                yield path + ("member", i), member


def get(document: Any, path: Path) -> Any:
    for step in path:
        if isinstance(document, dict) and isinstance(step, str):
            document = document.get(step)
        elif isinstance(document, list) and isinstance(step, int) and 0 <= step < len(document):
            document = document[step]
        else:
            return None
    return document


def put(document: Any, path: Path, value: Any) -> None:
    """Set ``value`` at ``path`` (its parent must exist)."""
    parent = get(document, path[:-1])
    parent[path[-1]] = value


def persons_in(statement: dict[str, Any]) -> set[tuple[str, bool]]:
    """(person key, is the actor?) of every identified Agent or Group the statement names."""
    found: set[tuple[str, bool]] = set()
    for path, agent in agent_slots(statement):
        key = person_key(agent)
        if key is not None:
            found.add((key, path == ("actor",)))
    return found


def anonymise(statement: dict[str, Any], persons: set[str]) -> tuple[dict[str, Any], bool]:
    """``statement`` with every Agent or Group that identifies one of ``persons`` (person keys)
    replaced by the anonymous agent of its kind (a Group keeps its other members); and whether
    anything changed. The input is not changed."""
    result = copy.deepcopy(statement)
    changed = False
    for path, agent in list(agent_slots(result)):
        if person_key(agent) in persons:
            replacement = anonymous(agent.get("objectType", "Agent"))
            if agent.get("objectType") == "Group" and agent.get("member"):
                replacement["member"] = agent["member"]
            put(result, path, replacement)
            changed = True
    return result, changed
