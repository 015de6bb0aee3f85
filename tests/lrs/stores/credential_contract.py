"""The contract the credential store keeps: a secret shown once and checked, never stored; names
unique among the credentials in use; revoking and rotating at once and for good; expiry; one
signing key per installation. A backend's test module subclasses :class:`CredentialStoreContract`
and provides a ``store`` fixture; nothing else (tests/lrs/stores/test_credential_store.py runs it
on SQLite and on PostgreSQL)."""

from __future__ import annotations

import uuid

import pytest

from events import utc_iso
from lrs.stores.credentials import CredentialRevoked, NameTaken, UnknownCredential


def _name() -> str:
    return f"tool-{uuid.uuid4().hex[:8]}"


class CredentialStoreContract:
    def test_a_created_credential_verifies_with_its_secret_only(self, store):
        credential, secret = store.create(_name(), {"statements/write"})
        assert store.verify(credential.key, secret).key == credential.key
        assert store.verify(credential.key, secret + "x") is None
        assert store.verify("0" * 20, secret) is None
        assert store.get(credential.key).scopes == frozenset({"statements/write"})

    def test_a_name_in_use_is_taken_and_a_revoked_name_is_free(self, store):
        name = _name()
        first, _ = store.create(name, {"all"})
        with pytest.raises(NameTaken):
            store.create(name, {"all"})
        store.revoke(first.key)
        second, secret = store.create(name, {"all"})
        assert store.verify(second.key, secret) is not None

    def test_revoking_stops_the_credential_at_once_and_for_good(self, store):
        credential, secret = store.create(_name(), {"all"})
        revoked = store.revoke(credential.key)
        assert revoked.revoked and store.verify(credential.key, secret) is None
        assert store.revoke(credential.key).revoked == revoked.revoked  # again: nothing changes
        with pytest.raises(CredentialRevoked):
            store.rotate(credential.key)

    def test_rotating_gives_a_new_secret_and_the_old_one_stops_working(self, store):
        credential, old = store.create(_name(), {"all"})
        rotated, new = store.rotate(credential.key)
        assert new != old and rotated.generation != credential.generation
        assert store.verify(credential.key, old) is None
        assert store.verify(credential.key, new) is not None

    def test_an_unknown_key_is_unknown_to_revoke_and_rotate(self, store):
        for change in (store.revoke, store.rotate):
            with pytest.raises(UnknownCredential):
                change("f" * 20)
        assert store.get("f" * 20) is None

    def test_an_expired_credential_does_not_verify(self, store):
        credential, secret = store.create(_name(), {"all"}, expires="2000-01-01T00:00:00.000000Z")
        assert store.verify(credential.key, secret) is None
        assert store.get(credential.key).expires == "2000-01-01T00:00:00.000000Z"

    def test_list_holds_every_credential_revoked_ones_too(self, store):
        live, _ = store.create(_name(), {"all"})
        gone, _ = store.create(_name(), {"all"})
        store.revoke(gone.key)
        listed = {c.key: c for c in store.list()}
        assert {live.key, gone.key} <= set(listed)
        assert listed[gone.key].revoked and not listed[live.key].revoked
        assert listed[live.key].created <= utc_iso()

    def test_the_signing_key_is_one_per_installation(self, store):
        key = store.signing_key()
        assert len(key) == 32 and store.signing_key() == key
