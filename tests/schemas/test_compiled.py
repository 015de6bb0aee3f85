"""The compiled schema check (schemas/compiled.py) decides as jsonschema does: a statement it
passes is one jsonschema finds nothing wrong with, and one it refuses is one jsonschema refuses,
for valid statements and for statements broken anywhere (a value replaced, a key dropped,
added or renamed, at any depth)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from schemas.compiled import Unsupported, compile_check
from schemas.validation import _fast_check, _validator
from tests.fixtures.statements import VALID_IN_2_0_ONLY, VALID_IN_BOTH

RULES = ["1.0", "2.0"]
BASES = list(VALID_IN_BOTH.values()) + list(VALID_IN_2_0_ONLY.values())

_text = st.sampled_from(
    ["", "Agent", "Group", "Activity", "StatementRef", "SubStatement", "contextAgent", "contextGroup",
     "mailto:aino@example.com", "aino@example.com", "http://example.com/a", "not an iri", "en-US", "en_US!",
     "6690e6c9-3ef0-4ed3-8b37-7f3964730bee", "6690e6c9", "http://adlnet.gov/expapi/verbs/voided",
     "2024-05-04T17:00:00.000Z", "2024-05-04T17:00:00", "2.0.0", "1.0.3", "3.0", "PT1H", "P1X", "choice",
     "text/plain", "cd9b00a5611f94eaa7b1661edab97606cd9b00a5", "id", "mbox", "member", "objectType"]
) | st.text(max_size=6)
_scalars = st.none() | st.booleans() | st.integers(-3, 3) | st.floats(-2, 2, allow_nan=False) | _text
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3), max_leaves=8)


def _places(value: Any, path: tuple = ()) -> list[tuple]:
    """Every path into a JSON value (dict keys and list indexes)."""
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _places(item, path + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _places(item, path + (i,))
    return found


@st.composite
def broken_statements(draw) -> Any:
    statement = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 3))):
        places = _places(statement)
        path = draw(st.sampled_from(places))
        if not path:
            continue
        parent = statement
        for part in path[:-1]:
            parent = parent[part]
        change = draw(st.sampled_from(["replace", "drop", "add", "rename"]))
        if change == "replace":
            parent[path[-1]] = draw(_values)
        elif change == "drop" and isinstance(parent, dict):
            del parent[path[-1]]
        elif change == "rename" and isinstance(parent, dict):
            parent[draw(_text)] = parent.pop(path[-1])
        elif isinstance(parent, dict):
            parent[draw(_text)] = draw(_values)
    return statement


def _jsonschema_finds_nothing(statement: Any, rules: str) -> bool:
    return next(_validator(rules).iter_errors(statement), None) is None


@pytest.mark.parametrize("rules", RULES)
@pytest.mark.parametrize("statement", BASES, ids=list(VALID_IN_BOTH) + list(VALID_IN_2_0_ONLY))
def test_compiled_check_passes_every_valid_statement_as_jsonschema_does(statement, rules):
    assert _fast_check(rules)(statement) is _jsonschema_finds_nothing(statement, rules)


@pytest.mark.parametrize("rules", RULES)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(statement=broken_statements())
def test_compiled_check_decides_as_jsonschema_on_broken_statements(statement, rules):
    assert _fast_check(rules)(statement) is _jsonschema_finds_nothing(statement, rules)


@pytest.mark.parametrize("rules", RULES)
@settings(max_examples=200, deadline=None)
@given(statement=_values)
def test_compiled_check_decides_as_jsonschema_on_any_json(statement, rules):
    assert _fast_check(rules)(statement) is _jsonschema_finds_nothing(statement, rules)


@pytest.mark.parametrize(
    "schema",
    [{"type": "object", "patternProperties": {"^x-": {}}}, {"type": "decimal"}, {"const": 1}, {"$ref": "#/$defs/X"}],
)
def test_a_schema_the_compiler_does_not_implement_is_refused_so_jsonschema_decides_alone(schema):
    with pytest.raises(Unsupported):
        compile_check(schema, Draft202012Validator, None)
