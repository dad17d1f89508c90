"""The round trip on PostgreSQL: pg_dump into the archive, pg_restore into a new database that
`migrate` has already set up (empty), and every declaration PDF still verifies there. Skipped
unless the suite runs on PostgreSQL, as CI's second run does."""

import uuid
from urllib.parse import quote

import psycopg
import pytest
from django.db import connection

from tests.backups.deployment import environment, manage, read_back, tree

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL (pg_dump and pg_restore)"),
    pytest.mark.django_db(transaction=True),
]


def _server():
    settings_dict = connection.settings_dict
    return {
        "host": settings_dict["HOST"] or "localhost",
        "port": settings_dict["PORT"] or 5432,
        "user": settings_dict["USER"] or "postgres",
        "password": settings_dict["PASSWORD"] or "",
    }


@pytest.fixture
def new_database():
    """The URL of a database created for this test on the same server, dropped afterwards."""
    server = _server()
    name = f"{connection.settings_dict['NAME']}_restore_{uuid.uuid4().hex[:8]}"[:63]
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    credentials = quote(server["user"]) + (f":{quote(server['password'])}" if server["password"] else "")
    yield f"postgres://{credentials}@{server['host']}:{server['port']}/{name}"
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_restored_deployment_holds_the_data_and_every_pdf_still_verifies(evidence, archive, new_database, tmp_path):
    target = tmp_path / "target"
    env = environment(target, database_url=new_database)
    assert manage(env, "migrate", "-v0").returncode == 0

    restored = manage(env, "restore", str(archive))

    assert restored.returncode == 0, restored.stderr
    held = read_back(env)
    assert held["schools"] == [evidence.school_name]
    assert held["carers"] == evidence.carers
    assert held["declarations"] == evidence.declarations
    assert held["certificate_fingerprint"] == evidence.certificate_fingerprint
    restored_pdf = target / "media" / evidence.pdf_name
    assert restored_pdf.read_bytes() == evidence.pdf
    assert (target / "media" / evidence.scan_name).read_bytes() == evidence.scan
    verified = manage(env, "verify_declaration_pdf", str(restored_pdf))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "VALID: an unaltered declaration PDF" in verified.stdout
    # The evidence triggers came back with the data: a declaration still cannot be edited.
    edit = manage(env, "shell", "--no-imports", "-c", "from declarations.models import Declaration; Declaration.objects.update(typed_name='x')")
    assert edit.returncode != 0
    assert "declarations are evidence and are never edited" in edit.stderr


def test_a_wrong_passphrase_is_refused_and_changes_nothing(archive, new_database, tmp_path):
    target = tmp_path / "target"
    env = environment(target, database_url=new_database, passphrase="not the passphrase it was made with")
    assert manage(env, "migrate", "-v0").returncode == 0
    before = tree(target)

    result = manage(env, "restore", str(archive))

    assert result.returncode == 1
    assert "The passphrase does not open this backup" in result.stderr
    assert tree(target) == before
    assert "0" == manage(env, "shell", "--no-imports", "-c", "from schools.models import Organisation; print(Organisation.objects.count())").stdout.split()[-1]


def test_a_database_that_holds_data_is_refused_and_left_as_it_was(archive, new_database, tmp_path):
    env = environment(tmp_path / "target", database_url=new_database)
    assert manage(env, "restore", str(archive)).returncode == 0
    other = environment(tmp_path / "other", database_url=new_database)  # new files, same database

    result = manage(other, "restore", str(archive))

    assert result.returncode == 1
    assert "already holds data" in result.stderr
    assert not (tmp_path / "other" / "media").exists()
