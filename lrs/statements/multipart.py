"""multipart/mixed bodies (RFC 2046 §5.1), read and written byte-exactly.

xAPI sends and returns statements with attachments as multipart/mixed (2.0.0 Communication
1.5.2; 1.0.3 Part Three 1.5.2): the first part is the JSON, each further part one attachment's raw
bytes. The parser is strict about structure (a body that is not a well-formed multipart/mixed
document raises :class:`MultipartError`, which the caller answers with 400) and exact about
content: a part's body is exactly the bytes between its header block and the CRLF that precedes
the next delimiter, whatever they are.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Iterable

CRLF = b"\r\n"
_BOUNDARY = re.compile(r"""boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))""", re.IGNORECASE)


class MultipartError(ValueError):
    """The body is not a well-formed multipart document; the message says where."""


@dataclass(frozen=True)
class Part:
    #: header names lower-cased, values stripped
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def mimetype(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


def boundary_of(content_type: str) -> str | None:
    """The ``boundary`` parameter of a Content-Type header value, if it has one."""
    match = _BOUNDARY.search(content_type or "")
    if not match:
        return None
    return match.group(1) or match.group(2)


def parse(body: bytes, boundary: str) -> list[Part]:
    """The parts of ``body``; raises :class:`MultipartError` if it is malformed."""
    delimiter = b"--" + boundary.encode("latin-1")
    if body.startswith(delimiter):
        position = len(delimiter)
    else:
        start = body.find(CRLF + delimiter)
        if start < 0:
            raise MultipartError(f"the body has no part delimiter '--{boundary}'")
        position = start + 2 + len(delimiter)
    parts = []
    while True:
        if body[position:position + 2] == b"--":
            break  # the close delimiter; anything after it is the epilogue
        line_end = body.find(CRLF, position)
        if line_end < 0 or body[position:line_end].strip(b" \t"):
            raise MultipartError("a part delimiter must be followed by a line break")
        start = line_end + 2
        end = body.find(CRLF + delimiter, start)
        if end < 0:
            raise MultipartError(f"the body does not end with the close delimiter '--{boundary}--'")
        parts.append(_part(body[start:end], len(parts)))
        position = end + 2 + len(delimiter)
    if not parts:
        raise MultipartError("the body has no parts")
    return parts


def _part(raw: bytes, index: int) -> Part:
    if not raw:
        return Part({}, b"")
    if raw.startswith(CRLF):
        return Part({}, raw[2:])
    split = raw.find(CRLF + CRLF)
    if split < 0:
        raise MultipartError(f"part {index + 1} has no blank line between its headers and its body")
    headers: dict[str, str] = {}
    for line in raw[:split].split(CRLF):
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon or not name.strip() or name != name.strip():
            raise MultipartError(f"part {index + 1} has a malformed header line {line[:60]!r}")
        headers[name.strip().lower()] = value.strip()
    return Part(headers, raw[split + 4:])


def build(parts: Iterable[tuple[dict[str, str], bytes]]) -> tuple[bytes, str]:
    """A multipart/mixed body of ``(headers, body)`` parts and its Content-Type header value."""
    parts = list(parts)
    boundary = secrets.token_hex(16)
    while any(boundary.encode() in body for _, body in parts):  # pragma: no cover - 2^-128
        boundary = secrets.token_hex(16)
    delimiter = b"--" + boundary.encode()
    chunks = []
    for headers, body in parts:
        chunks.append(delimiter + CRLF)
        chunks.extend(f"{name}: {value}".encode("latin-1") + CRLF for name, value in headers.items())
        chunks.append(CRLF + body + CRLF)
    chunks.append(delimiter + b"--" + CRLF)
    return b"".join(chunks), f"multipart/mixed; boundary={boundary}"
