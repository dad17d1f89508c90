"""Fixtures for the declarations tests. The clock is fixed at NOW for every test here, and
rate-limit counters (kept in the cache, which outlives a test) start from nothing."""

import pytest
import time_machine
from django.core.cache import cache

from schools.models import StaffRole
from tests.declarations.factories import NOW, family, issued_link
from tests.factories import StaffRoleFactory, UserFactory


@pytest.fixture(autouse=True)
def now():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """Rate-limit counters live in the cache, which outlives a test."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def tasks(settings):
    """Queued tasks are kept in memory to be looked at, not run. (Tests that run the database
    worker define their own `tasks`.)"""
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    from django.tasks import default_task_backend

    default_task_backend.clear()
    yield default_task_backend
    default_task_backend.clear()


@pytest.fixture
def version(school_code):
    return school_code.versions.get()


@pytest.fixture
def carer(school):
    return family(school)


@pytest.fixture
def link(carer, version):
    """(signing request, token) for the carer's link to sign the version in force."""
    return issued_link(carer, version)


@pytest.fixture
def token(link):
    return link[1]


@pytest.fixture
def office(school):
    user = UserFactory(first_name="Olive", last_name="Okafor")
    StaffRoleFactory(user=user, organisation=school, role=StaffRole.Role.OFFICE)
    return user


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path

