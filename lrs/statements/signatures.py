"""Signed statements (xAPI 2.0.0 Data 2.6 "Signed Statements"; 1.0.3 Data 2.6).

A statement is signed when one of its attachments has the usageType
``http://adlnet.gov/expapi/attachments/signature``. That attachment's content is a JWS in compact
serialization (RFC 7515) whose payload is the statement as the client sent it, without the
signature attachment. Polku refuses (400) a signed statement when:

* the signature attachment's contentType is not ``application/octet-stream``, or its content was
  not sent with the request;
* the content is not a compact JWS, or its header does not name RS256, RS384 or RS512 (so HS256,
  ``none``, ES256 ... are refused);
* the payload is not JSON, or does not describe the same statement: the two are compared by the
  statement comparison rules (:func:`lrs.statements.comparison.comparable`, which leaves out attachments and
  the properties the LRS assigns and, e.g., compares durations to 0.01 s), and the ids must agree
  when both have one;
* the JWS header carries an X.509 certificate chain (``x5c``) and the signature does not verify
  against the first certificate's RSA public key.

Without ``x5c`` the signer's key is unknown to Polku, so the signature itself cannot be checked;
the statement is stored with its signature for the reader to verify (the spec asks no more).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from lrs.statements.comparison import comparable
from lrs.errors import BadRequest

SIGNATURE_USAGE = "http://adlnet.gov/expapi/attachments/signature"
SIGNATURE_CONTENT_TYPE = "application/octet-stream"
ALGORITHMS = {"RS256": hashes.SHA256, "RS384": hashes.SHA384, "RS512": hashes.SHA512}


def check(statements: list[dict[str, Any]], contents: dict[str, bytes]) -> None:
    """Raise :class:`BadRequest` for the first statement whose signature is not acceptable."""
    for i, statement in enumerate(statements):
        where = f"[{i}]" if len(statements) > 1 else "signed statement"
        for attachment in statement.get("attachments") or []:
            if isinstance(attachment, dict) and attachment.get("usageType") == SIGNATURE_USAGE:
                _check_one(statement, attachment, contents, where)


def _check_one(statement: dict[str, Any], attachment: dict[str, Any], contents: dict[str, bytes], where: str) -> None:
    content_type = str(attachment.get("contentType", "")).split(";")[0].strip().lower()
    if content_type != SIGNATURE_CONTENT_TYPE:
        raise BadRequest(f"{where}: a signature attachment must have contentType {SIGNATURE_CONTENT_TYPE}")
    content = contents.get(str(attachment.get("sha2", "")).lower())
    if content is None:
        raise BadRequest(f"{where}: the signature (a JWS) must be sent as a part of a multipart/mixed request")
    header, payload, signing_input, signature = _parse_jws(content, where)
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        raise BadRequest(f"{where}: the JWS algorithm must be RS256, RS384 or RS512, not {str(algorithm)[:20]!r}")
    if "x5c" in header:
        _verify(header["x5c"], ALGORITHMS[algorithm](), signing_input, signature, where)
    if not _same_statement(payload, statement):
        raise BadRequest(f"{where}: the JWS payload does not match the statement it signs")


def _parse_jws(content: bytes, where: str) -> tuple[dict[str, Any], Any, bytes, bytes]:
    """(header, payload, signing input, signature) of a compact JWS."""
    try:
        text = content.decode("ascii").strip()
        encoded_header, encoded_payload, encoded_signature = text.split(".")
        header = json.loads(_b64(encoded_header))
        payload = json.loads(_b64(encoded_payload))
        signature = _b64(encoded_signature)
    except (UnicodeDecodeError, ValueError, binascii.Error):
        raise BadRequest(f"{where}: the signature is not a JWS in compact serialization with a JSON payload") from None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise BadRequest(f"{where}: the JWS header and payload must be JSON objects")
    return header, payload, f"{encoded_header}.{encoded_payload}".encode("ascii"), signature


def _b64(segment: str) -> bytes:
    if not segment or any(c in segment for c in "+/="):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _verify(chain: Any, digest: hashes.HashAlgorithm, signing_input: bytes, signature: bytes, where: str) -> None:
    try:
        certificate = x509.load_der_x509_certificate(base64.b64decode(chain[0], validate=True))
        key = certificate.public_key()
    except (TypeError, KeyError, IndexError, ValueError, binascii.Error):
        raise BadRequest(f"{where}: the JWS header's x5c is not a base64 DER X.509 certificate chain") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise BadRequest(f"{where}: the x5c certificate must hold an RSA public key for an RS* signature")
    try:
        key.verify(signature, signing_input, padding.PKCS1v15(), digest)
    except InvalidSignature:
        raise BadRequest(f"{where}: the JWS signature does not verify against its x5c certificate") from None


def _same_statement(payload: dict[str, Any], statement: dict[str, Any]) -> bool:
    if "id" in payload and "id" in statement and str(payload["id"]).lower() != str(statement["id"]).lower():
        return False
    return comparable(payload) == comparable(statement)
