"""Fuzzing the admin and analytics API from its own OpenAPI document (issue 9): schemathesis
generates requests from ``/api/v1/openapi.json``, valid and invalid, and every answer must be no
5xx, a status and a body the document declares, and -- for a refused definition -- no write.
"""

from __future__ import annotations


import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from lrs.app import create_app
from lrs.http.openapi import document
from lrs.config.settings import Settings
from tests.fixtures.credentials import basic_token

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def polku(tmp_path_factory):
    folder = tmp_path_factory.mktemp("openapi-fuzz")
    app = create_app(Settings(database_url=f"sqlite:///{folder / 'fuzz.sqlite3'}", run_projections=True))
    services = app.extensions["polku"]
    credential, secret = services.credentials.create("fuzz", {"admin", "analytics"})
    token = basic_token(credential, secret)
    yield app, services, token
    services.close()


#: The document ``/api/v1/openapi.json`` serves (a pure function: building it needs no app).
schema = schemathesis.openapi.from_dict(document())


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_admin_api_answers_every_generated_request_as_its_document_says_and_never_5xx(case, polku):
    app, services, token = polku
    before = services.log.end(0)
    response = case.call(app=app, headers={"Authorization": token})
    case.validate_response(response, checks=CHECKS)
    if response.status_code >= 400:
        assert services.log.end(0) == before, "a refused request appended nothing"
