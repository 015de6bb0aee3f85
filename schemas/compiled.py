"""A JSON Schema compiled into one yes/no check: the fast path of statement validation.

jsonschema walks a schema keyword by keyword for every instance, building a validator object
for each subschema it descends into; for ``schemas/statement.json`` that is ~0.4 ms a statement,
a fifth to a quarter of the server's time on a batch POST. Nearly every statement is valid, and for a valid one
the errors jsonschema would explain are none. So :func:`compile_check` turns the (``$ref``-free)
schema into nested closures, built once, that only answer *valid or not*; a statement they pass
is valid, and one they refuse goes to jsonschema, which finds and words its problems as before.

The check must decide exactly as jsonschema does, so it implements only the keywords the
statement schema uses, with jsonschema's own meaning (types from the validator's type checker,
the same format checker, ``const``/``enum`` of strings only); a schema with any other keyword is
refused (:class:`Unsupported`) and validation then goes to jsonschema alone.
``tests/schemas/test_compiled.py`` compares the two decisions over valid statements and many
broken ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jsonschema import FormatChecker
from jsonschema.exceptions import UndefinedTypeCheck
from jsonschema.protocols import Validator

Check = Callable[[Any], bool]

#: Keywords that only describe, and never change the decision.
_ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "title", "description", "errorMessage", "$defs", "examples", "default"})
_FAST_TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


class Unsupported(ValueError):
    """The schema uses a keyword (or a value) this compiler does not implement."""


def compile_check(schema: Any, validator_class: type[Validator], format_checker: FormatChecker | None) -> Check:
    """A function telling whether an instance is valid under ``schema`` (without ``$ref``), as
    ``validator_class(schema, format_checker=format_checker).is_valid`` would."""
    return _Compiler(validator_class, format_checker).compile(schema)


def _all(checks: list[Check]) -> Check:
    checks = [c for c in checks if c is not _always]
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda v: first(v) and second(v)

    def every(v: Any) -> bool:
        for check in checks:
            if not check(v):
                return False
        return True

    return every


def _always(_: Any) -> bool:
    return True


def _never(_: Any) -> bool:
    return False


class _Compiler:
    def __init__(self, validator_class: type[Validator], format_checker: FormatChecker | None) -> None:
        self._types = validator_class.TYPE_CHECKER
        self._formats = format_checker

    def compile(self, schema: Any) -> Check:
        if schema is True:
            return _always
        if schema is False:
            return _never
        if not isinstance(schema, dict):
            raise Unsupported(f"a schema must be an object or a boolean, not {schema!r}")
        unknown = set(schema) - _ANNOTATIONS - set(_KEYWORDS) - _OBJECT_KEYWORDS - {"then", "else"}
        if unknown:
            raise Unsupported(f"keyword(s) {sorted(unknown)} are not compiled")
        checks = [_KEYWORDS[k](self, schema[k], schema) for k in _KEYWORDS if k in schema and k not in _OBJECT_KEYWORDS]
        if any(k in schema for k in _OBJECT_KEYWORDS):
            checks.append(self.object_(schema))
        return _all(checks)

    def object_(self, schema: dict) -> Check:
        """properties, additionalProperties, propertyNames and required in one pass over an object."""
        if "patternProperties" in schema:
            raise Unsupported("patternProperties")
        known = {name: self.compile(sub) for name, sub in schema.get("properties", {}).items()}
        other = self.compile(schema.get("additionalProperties", True))
        names = self.compile(schema.get("propertyNames", True))
        required = tuple(schema.get("required", ()))

        def check(v: Any) -> bool:
            if not isinstance(v, dict):
                return True
            for name in required:
                if name not in v:
                    return False
            for key, item in v.items():
                if not names(key):
                    return False
                sub = known.get(key, other)
                if not sub(item):
                    return False
            return True

        return check

    # ---- keywords ---------------------------------------------------------------------------

    def type_(self, value: Any, schema: dict) -> Check:
        names = [value] if isinstance(value, str) else list(value)
        tests = [_FAST_TYPES.get(name) or self._is_type(name) for name in names]
        if len(tests) == 1:
            return tests[0]
        return lambda v: any(test(v) for test in tests)

    def _is_type(self, name: str) -> Check:
        try:
            self._types.is_type(0, name)  # an unknown type name fails here, at compile time
        except UndefinedTypeCheck:
            raise Unsupported(f"type {name!r}") from None
        is_type = self._types.is_type
        return lambda v: is_type(v, name)

    def const(self, value: Any, schema: dict) -> Check:
        if not isinstance(value, str):  # strings equal only strings; other values need jsonschema's equal()
            raise Unsupported(f"const {value!r}")
        return lambda v: isinstance(v, str) and v == value

    def enum(self, value: Any, schema: dict) -> Check:
        if not all(isinstance(each, str) for each in value):
            raise Unsupported(f"enum {value!r}")
        allowed = frozenset(value)
        return lambda v: isinstance(v, str) and v in allowed

    def format_(self, value: Any, schema: dict) -> Check:
        checker = self._formats
        if checker is None or value not in checker.checkers:
            return _always  # jsonschema passes a format it has no check for
        func, raises = checker.checkers[value]

        def conforms(v: Any) -> bool:
            try:
                return bool(func(v))
            except raises:
                return False

        return conforms

    def dependent_required(self, value: Any, schema: dict) -> Check:
        pairs = tuple((name, tuple(needed)) for name, needed in value.items())
        return lambda v: not isinstance(v, dict) or all(
            all(each in v for each in needed) for name, needed in pairs if name in v
        )

    def items(self, value: Any, schema: dict) -> Check:
        if "prefixItems" in schema:
            raise Unsupported("prefixItems")
        check = self.compile(value)

        def each(v: Any) -> bool:
            if isinstance(v, list):
                for item in v:
                    if not check(item):
                        return False
            return True

        return each

    def min_items(self, value: Any, schema: dict) -> Check:
        return lambda v: not isinstance(v, list) or len(v) >= value

    def minimum(self, value: Any, schema: dict) -> Check:
        is_number = self._is_type("number")
        return lambda v: not is_number(v) or not v < value

    def maximum(self, value: Any, schema: dict) -> Check:
        is_number = self._is_type("number")
        return lambda v: not is_number(v) or not v > value

    def if_(self, value: Any, schema: dict) -> Check:
        test = self.compile(value)
        then = self.compile(schema.get("then", True))
        else_ = self.compile(schema.get("else", True))
        return lambda v: then(v) if test(v) else else_(v)

    def all_of(self, value: Any, schema: dict) -> Check:
        return _all([self.compile(sub) for sub in value])

    def any_of(self, value: Any, schema: dict) -> Check:
        checks = tuple(self.compile(sub) for sub in value)
        return lambda v: any(check(v) for check in checks)

    def not_(self, value: Any, schema: dict) -> Check:
        check = self.compile(value)
        return lambda v: not check(v)


#: Compiled together, in one pass over the object (:meth:`_Compiler.object_`).
_OBJECT_KEYWORDS = frozenset({"properties", "additionalProperties", "propertyNames", "required"})

_KEYWORDS: dict[str, Callable[[_Compiler, Any, dict], Check]] = {
    "type": _Compiler.type_,
    "const": _Compiler.const,
    "enum": _Compiler.enum,
    "format": _Compiler.format_,
    "minimum": _Compiler.minimum,
    "maximum": _Compiler.maximum,
    "minItems": _Compiler.min_items,
    "dependentRequired": _Compiler.dependent_required,
    "items": _Compiler.items,
    "if": _Compiler.if_,
    "allOf": _Compiler.all_of,
    "anyOf": _Compiler.any_of,
    "not": _Compiler.not_,
}
