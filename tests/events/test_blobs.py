"""The content-addressed blob store on SQLite and PostgreSQL: keys are SHA-2 digests of the
content, storing twice is a no-op, a false digest stores nothing."""

from __future__ import annotations

import hashlib

import pytest

from events.blobs import BlobStore, algorithm_for, digest_matches


def sha(name: str, content: bytes) -> str:
    return hashlib.new(name, content).hexdigest()


def test_content_is_read_back_by_its_digest(engine):
    store = BlobStore(engine)
    content = bytes(range(256)) * 4
    store.put({sha("sha256", content): content})
    assert store.get([sha("sha256", content)]) == {sha("sha256", content): content}


@pytest.mark.parametrize("name", ["sha224", "sha256", "sha384", "sha512"])
def test_every_sha2_length_names_its_function(name):
    digest = sha(name, b"x")
    assert algorithm_for(digest) == name
    assert digest_matches(digest.upper(), b"x")
    assert not digest_matches(digest, b"y")


def test_storing_the_same_content_twice_is_a_no_op(engine):
    store = BlobStore(engine)
    content = b"here is a simple attachment"
    key = sha("sha512", content)
    store.put({key: content})
    store.put({key.upper(): content})
    assert store.get([key]) == {key: content}


def test_a_digest_that_is_not_the_contents_stores_nothing(engine):
    store = BlobStore(engine)
    good, bad = b"good", b"bad"
    with pytest.raises(ValueError):
        store.put({sha("sha256", good): good, sha("sha256", good) [:-1] + "0": bad})
    assert store.get([sha("sha256", good)]) == {}


def test_unknown_digests_are_left_out(engine):
    store = BlobStore(engine)
    assert store.get([sha("sha256", b"never stored")]) == {}
    assert store.get([]) == {}
