"""Reading a statements request body: strict JSON, or multipart/mixed with attachments.

xAPI 2.0.0 Communication 1.5 (1.0.3 Part Three 1.5): a PUT or POST to the Statement Resource is
``application/json`` (attachments, if any, all have a ``fileUrl``) or ``multipart/mixed``, whose
first part is the ``application/json`` statement(s) and every further part one attachment's raw
bytes with an ``X-Experience-API-Hash`` header (the attachment's ``sha2``) and
``Content-Transfer-Encoding: binary``. Any other Content-Type is 400.

This module checks what can be checked before the statements are validated: the body's structure,
each part's headers, and that each part's bytes really have the hash its header claims. Whether
every part belongs to an attachment and every attachment has its part is
:func:`lrs.statements.attachments.check`'s business, after validation.

JSON is parsed strictly (:mod:`schemas.strict_json`): a key repeated within one object, JSON nested
deeper than :data:`MAX_DEPTH`, a non-finite number, a string with U+0000 or a lone surrogate are all
400 naming where they are, so that nothing reaches the log that a projection cannot store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from events.blobs import digest_matches
from lrs.statements import multipart
from lrs.errors import BadRequest
from schemas import strict_json

HASH_HEADER = "x-experience-api-hash"
MAX_DEPTH = strict_json.MAX_DEPTH


@dataclass(frozen=True)
class StatementsBody:
    #: the parsed JSON: a statement object or an array of them (not yet validated)
    statements: Any
    #: attachment bytes by the lower-case hex SHA-2 digest they were sent under
    contents: dict[str, bytes] = field(default_factory=dict)


def parse_json(raw: bytes, what: str = "the request body") -> Any:
    """``raw`` as strict JSON (:mod:`schemas.strict_json`), or :class:`BadRequest` saying why not
    and where (bad UTF-8, syntax, repeated keys, depth, U+0000, lone surrogates, non-finite
    numbers)."""
    if not raw.strip():
        raise BadRequest(f"{what} is empty; send a statement or an array of statements")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(f"{what} is not UTF-8 encoded") from None
    try:
        return strict_json.loads(text)
    except strict_json.JsonProblem as exc:
        raise BadRequest(f"{exc.path or what}: {exc.problem}") from None


def read_statements_body(raw: bytes, content_type: str | None) -> StatementsBody:
    """The statements and attachment contents of a PUT/POST body sent as ``content_type``."""
    mimetype = (content_type or "").split(";")[0].strip().lower()
    if mimetype in ("application/json", ""):
        return StatementsBody(parse_json(raw))
    if mimetype == "multipart/mixed":
        return _multipart(raw, content_type or "")
    raise BadRequest(
        f"Content-Type {mimetype!r} is not accepted for statements; send application/json, or "
        "multipart/mixed when attachment contents travel with the statements"
    )


def _multipart(raw: bytes, content_type: str) -> StatementsBody:
    boundary = multipart.boundary_of(content_type)
    if not boundary:
        raise BadRequest("Content-Type multipart/mixed needs a boundary parameter")
    try:
        first, *rest = multipart.parse(raw, boundary)
    except multipart.MultipartError as exc:
        raise BadRequest(f"the multipart/mixed body is malformed: {exc}") from None
    if first.mimetype != "application/json":
        raise BadRequest("the first part of a multipart/mixed statements request must be application/json")
    statements = parse_json(first.body, "the first (statements) part")
    contents: dict[str, bytes] = {}
    for number, part in enumerate(rest, start=2):
        digest = part.headers.get(HASH_HEADER, "")
        if not digest:
            raise BadRequest(f"part {number}: the X-Experience-API-Hash header (the attachment's sha2) is required")
        encoding = part.headers.get("content-transfer-encoding", "")
        if encoding.lower() != "binary":
            raise BadRequest(f"part {number}: Content-Transfer-Encoding must be 'binary', not {encoding!r}")
        if not digest_matches(digest, part.body):
            raise BadRequest(f"part {number}: its content does not have the SHA-2 hash {digest[:64]!r}")
        contents[digest.lower()] = part.body
    return StatementsBody(statements, contents)
