"""marshmallow schemas for the admin and analytics APIs (``/api/v1``): request and response bodies.

Request schemas validate; :func:`load` turns marshmallow's error dict into one 400 whose message
names each field (``items[2].kind: must be one of: coaching-day, …``). Response schemas shape
what the resources dump, and :mod:`lrs.http.openapi` describes both in the OpenAPI document.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from lrs.errors import BadRequest
from projections.cohort_model import KINDS, MEASURES, member_keys_of

KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
KEY_RULE = "must be 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit"
_KEY = re.compile(KEY_PATTERN)
_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s]+$")

_MESSAGES = {
    "Missing data for required field.": "is required",
    "Unknown field.": "is not a known field",
    "Field may not be null.": "must not be null",
    "Not a valid string.": "must be a string",
    "Not a valid boolean.": "must be true or false",
    "Not a valid date.": "must be a date YYYY-MM-DD",
    "Not a valid list.": "must be an array",
    "Invalid input type.": "must be a JSON object",
}


def valid_key(key: str) -> bool:
    return bool(_KEY.match(key))


class _StrictBoolean(fields.Boolean):
    """JSON true/false only: a string or a number is an error, not a guess."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


def _iri(metadata: dict[str, Any] | None = None, **kwargs) -> fields.String:
    return fields.String(
        validate=validate.Regexp(_IRI, error="must be an absolute IRI"), metadata={"format": "iri", **(metadata or {})}, **kwargs
    )


def _text(**kwargs) -> fields.String:
    return fields.String(validate=validate.Length(min=1, max=500, error="must be 1 to 500 characters"), **kwargs)


# ---- programmes ----------------------------------------------------------------------------

class ItemSchema(Schema):
    class Meta:
        unknown = RAISE

    activity = _iri(required=True, metadata={"description": "The activity IRI statements use as their object.id"})
    title = _text(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS, error="must be one of: " + ", ".join(KINDS)))
    required = _StrictBoolean(load_default=False, metadata={"description": "Counts towards progress (default false)"})
    due = fields.Date(allow_none=True, load_default=None, metadata={"description": "Due date (UTC), or null"})
    measure = fields.String(
        allow_none=True,
        load_default=None,
        validate=validate.OneOf(MEASURES, error="must be 'pre', 'post' or null"),
        metadata={"description": "This item's scaled score is the pre or post measure of the success view"},
    )


class ProgrammeSchema(Schema):
    class Meta:
        unknown = RAISE

    name = _text(required=True)
    items = fields.List(fields.Nested(ItemSchema), required=True)
    retentionDays = fields.Integer(
        strict=True,
        allow_none=True,
        load_default=None,
        validate=validate.Range(min=1, max=36500, error="must be a whole number of days from 1 to 36500, or null"),
        metadata={"description": "Optional: statements on this programme's items stored more than this many days ago "
                                 "leave the statement store and its cohorts' views (retention); null: the global setting"},
    )

    @validates_schema
    def _items_are_consistent(self, data: dict[str, Any], **_kwargs) -> None:
        seen: dict[str, int] = {}
        measures: dict[str, int] = {}
        errors: dict[str, list[str]] = {}
        for i, item in enumerate(data.get("items") or []):
            if item["activity"] in seen:
                errors[f"items[{i}].activity"] = [f"is listed twice (also items[{seen[item['activity']]}])"]
            seen.setdefault(item["activity"], i)
            measure = item.get("measure")
            if measure in measures:
                errors[f"items[{i}].measure"] = [f"only one item may be the {measure!r} measure (items[{measures[measure]}] is)"]
            elif measure:
                measures[measure] = i
        if errors:
            raise ValidationError(errors)


class ProgrammeOut(ProgrammeSchema):
    key = fields.String(required=True)


# ---- cohorts -------------------------------------------------------------------------------

class AccountSchema(Schema):
    class Meta:
        unknown = RAISE

    homePage = _iri(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, error="must not be empty"))


