"""Fuzz every operation of /api/openapi.json as an installer: no 5xx, every answer matches the spec."""
from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "12"))


@pytest.fixture
def api_schema(db):
    from django.core.signals import request_finished, request_started
    from django.core.wsgi import get_wsgi_application
    from django.db import close_old_connections

    # As Django's test client does: keep the test's transaction open across WSGI requests.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield _schema(get_wsgi_application())
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _schema(app):
    # django-ninja writes OpenAPI 3.1; schemathesis 3 checks it with its 3.0 rules, which fit this spec.
    return schemathesis.from_wsgi("/api/openapi.json", app, force_schema_version="30")


@pytest.fixture
def fuzz_headers(installer, make_resident, activate):
    """An installer with some data, and its bearer token."""
    from entryway.accounts.services import api_token_create

    resident = activate(make_resident(installer, name="Fuzz Resident", email="fuzz@example.com"))
    from entryway.residents.services import family_member_create

    family_member_create(acting_user=installer, resident=resident, name="Fuzz Member")
    _token, raw = api_token_create(acting_user=installer, name="fuzz")
    return {"Authorization": f"Bearer {raw}"}


schema = schemathesis.from_pytest_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_api_operation_conforms_to_its_spec(case, fuzz_headers):
    response = case.call(headers=fuzz_headers)
    # Authentication is checked by each app's own tests (anonymous → 401); schemathesis's
    # "ignored auth" probe re-sends the request through a WSGI client that keeps the token.
    from schemathesis.specs.openapi.checks import ignored_auth

    case.validate_response(response, excluded_checks=(ignored_auth,))
