"""What restore accepts as an empty deployment, checked before anything is written (here against
the test database, with a manifest made up to match or not)."""

import json

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

from backups.archive import BackupError, Unpacked
from backups.restore import check_target
from tests.factories import SchoolFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def unpacked(tmp_path, settings):
    """An archive's manifest matching this test database as `migrate` left it, no files."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PORTAL_SIGNING_DIR = tmp_path / "signing"
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "secrets.json").write_text(
        json.dumps({"secret_key": settings.SECRET_KEY, "signing_cert": None, "signing_dir": []})
    )
    applied = sorted([app, name] for app, name in MigrationRecorder(connection).applied_migrations())
    manifest = {
        "portal_version": "0.1.0",
        "database": {"vendor": connection.vendor, "file": "database/x", "tables": {}, "migrations": applied},
        "secrets": {"signing_cert": False, "signing_dir": []},
        "files": [],
    }
    return Unpacked(folder=tmp_path, manifest=manifest)


def test_a_database_that_migrate_has_set_up_is_empty(unpacked):
    plan = check_target(unpacked)
    assert plan.files_to_write == []


def test_one_row_of_data_is_not_empty(unpacked):
    SchoolFactory(name="Whitefield Primary School")
    with pytest.raises(BackupError, match=r"already holds data \(in .*schools_organisation"):
        check_target(unpacked)


def test_another_kind_of_database_is_refused(unpacked):
    other = "postgresql" if connection.vendor == "sqlite" else "sqlite"
    unpacked.manifest["database"]["vendor"] = other
    with pytest.raises(BackupError, match=f"holds a {other} database and this deployment uses {connection.vendor}"):
        check_target(unpacked)


def test_a_backup_from_a_newer_portal_is_refused(unpacked):
    unpacked.manifest["portal_version"] = "0.2.0"
    unpacked.manifest["database"]["migrations"].append(["schools", "9999_from_the_future"])
    with pytest.raises(BackupError, match=r"made by a newer portal \(version 0.2.0\).*schools.9999_from_the_future"):
        check_target(unpacked)


def test_a_database_migrated_beyond_the_backup_is_refused(unpacked):
    unpacked.manifest["database"]["migrations"] = [
        item for item in unpacked.manifest["database"]["migrations"] if item != ["declarations", "0002_declarations_are_never_edited"]
    ]
    with pytest.raises(BackupError, match=r"migrated further than the backed-up one \(declarations.0002"):
        check_target(unpacked)
