"""API keys for the API tests, made through the real service."""

import pytest
from rest_framework.test import APIClient

from api.keys import api_key_create
from api.models import ApiKey

ALL_SCOPES = list(ApiKey.Scope.values)


@pytest.fixture
def make_key(headteacher, school):
    def make(*, scopes=ALL_SCOPES, user=None, organisation=None):
        return api_key_create(
            user=user or headteacher, organisation=organisation or school, name="Arbor", scopes=scopes
        )

    return make


@pytest.fixture
def key(make_key):
    return make_key()


@pytest.fixture
def api(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key.key}")
    return client