class AgentSchema(Schema):
    """An xAPI Agent. A cohort member may list several identifiers (e.g. the address the LMS
    knows and the account of the coaching workspace): statements under any of them count."""

    class Meta:
        unknown = RAISE

    objectType = fields.String(validate=validate.Equal("Agent", error="must be 'Agent'"))
    name = fields.String()
    mbox = fields.String(validate=validate.Regexp(r"^mailto:[^@\s]+@[^@\s]+$", error="must be mailto:address"))
    mbox_sha1sum = fields.String(validate=validate.Regexp(r"^[0-9a-fA-F]{40}$", error="must be 40 hexadecimal digits"))
    openid = _iri()
    account = fields.Nested(AccountSchema)

    @validates_schema
    def _identified(self, data: dict[str, Any], **_kwargs) -> None:
        if not any(data.get(k) for k in ("mbox", "mbox_sha1sum", "openid", "account")):
            raise ValidationError("needs an identifier: mbox, mbox_sha1sum, openid or account")


class CohortSchema(Schema):
    class Meta:
        unknown = RAISE

    name = _text(required=True)
    programme = fields.String(
        required=True, validate=validate.Regexp(_KEY, error=KEY_RULE), metadata={"description": "The programme's key"}
    )
    iri = _iri(required=True, metadata={"description": "The cohort's activity IRI, used in context.contextActivities.grouping"})
    starts = fields.Date(required=True)
    ends = fields.Date(required=True)
    members = fields.List(fields.Nested(AgentSchema), required=True)

    @validates_schema
    def _consistent(self, data: dict[str, Any], **_kwargs) -> None:
        errors: dict[str, list[str]] = {}
        if data.get("starts") and data.get("ends") and data["ends"] < data["starts"]:
            errors["ends"] = ["must not be before starts"]
        owner: dict[str, int] = {}
        for i, agent in enumerate(data.get("members") or []):
            clash = sorted({owner[k] for k in member_keys_of(agent) if k in owner})
            if clash:
                errors[f"members[{i}]"] = [f"identifies the same person as members[{clash[0]}]"]
            for k in member_keys_of(agent):
                owner.setdefault(k, i)
        if errors:
            raise ValidationError(errors)


class CohortOut(CohortSchema):
    key = fields.String(required=True)


# ---- views ---------------------------------------------------------------------------------

def _date_text(**kwargs) -> fields.String:
    return fields.String(metadata={"format": "date"}, **kwargs)


def _timestamp(**kwargs) -> fields.String:
    return fields.String(allow_none=True, metadata={"format": "date-time", "description": "UTC; null when none"}, **kwargs)


class ProgressMember(Schema):
    member = fields.Nested(AgentSchema, required=True)
    completed_required = fields.Integer(required=True)
    progress = fields.Float(allow_none=True, required=True, metadata={"description": "completed_required / required_items; null when the programme has no required item"})
    overdue = fields.List(fields.String(), required=True, metadata={"description": "Required items due before as_of and not completed by then"})
    last_active = _timestamp(required=True)


class ProgressItem(Schema):
    activity = fields.String(required=True)
    completed_by = fields.Integer(required=True)


class ProgressView(Schema):
    cohort = fields.String(required=True)
    as_of = _date_text(required=True)
    required_items = fields.Integer(required=True)
    members = fields.List(fields.Nested(ProgressMember), required=True)
    items = fields.List(fields.Nested(ProgressItem), required=True)


class EngagementWeek(Schema):
    week = fields.String(required=True, metadata={"example": "2026-W05", "description": "ISO 8601 week (UTC)"})
    active_members = fields.Integer(required=True)
    statements = fields.Integer(required=True)
    contributions = fields.Integer(required=True)


class EngagementMember(Schema):
    member = fields.Nested(AgentSchema, required=True)
    statements = fields.Integer(required=True)
    active_days = fields.Integer(required=True)
    contributions = fields.Integer(required=True)
    last_active = _timestamp(required=True)


class EngagementView(Schema):
    cohort = fields.String(required=True)
    from_ = _date_text(required=True, attribute="from", data_key="from")
    to = _date_text(required=True)
    weeks = fields.List(fields.Nested(EngagementWeek), required=True)
    members = fields.List(fields.Nested(EngagementMember), required=True)


