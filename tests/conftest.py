"""Fixtures shared by the whole suite. The clock is fixed at NOW for every test, and rate-limit
counters (kept in the cache, which outlives a test) start from nothing."""

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core import mail
from django.core.cache import cache

from schools.models import StaffRole
from tests.declarations.factories import NOW, family, issued_link
from tests.factories import (
    AssociationFactory,
    CodeFactory,
    SchoolFactory,
    StaffRoleFactory,
    UserFactory,
    invitations_taken,
    published_version,
)
from tests.worker import LOCMEM_MAIL, use_database_tasks


@pytest.fixture
def school(db):
    return SchoolFactory(name="Whitefield Primary School", slug="whitefield-primary")


@pytest.fixture
def school_code(school):
    code = CodeFactory(owner=school)
    invitations_taken(published_version(code))
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


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """On SQLite the test database is a file in a temporary directory, not the default in-memory one.

    An in-memory database can only be shared between threads through one connection, so the live
    server the browser tests talk to would serve its parallel requests (a page's stylesheet and
    logo at once) on a single sqlite3 connection, which is not safe: two identical queries racing on
    it once returned the school twice. With a file each thread has its own connection, as the
    portal has when it runs on SQLite for real.
    """
    database = django_settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("database") / "test.sqlite3")


@pytest.fixture(scope="session")
def _evidence_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("evidence")


@pytest.fixture(autouse=True)
def evidence_files_in_tmp(settings, _evidence_dir):
    """Files the tests make (declaration PDFs, uploads) go to a temporary directory, never var/;
    the development seal (a self-signed certificate, evidence/seal.py) is made there once
    per test session."""
    settings.MEDIA_ROOT = _evidence_dir / "media"
    settings.PORTAL_SIGNING_DIR = _evidence_dir / "signing"
    settings.PORTAL_SIGNING_CERT = ""
    settings.PORTAL_SIGNING_CERT_PASSWORD = ""


@pytest.fixture(autouse=True)
def axes_off(settings):
    """django-axes counts failed sign-ins and needs a real request to do it (client.login has
    none). Off everywhere but the throttling tests, which ask for `axes_on`."""
    settings.AXES_ENABLED = False


@pytest.fixture
def axes_on(settings, axes_off):
    settings.AXES_ENABLED = True


@pytest.fixture
def verified_client(db):
    """verify(client, user): sign `user` in on `client` past the second factor.

    Gives the user a confirmed authenticator app (if they have none) and marks the client's
    session as verified with it, the way django_otp.login does, so views behind
    schools.mfa.mfa_required let them in. Returns the device.
    """
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    def verify(client, user):
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name="Test authenticator", confirmed=True)
        client.force_login(user)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
        return device

    return verify


def _is_transactional(request) -> bool:
    marker = request.node.get_closest_marker("django_db")
    return (
        "transactional_db" in request.fixturenames
        or "live_server" in request.fixturenames
        or bool(marker and marker.kwargs.get("transaction"))
    )


@pytest.fixture(autouse=True)
def _flush_past_evidence_triggers(request):
    """Let pytest-django empty the database after transactional tests on SQLite.

    Those tests cannot roll back, so the database is flushed after each, and on SQLite a flush is
    DELETE FROM, which the triggers guarding evidence (frozen versions, the audit log) refuse.
    The triggers are lifted, the database flushed here and the triggers put back at once.
    PostgreSQL flushes with TRUNCATE, which the row triggers do not see.
    """
    from django.core.management import call_command
    from django.db import connection

    if not _is_transactional(request):
        yield
        return
    request.getfixturevalue("transactional_db")
    yield
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
        triggers = cursor.fetchall()
        for name, _ in triggers:
            cursor.execute(f'DROP TRIGGER "{name}"')
    try:
        call_command("flush", interactive=False, verbosity=0, inhibit_post_migrate=True)
    finally:
        with connection.cursor() as cursor:
            for _, sql in triggers:
                cursor.execute(sql)


@pytest.fixture(autouse=True)
def now():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """Rate-limit counters live in the cache, which outlives a test: each test starts from none.
    (Cleared before the test, while the cache is still the suite's own: a test may swap it.)"""
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
def staff(client, verified_client, office):
    """The test client, signed in as the school's office staff, past the second factor."""
    verified_client(client, office)
    return client


@pytest.fixture
def locmem_mail(settings):
    """E-mails are kept in django.core.mail.outbox, from the portal's address, with links to
    https://codes.example.org."""
    settings.MAILERS = LOCMEM_MAIL
    settings.DEFAULT_FROM_EMAIL = "Codes of conduct portal <no-reply@codes.example.org>"
    settings.PORTAL_BASE_URL = "https://codes.example.org"
    mail.outbox = []


@pytest.fixture
def database_tasks(settings):
    """Tasks go to the database queue, as in the portal, and run only when a worker runs
    (tests.worker.run_worker)."""
    use_database_tasks(settings)


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

