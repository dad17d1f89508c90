"""Schemathesis over every operation of the API's own schema, with a key that may do
everything at a school with families, a code in force and a declaration: no server error, no
status code, content type or body that the schema does not describe.

The schema is the one the portal serves (/api/v1/schema/, drf-spectacular), loaded through the
WSGI application, so what is checked is what another system reads.
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.keys import api_key_create
from api.models import ApiKey
from declarations import services as signing
from tests.declarations.factories import family, issued_link

schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application())
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def one_connection():
    """Requests go straight to the WSGI application, not through Django's test client, so do
    as the test client does: keep the test's database connection open between requests (its
    transaction holds the test's data; after a request Django would close it on PostgreSQL)."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def world(one_connection, db, school, school_code, headteacher, settings, tasks):
    """A school whose carers have standings, one declaration, and a key with every scope."""
    settings.PORTAL_RATE_LIMITS = {**settings.PORTAL_RATE_LIMITS, "api_key": (100_000, 60)}
    version = school_code.versions.get()
    carer = family(school)
    family(school, forename="Jo", surname="Bloggs", email="", children=(("Kit", "Bloggs", "6", "6C"),))
    signing_request, _ = issued_link(carer, version)
    signing.declaration_sign(
        signing_request=signing_request, version_id_shown=version.pk, typed_name="Mary Smith", agreed=True,
        ip=None, user_agent="test",
    )
    made = api_key_create(user=headteacher, organisation=school, name="fuzz", scopes=list(ApiKey.Scope.values))
    return school, made.key


@pytest.mark.django_db
@schema.parametrize()
@hypothesis_settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_keeps_to_the_schema(case, world):
    school, key = world
    if "slug" in (case.path_parameters or {}):
        case.path_parameters["slug"] = school.slug  # the key's school: past the 404 to the operation itself
    case.call_and_validate(headers={"Authorization": f"Bearer {key}"}, checks=CHECKS)
