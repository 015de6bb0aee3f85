"""The one agent identity of Polku (xAPI 2.0.0 Data 2.4.2.3 Inverse Functional Identifier; 1.0.3
Data 2.4.2.3), and the one validator of an ``agent`` request parameter.

Every layer keys an Agent or identified Group by :func:`agent_key`: the statement store's
``agent`` filter, the documents, the Agents resource, ``statements/read/mine`` and (through
:func:`person_key`) the cohort views. A ``mailto:`` IRI is compared without regard to case
(addresses are case-insensitive in practice, and a learner's tools rarely agree on it).
"""

from __future__ import annotations

import hashlib
from typing import Any

#: The inverse functional identifiers of an Agent or identified Group (xAPI Data 2.4.2.3).
IFIS = ("mbox", "mbox_sha1sum", "openid", "account")

_PROBE_VERB = "http://adlnet.gov/expapi/verbs/experienced"
_PROBE_ACTIVITY = "http://example.com/probe"


class AgentProblem(ValueError):
    """An ``agent`` parameter that is not an Agent (or identified Group); ``str()`` names the field."""


def agent_key(agent: Any) -> str | None:
    """The inverse functional identifier of an Agent or identified Group, as one string, or None."""
    if not isinstance(agent, dict):
        return None
    if isinstance(agent.get("mbox"), str) and agent["mbox"]:
        return "mbox:" + agent["mbox"].lower()
    if isinstance(agent.get("mbox_sha1sum"), str) and agent["mbox_sha1sum"]:
        return "mbox_sha1sum:" + agent["mbox_sha1sum"].lower()
    if isinstance(agent.get("openid"), str) and agent["openid"]:
        return "openid:" + agent["openid"]
    account = agent.get("account")
    if isinstance(account, dict) and account.get("homePage") and account.get("name"):
        return f"account:{account['homePage']}|{account['name']}"
    return None


def person_key(agent: Any) -> str | None:
    """:func:`agent_key` with ``mbox`` and ``mbox_sha1sum`` made one: ``sha1:`` + the SHA-1 of the
    (lower-cased) mailto IRI, so that a tool that hashes the address and one that sends it name the
    same person. The cohort views match members by it."""
    key = agent_key(agent)
    return None if key is None else person_key_of(key)


def person_key_of(key: str) -> str:
    """:func:`person_key` of the agent whose :func:`agent_key` is ``key`` (what stores that keep
    agent keys -- documents, agent names -- match an erased person by)."""
    if key.startswith("mbox:"):
        return "sha1:" + hashlib.sha1(key.removeprefix("mbox:").encode("utf-8")).hexdigest()
    if key.startswith("mbox_sha1sum:"):
        return "sha1:" + key.removeprefix("mbox_sha1sum:")
    return key


def agent_parameter(raw: str, version: str, *, name: str = "agent", groups: bool = False) -> tuple[dict[str, Any], str]:
    """An ``agent`` request parameter (JSON text) validated as a statement's actor is, and its key.

    ``groups``: an identified Group is allowed too (the statements resource's filter); the document
    and Agents resources take an Agent only. :class:`AgentProblem` names the field otherwise.
    """
    from schemas import strict_json
    from schemas.validation import validate_statement

    kind = "an Agent or identified Group" if groups else "an Agent"
    try:
        agent = strict_json.loads(raw)  # the one JSON Polku takes: no NUL, lone surrogate, repeated key
    except strict_json.JsonProblem as exc:
        raise AgentProblem(f'{name}: must be {kind} as JSON, e.g. {{"mbox": "mailto:aino@example.org"}} ({exc.problem})') from None
    if not isinstance(agent, dict):
        raise AgentProblem(f"{name}: must be a JSON {kind.removeprefix('an ')} object")
    if not groups and agent.get("objectType", "Agent") != "Agent":
        raise AgentProblem(f"{name}: must be an Agent, not {str(agent.get('objectType'))[:20]!r}")
    present = [ifi for ifi in IFIS if ifi in agent]
    if len(present) > 1 or (not groups and not present):
        raise AgentProblem(f"{name}: must have exactly one of {', '.join(IFIS)}")
    probe = {"actor": agent, "verb": {"id": _PROBE_VERB}, "object": {"id": _PROBE_ACTIVITY}}
    problems = [p for p in validate_statement(probe, version) if p.path.startswith("actor")]
    if problems:
        raise AgentProblem(name + str(problems[0]).removeprefix("actor"))
    key = agent_key(agent)
    if key is None:
        raise AgentProblem(f"{name}: must be {kind}, not an anonymous Group")
    return agent, key
