"""The SQL credential store keeps the credential store contract on SQLite and on PostgreSQL."""

import pytest

from lrs.stores.credentials import CredentialStore
from tests.lrs.stores.credential_contract import CredentialStoreContract


class TestCredentialStore(CredentialStoreContract):
    @pytest.fixture
    def store(self, engine):
        return CredentialStore(engine)
