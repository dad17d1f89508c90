"""Production configuration comes from the environment and passes Django's deployment checks."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from evidence.seal import self_signed_pkcs12

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION_ENV = {
    "PORTAL_ENV": "production",
    "DJANGO_SECRET_KEY": "x" * 20 + "production-secret-key-for-the-check-" + "y" * 20,
    "DJANGO_ALLOWED_HOSTS": "codes.example.org",
    "DATABASE_URL": "postgres://portal@127.0.0.1:5432/portal",
    "EMAIL_HOST": "smtp.example.org",
}


@pytest.fixture(scope="module")
def production_env(tmp_path_factory):
    """What an operator sets in production, with the certificate that seals declaration PDFs
    (PRODUCTION_ENV alone is enough for anything but `check --deploy`)."""
    certificate = tmp_path_factory.mktemp("seal") / "seal.p12"
    certificate.write_bytes(self_signed_pkcs12(common_name="Check deploy test seal", password="seal-password"))
    return {**PRODUCTION_ENV, "PORTAL_SIGNING_CERT": str(certificate), "PORTAL_SIGNING_CERT_PASSWORD": "seal-password"}


def run_manage(*args, extra_env=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PORTAL_", "DATABASE_URL", "EMAIL_", "REDIS_URL", "WEB_CONCURRENCY"))}
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_production_settings_pass_check_deploy(production_env):
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", extra_env=production_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_fails_in_production_without_a_signing_certificate(production_env):
    """Without it, the first declaration PDF would fail in the background after a parent signed."""
    env = {k: v for k, v in production_env.items() if not k.startswith("PORTAL_SIGNING_CERT")}
    result = run_manage("check", "--deploy", extra_env=env)
    assert result.returncode != 0
    assert "portal.E001" in result.stderr and "PORTAL_SIGNING_CERT must be set" in result.stderr


def test_check_deploy_fails_with_several_web_processes_counting_rate_limits_each_on_its_own(production_env):
    result = run_manage("check", "--deploy", extra_env={**production_env, "WEB_CONCURRENCY": "3"})
    assert result.returncode != 0
    assert "portal.E003" in result.stderr and "each of the 3 web processes" in result.stderr
    shared = {**production_env, "WEB_CONCURRENCY": "3", "REDIS_URL": "redis://127.0.0.1:6379/0"}
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", extra_env=shared)
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key(production_env):
    env = {k: v for k, v in production_env.items() if k != "DJANGO_SECRET_KEY"}
    result = run_manage("check", extra_env=env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_demo_accounts_are_never_created_in_production(production_env):
    result = run_manage("load_demo", extra_env=production_env)
    assert result.returncode != 0
    assert "never created with PORTAL_ENV=production" in result.stderr


def test_files_go_to_s3_compatible_storage_when_a_bucket_is_named_and_production_still_passes_its_checks(production_env):
    """Every stored file (PDFs, scans, exports, uploads) goes through default_storage: naming a
    bucket is the whole change. Nothing here talks to S3: the storage is only configured."""
    s3 = {
        **production_env,
        "AWS_STORAGE_BUCKET_NAME": "portal-evidence",
        "AWS_S3_ENDPOINT_URL": "https://s3.example.org",
        "AWS_S3_REGION_NAME": "eu-west-2",
    }
    script = (
        "from django.core.files.storage import default_storage, storages; "
        "from evidence.models import DeclarationPdf, Export; "
        "s = storages['default']; "
        "print(type(s).__module__, s.bucket_name, s.endpoint_url, s.default_acl, s.file_overwrite, "
        "DeclarationPdf._meta.get_field('file').storage is default_storage, "
        "Export._meta.get_field('file').storage is default_storage)"
    )
    result = run_manage("shell", "-c", script, extra_env=s3)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].split() == [  # the last line: `shell` first says what it imported
        "storages.backends.s3", "portal-evidence", "https://s3.example.org", "private", "False", "True", "True"
    ]
    assert run_manage("check", "--deploy", "--fail-level", "WARNING", extra_env=s3).returncode == 0


def test_an_email_service_through_anymail_is_only_a_settings_change(production_env):
    service = {k: v for k, v in production_env.items() if k != "EMAIL_HOST"}
    service.update({"ANYMAIL_ESP": "postmark", "ANYMAIL_POSTMARK_SERVER_TOKEN": "token-from-the-service"})
    script = (
        "from django.conf import settings; from django.core import mail; "
        "m = mail.mailers['default']; print(type(m).__module__, m.server_token, settings.ANYMAIL)"
    )
    result = run_manage("shell", "-c", script, extra_env=service)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == (
        "anymail.backends.postmark token-from-the-service {'POSTMARK_SERVER_TOKEN': 'token-from-the-service'}"
    )
    assert run_manage("check", "--deploy", "--fail-level", "WARNING", extra_env=service).returncode == 0


def test_production_refuses_to_start_without_a_way_to_send_email(production_env):
    env = {k: v for k, v in production_env.items() if k != "EMAIL_HOST"}
    result = run_manage("check", extra_env=env)
    assert result.returncode != 0
    assert "EMAIL_HOST (an SMTP server) or ANYMAIL_ESP (an e-mail service) must be set" in result.stderr


def test_the_demo_emails_links_to_the_port_it_serves_on():
    shown = "from django.conf import settings; print(settings.PORTAL_BASE_URL)"
    assert run_manage("shell", "-c", shown, extra_env={"PORT": "18500"}).stdout.splitlines()[-1] == "http://127.0.0.1:18500"
    assert run_manage("shell", "-c", shown).stdout.splitlines()[-1] == "http://127.0.0.1:8000"
    given = {"PORT": "18500", "PORTAL_BASE_URL": "https://codes.example.org/"}
    assert run_manage("shell", "-c", shown, extra_env=given).stdout.splitlines()[-1] == "https://codes.example.org"


def test_make_run_passes_its_port_to_the_worker_and_the_scheduler():
    script = (ROOT / "scripts" / "run-demo").read_text()
    assert "export PORT\n" in script.split("$PY manage.py db_worker")[0]
