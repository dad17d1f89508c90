import pytest

from tests.factories import AssociationFactory, CodeFactory, SchoolFactory, StaffRoleFactory, published_version
from schools.models import StaffRole


@pytest.fixture
def school(db):
    return SchoolFactory(name="Whitefield Primary School", slug="whitefield-primary")


@pytest.fixture
def school_code(school):
    code = CodeFactory(owner=school)
    published_version(code)
    return code


@pytest.fixture
def headteacher(school):
    return StaffRoleFactory(organisation=school, role=StaffRole.Role.HEADTEACHER).user


@pytest.fixture
def other_school(db):
    return SchoolFactory(name="Peartree Spring Primary School", slug="peartree-spring-primary")


@pytest.fixture
def association(db):
    return AssociationFactory(name="Halton Association of Secondary Headteachers", slug="halton-secondary")


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Real hashers are deliberately slow; the suite creates hundreds of users."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
