"""Strict JSON: what Polku accepts as JSON anywhere, so that nothing reaches the log that a
projection (SQLite, PostgreSQL, a strict JSON client reading it back) cannot take.

Beyond RFC 8259 syntax, a document is refused when it

* repeats a key within one object (the two values would make it mean two things);
* nests deeper than :data:`MAX_DEPTH`;
* holds a number that is not finite: ``NaN``, ``Infinity``, ``-Infinity`` (not JSON, though
  Python's parser takes them) or a literal too large for a double (``1e999``); JSON has no way
  to write such a value back;
* holds a string -- value or key -- with U+0000 (PostgreSQL text cannot store it) or a lone
  surrogate (``"\\ud800"``: not a Unicode scalar value, so not encodable as UTF-8);
* holds an integer of more than :data:`MAX_DIGITS` digits (Python reads no longer one);
* holds more than :data:`MAX_VALUES` values: what a document costs to check and validate grows
  with its values, and a body within the size limit can hold millions of small ones.

Problems name where they are, as ``actor.mbox`` or ``result.extensions``: the path of the value,
or of the object whose key is at fault. This module is pure and imports nothing of Polku.
"""

from __future__ import annotations

import json
import math
from typing import Any

#: Statements nest a dozen levels; extensions a few more. Deeper JSON is refused, not recursed into.
MAX_DEPTH = 64
#: The longest integer literal taken (Python's own limit on reading one).
MAX_DIGITS = 4300
#: The most values (objects, arrays, strings, numbers, literals) one document may hold: a thousand
#: statements of 200 values each.
MAX_VALUES = 200_000


class JsonProblem(ValueError):
    """Why a text is not strict JSON; ``path`` names where (empty for the whole document)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}" if path else problem)
        self.path = path
        self.problem = problem


def loads(text: str) -> Any:
    """Parse ``text`` as strict JSON, or raise :class:`JsonProblem`."""
    made = 0

    def counted(value: Any) -> Any:
        """Objects and numbers are counted as the parser makes them, so that a body of millions of
        them is refused once it passes :data:`MAX_VALUES`, not after all are made."""
        nonlocal made
        made += 1
        if made > MAX_VALUES:
            raise JsonProblem("", f"holds more than {MAX_VALUES} JSON values")
        return value

    try:
        document = json.loads(
            text,
            object_pairs_hook=lambda pairs: counted(_no_repeated_keys(pairs)),
            parse_constant=lambda name: counted(_no_constant(name)),
            parse_float=lambda literal: counted(_finite(literal)),
            parse_int=lambda literal: counted(_readable_int(literal)),
        )
    except JsonProblem:
        raise
    except RecursionError:
        raise JsonProblem("", f"nests JSON deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise JsonProblem("", f"is not valid JSON ({_position(exc)})") from None
    check(document)
    return document


def check(document: Any) -> None:
    """Raise :class:`JsonProblem` for the first string or depth problem in a parsed document, or
    at the object or array that takes it past :data:`MAX_VALUES` values (iteratively: no
    recursion limit; never more than that many values looked at)."""
    stack: list[tuple[Any, str, int]] = [(document, "", 1)]
    values = 1
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            problem = text_problem(value)
            if problem:
                raise JsonProblem(path, problem)
        elif isinstance(value, _TooLong):
            raise JsonProblem(path, f"must be a number of at most {MAX_DIGITS} digits")
        elif isinstance(value, _NotFinite):
            raise JsonProblem(path, f"must be a finite number, not {value.literal[:20]}")
        elif isinstance(value, float) and not math.isfinite(value):
            raise JsonProblem(path, "must be a finite number")
        elif isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                raise JsonProblem("", f"nests JSON deeper than {MAX_DEPTH} levels")
            values += len(value)
            if values > MAX_VALUES:
                raise JsonProblem(path, f"takes the document past {MAX_VALUES} JSON values")
            if isinstance(value, dict):
                for key, item in value.items():
                    problem = text_problem(key)
                    if problem:
                        raise JsonProblem(path, f"a key {problem}")
                    stack.append((item, f"{path}.{key}" if path else key, depth + 1))
            else:
                stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value))


def text_problem(value: str) -> str | None:
    """Why a string cannot be stored and served back, or None."""
    if "\x00" in value:
        return "must not contain U+0000 (NUL)"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must hold only Unicode scalar values (a lone surrogate such as \\ud800 is not one)"
    return None


class RepeatedKey(JsonProblem):
    def __init__(self, key: str) -> None:
        super().__init__("", f"the key {key!r} appears twice in one JSON object")
        self.key = key


def _no_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise RepeatedKey(key)
        result[key] = value
    return result


class _NotFinite:
    """Stands in for a non-finite number while parsing, so that :func:`check` can name where it is."""

    def __init__(self, literal: str) -> None:
        self.literal = literal


def _no_constant(name: str) -> _NotFinite:
    return _NotFinite(name)


def _finite(literal: str) -> float | _NotFinite:
    value = float(literal)
    return value if math.isfinite(value) else _NotFinite(literal)


class _TooLong(_NotFinite):
    """Stands in for an integer literal too long to read, so that :func:`check` can name where it is."""


def _readable_int(literal: str) -> int | _TooLong:
    return _TooLong(literal) if len(literal.lstrip("-")) > MAX_DIGITS else int(literal)


def _position(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    return "malformed"
