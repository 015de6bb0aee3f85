"""The one agent identity of Polku (xAPI 2.0.0 Data 2.4.2.3 Inverse Functional Identifier; 1.0.3
Data 2.4.2.3). The one validator of an ``agent`` request parameter, which checks it as a
statement's actor is, lives with the statement validator: :func:`schemas.validation.agent_parameter`.

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