class SelfAssessment(Schema):
    first = fields.Float(allow_none=True, required=True)
    latest = fields.Float(allow_none=True, required=True)
    count = fields.Integer(required=True)


class SuccessMember(Schema):
    member = fields.Nested(AgentSchema, required=True)
    assessments_attempted = fields.Integer(required=True)
    assessments_passed = fields.Integer(required=True)
    mean_scaled_score = fields.Float(allow_none=True, required=True)
    self_assessment = fields.Nested(SelfAssessment, required=True)
    pre_post_delta = fields.Float(allow_none=True, required=True)


class SuccessSummary(Schema):
    pass_rate = fields.Float(allow_none=True, required=True)
    mean_scaled_score = fields.Float(allow_none=True, required=True)
    mean_self_assessment_change = fields.Float(allow_none=True, required=True)
    mean_pre_post_delta = fields.Float(allow_none=True, required=True)


class SuccessView(Schema):
    cohort = fields.String(required=True)
    members = fields.List(fields.Nested(SuccessMember), required=True)
    summary = fields.Nested(SuccessSummary, required=True)


class ErrorDetail(Schema):
    status = fields.Integer(required=True)
    message = fields.String(required=True)


class ErrorBody(Schema):
    error = fields.Nested(ErrorDetail, required=True)


# ---- loading -------------------------------------------------------------------------------

def problems(messages: Any, path: str = "") -> Iterator[str]:
    """marshmallow's nested error messages as ``path: message`` lines."""
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key == "_schema":
                sub = path
            elif isinstance(key, int):
                sub = f"{path}[{key}]"
            else:
                sub = f"{path}.{key}" if path else str(key)
            yield from problems(value, sub)
    elif isinstance(messages, list):
        for message in messages:
            yield from problems(message, path)
    else:
        text = _MESSAGES.get(str(messages), str(messages).rstrip("."))
        text = text[:1].lower() + text[1:]
        yield f"{path or 'body'}: {text}"


def load(schema: Schema, body: Any, where: str = "") -> dict[str, Any]:
    """Validate ``body``; raise one :class:`BadRequest` naming every bad field."""
    if not isinstance(body, dict):
        raise BadRequest(f"{where or 'body'}: must be a JSON object")
    try:
        return schema.load(body)
    except ValidationError as error:
        found = list(problems(error.messages, where))
        shown = "; ".join(found[:8]) + (f" (and {len(found) - 8} more)" if len(found) > 8 else "")
        raise BadRequest(shown) from None


__all__ = [
    "ItemSchema", "ProgrammeSchema", "ProgrammeOut", "AgentSchema", "CohortSchema", "CohortOut",
    "ProgressView", "EngagementView", "SuccessView", "ErrorBody", "load", "problems", "valid_key",
]


# ---- credentials ---------------------------------------------------------------------------

class CredentialIn(Schema):
    """A credential to create (``POST /credentials``)."""

    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=validate.Length(min=1, max=200, error="must be 1 to 200 characters"),
                         metadata={"description": "Who or what it is for; unique among credentials not revoked"})
    scopes = fields.List(fields.String(), required=True, validate=validate.Length(min=1, error="must name at least one scope"),
                         metadata={"description": "xAPI scopes and Polku's admin and analytics; all grants everything"})
    expires = fields.String(load_default=None, allow_none=True, metadata={
        "description": "When it stops working: a duration from now (90d, 12h, 30m, 2w), a date (YYYY-MM-DD, UTC) or a timestamp; null: never"})


class CredentialOut(Schema):
    """A credential as listed: never its secret."""

    key = fields.String(required=True, metadata={"description": "The HTTP Basic user name"})
    name = fields.String(required=True)
    scopes = fields.List(fields.String(), required=True)
    created = _timestamp(required=True)
    expires = _timestamp(required=True)
    last_used = _timestamp(required=True)  # recorded at most once a minute per credential
    revoked = _timestamp(required=True)


class CredentialWithSecret(CredentialOut):
    """A credential just created or rotated: the secret is shown this once and never again."""

    secret = fields.String(required=True, metadata={"description": "The HTTP Basic password; not stored, not shown again"})
