"""The SQL document store keeps the document store contract on SQLite and on PostgreSQL."""

import pytest

from lrs.stores.documents import DocumentStore
from tests.lrs.stores.document_contract import DocumentStoreContract


class TestDocumentStore(DocumentStoreContract):
    @pytest.fixture
    def store(self, engine):
        return DocumentStore(engine)
