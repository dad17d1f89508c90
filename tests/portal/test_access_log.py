"""The production web server, started as the README says, writes signing links to its logs
without their token: a carer's link is their key for 60 days, and logs are kept and read."""

import http.client
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
GUNICORN = Path(sys.executable).with_name("gunicorn")


def environment(var_dir: Path, access_log: Path, error_log: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PORTAL_", "DATABASE_URL", "GUNICORN_", "WEB_CONCURRENCY"))}
    env.update(
        PORTAL_VAR_DIR=str(var_dir),  # its own SQLite database and secret key
        GUNICORN_BIND="127.0.0.1:0",  # a free port, read back from the error log
        GUNICORN_ACCESS_LOG=str(access_log),
        GUNICORN_ERROR_LOG=str(error_log),
        WEB_CONCURRENCY="1",
    )
    return env


def listening_port(error_log: Path, server: subprocess.Popen, within: float = 60) -> int:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", error_log.read_text() if error_log.exists() else "")
        if found:
            return int(found.group(1))
        if server.poll() is not None:
            break
        time.sleep(0.1)
    pytest.fail(f"gunicorn did not start:\n{error_log.read_text() if error_log.exists() else ''}")


def get(port: int, path: str, **headers) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers={"Host": "127.0.0.1", **headers})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


@pytest.fixture
def gunicorn(tmp_path):
    """gunicorn started with the project's configuration (portal/gunicorn.conf.py), on a
    migrated database of its own; stopped (and waited for) at the end."""
    access_log, error_log = tmp_path / "access.log", tmp_path / "error.log"
    env = environment(tmp_path / "var", access_log, error_log)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=120)
    django_log = tmp_path / "django.log"  # what Django itself logs: the processes' standard error
    with django_log.open("wb") as output:
        server = subprocess.Popen(
            [str(GUNICORN), "-c", "portal/gunicorn.conf.py"], cwd=ROOT, env=env, stdout=output, stderr=output
        )
    try:
        yield listening_port(error_log, server), access_log, error_log, django_log
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def test_gunicorns_access_log_never_holds_a_signing_token(gunicorn):
    port, access_log, error_log, django_log = gunicorn
    token = secrets.token_urlsafe(32)
    other = secrets.token_urlsafe(32)
    truncated = secrets.token_urlsafe(32)[:20]

    assert get(port, f"/sign/t/{token}/") == 404  # unknown here: the link-problem page
    assert get(port, f"/sign/t/{other}/changes/?utm_source=email", Referer=f"https://mail.example.org/sign/t/{token}/") == 404
    assert get(port, f"/sign/t/{truncated}") == 301  # no trailing slash: redirected, and logged, before any view
    assert get(port, "/") == 200

    deadline = time.monotonic() + 10  # gunicorn writes the line after the response is sent
    while len(access_log.read_text().splitlines()) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = access_log.read_text().splitlines()
    assert len(lines) == 4, lines
    logs = access_log.read_text() + error_log.read_text() + django_log.read_text()
    for secret in (token, other, truncated):
        assert secret not in logs
    # What is left is still useful: which page, which status, from where.
    assert '"GET /sign/t/[token]/ HTTP/1.1"' in lines[0]
    assert '"GET /sign/t/[token]/changes/?utm_source=email HTTP/1.1"' in lines[1]
    assert '"https://mail.example.org/sign/t/[token]/"' in lines[1]
    assert '"GET /sign/t/[token] HTTP/1.1" 301' in lines[2]
    assert lines[0].startswith("127.0.0.1 ")
    assert "Not Found: /sign/t/[token]/" in django_log.read_text()  # an unknown link is a 404
