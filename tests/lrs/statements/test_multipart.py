"""multipart/mixed parsing and building (RFC 2046 §5.1), byte-exact."""

from __future__ import annotations

import pytest

from lrs.statements import multipart
from lrs.statements.multipart import MultipartError


def body(*parts: bytes, boundary: bytes = b"b0undary", preamble: bytes = b"", epilogue: bytes = b"") -> bytes:
    out = preamble
    for part in parts:
        out += b"--" + boundary + b"\r\n" + part + b"\r\n"
    return out + b"--" + boundary + b"--" + epilogue


def test_parts_keep_their_exact_bytes_and_lower_cased_headers():
    binary = bytes(range(256)) + b"\r\n--b0undar"  # looks like a delimiter, but is not one
    raw = body(b"Content-Type: application/json\r\n\r\n{}", b"X-Experience-API-Hash:abc\r\nContent-Type:x/y\r\n\r\n" + binary)
    first, second = multipart.parse(raw, "b0undary")
    assert first.mimetype == "application/json" and first.body == b"{}"
    assert second.headers == {"x-experience-api-hash": "abc", "content-type": "x/y"}
    assert second.body == binary


def test_preamble_and_epilogue_are_ignored():
    raw = body(b"Content-Type: text/plain\r\n\r\nhi", preamble=b"\r\n", epilogue=b"\r\nbye\r\n")
    assert [p.body for p in multipart.parse(raw, "b0undary")] == [b"hi"]


def test_a_part_without_headers_and_an_empty_part():
    raw = body(b"\r\nno headers", b"")
    assert [(p.headers, p.body) for p in multipart.parse(raw, "b0undary")] == [({}, b"no headers"), ({}, b"")]


@pytest.mark.parametrize(
    "raw",
    [
        b"no delimiter at all",
        b"--b0undary\r\nContent-Type: text/plain\r\n\r\nno close delimiter",
        b"--b0undary\r\nContent-Type text/plain\r\n\r\nx\r\n--b0undary--",
        b"--b0undary\r\nContent-Type: text/plain\r\nx\r\n--b0undary--",
        b"--b0undary--",
    ],
    ids=["no delimiter", "no close delimiter", "header without colon", "no blank line", "no parts"],
)
def test_malformed_bodies_are_refused(raw):
    with pytest.raises(MultipartError):
        multipart.parse(raw, "b0undary")


@pytest.mark.parametrize(
    "header, boundary",
    [
        ("multipart/mixed; boundary=abc", "abc"),
        ('multipart/mixed; boundary="a b;c"', "a b;c"),
        ("multipart/mixed;boundary=-------314159265358979323846", "-------314159265358979323846"),
        ("multipart/mixed;", None),
    ],
)
def test_boundary_of_a_content_type(header, boundary):
    assert multipart.boundary_of(header) == boundary


def test_what_build_writes_parse_reads_back():
    parts = [({"Content-Type": "application/json"}, b'{"a":1}'), ({"X-Experience-API-Hash": "d"}, b"\x00\r\n\xff")]
    raw, content_type = multipart.build(parts)
    assert content_type.startswith("multipart/mixed; boundary=")
    parsed = multipart.parse(raw, multipart.boundary_of(content_type))
    assert [(p.headers, p.body) for p in parsed] == [
        ({"content-type": "application/json"}, b'{"a":1}'),
        ({"x-experience-api-hash": "d"}, b"\x00\r\n\xff"),
    ]
