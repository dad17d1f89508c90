"""Production configuration comes from the environment and passes Django's deployment checks."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION_ENV = {
    "PORTAL_ENV": "production",
    "DJANGO_SECRET_KEY": "x" * 20 + "production-secret-key-for-the-check-" + "y" * 20,
    "DJANGO_ALLOWED_HOSTS": "codes.example.org",
    "DATABASE_URL": "postgres://portal@127.0.0.1:5432/portal",
    "EMAIL_HOST": "smtp.example.org",
}


def run_manage(*args, extra_env=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PORTAL_", "DATABASE_URL", "EMAIL_"))}
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_production_settings_pass_check_deploy():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", extra_env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "DJANGO_SECRET_KEY"}
    result = run_manage("check", extra_env=env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_demo_accounts_are_never_created_in_production():
    result = run_manage("load_demo", extra_env=PRODUCTION_ENV)
    assert result.returncode != 0
    assert "never created with PORTAL_ENV=production" in result.stderr
