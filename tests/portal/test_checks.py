"""`manage.py check --deploy` refuses a production portal that could not seal a PDF, or whose
rate limits would be counted separately in each web process."""

import pytest

from evidence.checks import signing_certificate_check
from evidence.seal import self_signed_pkcs12
from portal.checks import shared_rate_limits_check

LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
REDIS = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:6379/0"}}
DATABASE = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "portal_cache"}}
DUMMY = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    path = tmp_path_factory.mktemp("seal") / "seal.p12"
    path.write_bytes(self_signed_pkcs12(common_name="Test seal", password="right horse battery"))
    return str(path)


@pytest.fixture
def production(settings):
    settings.PRODUCTION = True
    return settings


def ids(errors) -> list[str]:
    return [error.id for error in errors]


def test_production_without_a_signing_certificate_fails_the_check(production):
    production.PORTAL_SIGNING_CERT = ""
    errors = signing_certificate_check()
    assert ids(errors) == ["portal.E001"]
    assert "PORTAL_SIGNING_CERT must be set" in errors[0].msg


@pytest.mark.parametrize(("path", "password", "said"), [
    ("/nowhere/seal.p12", "right horse battery", "cannot read /nowhere/seal.p12"),
    (None, "wrong password", "is not a PKCS#12 file this password opens"),
])
def test_a_certificate_that_cannot_be_opened_fails_the_check(production, certificate, path, password, said):
    production.PORTAL_SIGNING_CERT = path or certificate
    production.PORTAL_SIGNING_CERT_PASSWORD = password
    errors = signing_certificate_check()
    assert ids(errors) == ["portal.E001"] and said in errors[0].msg


def test_a_certificate_that_opens_passes(production, certificate):
    production.PORTAL_SIGNING_CERT = certificate
    production.PORTAL_SIGNING_CERT_PASSWORD = "right horse battery"
    assert signing_certificate_check() == []


def test_development_needs_no_certificate(settings):
    settings.PRODUCTION = False
    settings.PORTAL_SIGNING_CERT = ""
    assert signing_certificate_check() == []


@pytest.mark.parametrize(("caches", "processes", "expected"), [
    (LOCMEM, 1, []),
    (LOCMEM, 2, ["portal.E003"]),
    (LOCMEM, 4, ["portal.E003"]),
    (REDIS, 4, []),
    (DATABASE, 4, []),
    (DUMMY, 1, ["portal.E002"]),
])
def test_rate_limits_must_be_counted_in_a_cache_every_process_shares(production, caches, processes, expected):
    production.CACHES = caches
    production.PORTAL_WEB_PROCESSES = processes
    errors = shared_rate_limits_check()
    assert ids(errors) == expected
    if expected == ["portal.E003"]:
        assert f"each of the {processes} web processes" in errors[0].msg and "REDIS_URL" in errors[0].hint
