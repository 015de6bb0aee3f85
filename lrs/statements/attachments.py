"""Statement attachments in and out (xAPI 2.0.0 Data 2.4.11 and Communication 1.5.2, 2.1.3;
1.0.3 Data 2.4.11, Part Three 1.5.2 and 2.1.3).

In: every part sent after the statements must be the content of an attachment of those statements
(its hash is one of their ``sha2`` values), and every attachment without a ``fileUrl`` must have
its part. The bytes go to the content-addressed blob store (:mod:`events.blobs`) before the
statements are appended; the log carries only the attachment objects, which name the content by
``sha2`` (with ``length`` and ``contentType``), so a large attachment never becomes a large event.

Out: with ``attachments=true`` the Statement Resource answers multipart/mixed: the JSON first, then
one part per distinct attachment content it holds for the statements returned. Attachments known
only by ``fileUrl`` have no part.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Iterator

from events.blobs import BlobStore
from lrs.statements import multipart
from lrs.errors import BadRequest


def attachments_of(statement: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The Attachment objects of a statement and of its SubStatement, if it has one."""
    for holder in (statement, statement.get("object")):
        if isinstance(holder, dict) and isinstance(holder.get("attachments"), list):
            yield from (a for a in holder["attachments"] if isinstance(a, dict))


def check(statements: list[dict[str, Any]], contents: dict[str, bytes]) -> None:
    """Parts and attachments must match one to one by hash (raises :class:`BadRequest`)."""
    declared = {str(a.get("sha2", "")).lower() for s in statements for a in attachments_of(s)}
    for digest in contents:
        if digest not in declared:
            raise BadRequest(
                f"a multipart part has X-Experience-API-Hash {digest} but no attachment has that sha2; "
                "every part after the first must be the content of an attachment"
            )
    for i, statement in enumerate(statements):
        for attachment in attachments_of(statement):
            if attachment.get("fileUrl") is None and str(attachment.get("sha2", "")).lower() not in contents:
                where = f"[{i}]" if len(statements) > 1 else "the statement"
                raise BadRequest(
                    f"{where}: attachment with sha2 {attachment.get('sha2')} has no fileUrl, so its content must "
                    "be sent as a part of a multipart/mixed request"
                )


def multipart_response(document: Any, statements: Iterable[dict[str, Any]], blobs: BlobStore) -> tuple[bytes, str]:
    """(body, Content-Type) of a multipart/mixed answer: ``document`` as JSON, then the contents."""
    wanted: dict[str, str] = {}
    for statement in statements:
        for attachment in attachments_of(statement):
            digest = str(attachment.get("sha2", "")).lower()
            wanted.setdefault(digest, str(attachment.get("contentType") or "application/octet-stream"))
    held = blobs.get(wanted)
    parts = [({"Content-Type": "application/json"}, _json(document))]
    for digest, content_type in wanted.items():
        if digest in held:
            headers = {
                "Content-Type": content_type,
                "Content-Transfer-Encoding": "binary",
                "X-Experience-API-Hash": digest,
            }
            parts.append((headers, held[digest]))
    return multipart.build(parts)


def _json(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
