"""Statement validation: JSON in, a list of precise problems out.

``validate_statement(statement, version)`` checks one statement; ``validate_statements(body,
version)`` checks a request body (one statement, or a non-empty array of them, with no id used
twice). Each :class:`Problem` names the field, e.g. ``actor.mbox: must start with 'mailto:'``.
Validation is pure: no I/O and no storage; whether an id already exists is the conflict check's
business, not this module's.

How it works, and where each version's rules live:

1. ``schemas/statement.json`` describes the statement's shape for both versions (every property,
   its type, which are required, which extra properties are refused, IRIs, UUIDs, language maps,
   interaction types, voiding). Its unions are if/then on ``objectType``, so a failure is reported
   inside the one branch the statement meant instead of "is not valid under any of the given
   schemas".
2. The formats it names are checked by :mod:`schemas.rules`. Two of them depend on the
   version: ``date-time`` (2.0.x: RFC 3339; 1.0.x: ISO 8601 extended or basic; both with a time
   zone, never "-00:00") and ``xapi-version`` (1.0.x rules: "1.0" / "1.0.x"; 2.0.x rules: "2.0.x",
   and "1.0.x" too, as 2.0 §4.2.4.2 and its conformance suite ask).
3. The rules a schema says badly — exactly one inverse functional identifier, anonymous Groups,
   OAuth authorities, score ranges, revision/platform, interaction component lists, contextAgents
   and contextGroups only in 2.0.x — run after it (:func:`schemas.rules.statement_issues`).

The version argument is the request's ``X-Experience-API-Version``: any 1.0.x gets the 1.0 rules,
any 2.0.x the 2.0 rules. Both versions reject properties the spec does not define (a SHALL in 2.0
§4.2.1, a SHOULD* in 1.0.3 §2.2 that Polku follows).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, ValidationError
from jsonschema.exceptions import best_match

import schemas
from schemas import rules as rules_
from schemas import strict_json
from schemas.agents import IFIS, AgentProblem, agent_key
from schemas.compiled import Unsupported, compile_check
from schemas.timestamps import parse_timestamp
from schemas.versions import rules_for


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a statement: where (a dotted path with ``[i]`` for array items, empty
    for the whole body) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def validate_statement(statement: Any, version: str) -> list[Problem]:
    """Everything wrong with one statement under the rules of ``version`` ("1.0.3", "2.0.0", ...)."""
    rules = rules_for(version)
    problems = _Collector()
    if not _fast_check(rules)(statement):  # valid by the compiled check: jsonschema would find nothing
        for error in _validator(rules).iter_errors(statement):
            problems.add_all(_translate(error, rules))
    problems.add_all(Problem(path, message) for path, message in rules_.statement_issues(statement, rules))
    return problems.items


#: Validation of a request stops once this many problems are found: a client needs the first
#: few to fix its request, and a large body of junk must not cost the server more than that.
MAX_PROBLEMS = 20


def validate_statements(body: Any, version: str, max_problems: int = MAX_PROBLEMS) -> list[Problem]:
    """What is wrong with a statements request body (the first ``max_problems`` things): one
    statement object, or a non-empty array of them (paths then start with ``[i]``) in which no
    id appears twice."""
    if isinstance(body, dict):
        return validate_statement(body, version)[:max_problems]
    if not isinstance(body, list) or not body:
        return [Problem("", "the body must be a statement object or a non-empty array of statements")]
    problems: list[Problem] = []
    for i, statement in enumerate(body):
        problems += [Problem(_index_path(i, p.path), p.message) for p in validate_statement(statement, version)]
        if len(problems) >= max_problems:
            return problems[:max_problems]
    problems += [Problem(path, message) for path, message in rules_.duplicate_ids(body)]
    return problems[:max_problems]


# --------------------------------------------------------------------------------------------
# The compiled validators, one per major version, built on first use: jsonschema's, which words
# the problems, and the yes/no check of schemas.compiled, which decides first (and much faster)
# whether there are any.
# --------------------------------------------------------------------------------------------


_PROBE_VERB = "http://adlnet.gov/expapi/verbs/experienced"
_PROBE_ACTIVITY = "http://example.com/probe"


def agent_parameter(raw: str, version: str, *, name: str = "agent", groups: bool = False) -> tuple[dict[str, Any], str]:
    """An ``agent`` request parameter (JSON text) validated as a statement's actor is, and its key.

    ``groups``: an identified Group is allowed too (the statements resource's filter); the document
    and Agents resources take an Agent only. :class:`AgentProblem` names the field otherwise.
    """
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


def _strings_only(check: Callable[[str], bool]) -> Callable[[Any], bool]:
    """Formats apply to strings; other types are the "type" keyword's concern."""
    return lambda value: not isinstance(value, str) or check(value)


@cache
def _validator(rules: str) -> Draft202012Validator:
    return Draft202012Validator(_schema(), format_checker=_format_checker(rules))


@cache
def _fast_check(rules: str) -> Callable[[Any], bool]:
    """Whether a statement is valid under the schema, as ``_validator(rules).is_valid`` says
    (:mod:`schemas.compiled`); if the schema cannot be compiled, "don't know" (False) for all."""
    try:
        return compile_check(_schema(), Draft202012Validator, _format_checker(rules))
    except Unsupported:
        return lambda statement: False


@cache
def _schema() -> dict[str, Any]:
    schema = schemas.load("statement")
    Draft202012Validator.check_schema(schema)
    return _inline_refs(schema)


@cache
def _format_checker(rules: str) -> FormatChecker:
    checks: dict[str, Callable[[str], bool]] = {
        "uuid": rules_.is_uuid,
        "iri": rules_.is_iri,
        "irl": rules_.is_iri,
        "mailto-iri": rules_.is_mailto_iri,
        "sha1-hex": rules_.is_sha1_hex,
        "sha2-hex": rules_.is_sha2_hex,
        "media-type": rules_.is_media_type,
        "language-tag": rules_.is_language_tag,
        "duration": rules_.is_duration,
        "date-time": lambda value: parse_timestamp(value, rules) is not None,
        "xapi-version": lambda value: rules_.is_version(value, rules),
    }
    checker = FormatChecker(formats=())
    for name, check in checks.items():
        checker.checks(name)(_strings_only(check))
    return checker


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with every ``{"$ref": "#/$defs/X"}`` replaced by X itself.

    The file keeps ``$defs`` for readability; resolving a reference on every use costs jsonschema
    about a third of its time, and this schema has no cycles, so it is inlined once (shared dicts,
    no copies). A ``$ref`` with sibling keywords becomes ``{"allOf": [X], ...siblings}``.
    """
    defs, done = schema.get("$defs", {}), {}

    def resolve(ref: str) -> dict[str, Any]:
        name = ref.removeprefix("#/$defs/")
        if name not in done:
            done[name] = walk(defs[name])
        return done[name]

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        rest = {key: walk(value) for key, value in node.items() if key not in ("$ref", "$defs")}
        if "$ref" not in node:
            return rest
        target = resolve(node["$ref"])
        return {"allOf": [target], **rest} if rest else target

    return walk(schema)


# --------------------------------------------------------------------------------------------
# Turning jsonschema errors into Problems.
# --------------------------------------------------------------------------------------------

_FORMAT_MESSAGES: dict[str, str | dict[str, str]] = {
    "uuid": "must be a UUID in standard string form (8-4-4-4-12 hex digits)",
    "iri": "must be an IRI with a scheme, such as 'http://example.com/path'",
    "irl": "must be an IRL with a scheme, such as 'https://example.com/path'",
    "mailto-iri": "must be 'mailto:' followed by an email address",
    "sha1-hex": "must be the hex-encoded SHA-1 (40 hex digits) of a mailto IRI",
    "sha2-hex": "must be a hex-encoded SHA-2 digest (SHA-224, SHA-256, SHA-384 or SHA-512)",
    "media-type": "must be an Internet media type such as 'text/plain'",
    "language-tag": "must be an RFC 5646 language tag such as 'en-US'",
    "duration": "must be an ISO 8601 duration such as 'PT1H30M' or 'P4W'",
    "date-time": {
        "2.0": "must be an RFC 3339 timestamp with a time zone, such as '2024-05-04T17:00:00.000Z'",
        "1.0": "must be an ISO 8601 timestamp with a time zone, such as '2024-05-04T17:00:00.000Z'",
    },
    "xapi-version": {
        "1.0": "must be '1.0' or '1.0.x' under xAPI 1.0.x",
        "2.0": "must be '2.0.x' (or '1.0.x') under xAPI 2.0.x",
    },
}

_NEGATIVE_ZERO_OFFSET = re.compile(r"T.*-00(?::?00)?$")

_TYPE_NAMES = {
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "true or false",
}


class _Collector:
    """Keeps the first problem reported for each path, in order."""

    def __init__(self) -> None:
        self.items: list[Problem] = []
        self._paths: set[str] = set()

    def add_all(self, problems: Iterable[Problem]) -> None:
        for problem in problems:
            if problem.path not in self._paths:
                self._paths.add(problem.path)
                self.items.append(problem)


def _translate(error: ValidationError, rules: str) -> Iterator[Problem]:
    if error.context:  # anyOf / oneOf: report the branch that came closest
        yield from _translate(best_match(error.context), rules)
        return
    path = _path(error.absolute_path)
    keyword, value, instance = error.validator, error.validator_value, error.instance
    custom = _custom_message(error)
    if keyword == "required":
        for name in value:
            if isinstance(instance, dict) and name not in instance:
                yield Problem(_join(path, name), custom or "is required")
    elif keyword == "additionalProperties":
        known = error.schema.get("properties", {})
        for name in instance:
            if name not in known:
                yield Problem(_join(path, name), custom or f"is not allowed in {_article(error.schema)}")
    elif keyword == "dependentRequired":
        for name, needed in value.items():
            if name in instance:
                for each in needed:
                    if each not in instance:
                        yield Problem(_join(path, each), custom or f"is required when {name} is present")
    elif keyword == "format":
        message = custom or _format_message(value, instance, rules)
        if list(error.schema_path)[-2:-1] == ["propertyNames"]:
            yield Problem(path, f"key {instance!r} {message}")
        else:
            yield Problem(path, message)
    else:
        yield Problem(path, custom or _message(keyword, value, instance, path))


def _message(keyword: str | None, value: Any, instance: Any, path: str) -> str:
    if keyword == "type":
        expected = " or ".join(_TYPE_NAMES.get(t, t) for t in ([value] if isinstance(value, str) else value))
        if not path:
            return f"a statement must be {expected}"
        return f"must be {expected}, not null" if instance is None else f"must be {expected}"
    if keyword == "const":
        return f"must be {_show(value)}"
    if keyword == "enum":
        return "must be one of " + ", ".join(_show(v) for v in value)
    if keyword == "minItems":
        return "must not be empty" if value == 1 else f"must have at least {value} items"
    if keyword == "minimum":
        return f"must be at least {value}"
    if keyword == "maximum":
        return f"must be at most {value}"
    return "is not allowed here"


def _format_message(name: str, instance: Any, rules: str) -> str:
    if name == "mailto-iri" and isinstance(instance, str) and not instance.startswith("mailto:"):
        return "must start with 'mailto:'"
    if name == "date-time" and isinstance(instance, str):
        if _NEGATIVE_ZERO_OFFSET.search(instance):
            return "must not use the offset '-00:00' (it means 'local offset unknown'); use 'Z' or '+00:00'"
        if parse_timestamp(instance + "Z", rules) is not None:
            return "must include a time zone, such as 'Z' or '+02:00'"
    message = _FORMAT_MESSAGES.get(name, f"must be a valid {name}")
    return message[rules] if isinstance(message, dict) else message


def _custom_message(error: ValidationError) -> str | None:
    """The schema's own ``errorMessage`` for this keyword, if it has one."""
    custom = error.schema.get("errorMessage") if isinstance(error.schema, dict) else None
    if isinstance(custom, dict):
        custom = custom.get(error.validator)
    return custom if isinstance(custom, str) else None


def _article(schema: dict) -> str:
    title = schema.get("title", "this object")
    return f"{'an' if title[0].lower() in 'aeiou' else 'a'} {title}" if title != "this object" else title


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else json.dumps(value)


def _path(parts: Iterable[str | int]) -> str:
    path = ""
    for part in parts:
        path = f"{path}[{part}]" if isinstance(part, int) else _join(path, part)
    return path


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _index_path(index: int, path: str) -> str:
    if not path or path.startswith("["):
        return f"[{index}]{path}"
    return f"[{index}].{path}"
