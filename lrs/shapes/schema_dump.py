"""A marshmallow schema's ``dump`` made once into plain Python, for the answers the analytics API
sends most (a cohort view of 200 members is some 6,000 field dumps: a few milliseconds through
marshmallow's per-field machinery, a fraction of that here).

:func:`dumper` reads the schema's own dump fields (names, ``data_key``, ``attribute``, order) and
does what marshmallow does for the field types it knows -- ``String``, ``Integer``, ``Float``,
``List`` and ``Nested`` -- on dict input: a key that is missing is left out, ``None`` stays
``None``, other values are converted as the field converts them. A schema with any other field
type, or with dump hooks, is refused when the dumper is made, so the schema stays the single
definition of the answer (and of the OpenAPI document).
"""

from __future__ import annotations

from functools import cache
from typing import Any, Callable

from marshmallow import Schema, fields

Dump = Callable[[Any], Any]

_SCALARS: dict[type, Dump] = {fields.String: str, fields.Integer: int, fields.Float: float}


def _none_or(convert: Dump) -> Dump:
    return lambda value: None if value is None else convert(value)


def _field(field: fields.Field) -> Dump:
    if type(field) in _SCALARS and not getattr(field, "as_string", False):
        return _none_or(_SCALARS[type(field)])
    if type(field) is fields.List:
        inner = _field(field.inner)
        return _none_or(lambda values: [inner(v) for v in values])
    if type(field) is fields.Nested and not field.many:
        return _none_or(_schema(field.schema))
    raise TypeError(f"{type(field).__name__} field {field.name!r}: no plain dump for it; use the schema's dump")


def _schema(schema: Schema) -> Dump:
    hooks = getattr(schema, "_hooks", {})  # keyed by tag (marshmallow 4) or (tag, many) (3)
    if any(v for k, v in hooks.items() if (k[0] if isinstance(k, tuple) else k) in ("pre_dump", "post_dump")):
        raise TypeError(f"{type(schema).__name__}: dump hooks; use the schema's dump")
    parts = [(field.attribute or name, field.data_key or name, _field(field)) for name, field in schema.dump_fields.items()]

    def dump(obj: dict[str, Any]) -> dict[str, Any]:
        return {out: convert(obj[key]) for key, out, convert in parts if key in obj}

    return dump


@cache
def dumper(schema: type[Schema]) -> Dump:
    """``schema().dump`` for dict input, in plain Python (see the module's docstring)."""
    return _schema(schema())
