"""`manage.py backup` and `manage.py restore --check`: the passphrase rules, what the archive
holds and says about itself, files kept off the machine, and writing the secrets back out. These
run on either database."""

import hashlib
import os
import stat
from io import StringIO

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import CommandError, call_command

from backups.archive import unpack
from tests.backups.deployment import PASSPHRASE, SECRET_KEY

pytestmark = pytest.mark.django_db(transaction=True)


def backup(path, passphrase=PASSPHRASE, monkeypatch=None, **options):
    out = StringIO()
    if passphrase is None:
        monkeypatch.delenv("PORTAL_BACKUP_PASSPHRASE", raising=False)
    else:
        monkeypatch.setenv("PORTAL_BACKUP_PASSPHRASE", passphrase)
    call_command("backup", out=str(path), stdout=out, **options)
    return out.getvalue()


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PORTAL_SIGNING_DIR = tmp_path / "signing"
    return settings.MEDIA_ROOT


@pytest.mark.parametrize(
    "passphrase,message",
    [(None, "PORTAL_BACKUP_PASSPHRASE is not set"), ("fifteen chars..", r"is too short \(15 characters\): use at least 16")],
)
def test_backup_refuses_without_a_long_enough_passphrase(passphrase, message, media, tmp_path, monkeypatch):
    with pytest.raises(CommandError, match=message):
        backup(tmp_path / "portal.backup", passphrase, monkeypatch)
    assert list(tmp_path.glob("*portal.backup*")) == []


def test_backup_never_overwrites_a_file(media, tmp_path, monkeypatch):
    existing = tmp_path / "portal.backup"
    existing.write_bytes(b"last night's backup")
    with pytest.raises(CommandError, match="already exists: a backup never overwrites a file"):
        backup(existing, monkeypatch=monkeypatch)
    assert existing.read_bytes() == b"last night's backup"


def test_the_archive_is_readable_by_its_owner_only_and_holds_nothing_in_clear(evidence, archive):
    assert stat.S_IMODE(os.stat(archive).st_mode) == 0o600
    data = archive.read_bytes()
    assert b"%PDF" not in data
    assert SECRET_KEY.encode() not in data
    assert b"Whitefield" not in data


def test_the_manifest_lists_every_file_with_its_sha256(evidence, archive, tmp_path, settings):
    unpacked = unpack(archive, PASSPHRASE, tmp_path / "unpacked")
    manifest = unpacked.manifest

    assert manifest["portal_version"] == "0.1.0"
    assert manifest["created_at"]
    assert manifest["database"]["vendor"] in {"sqlite", "postgresql"}
    assert manifest["database"]["tables"]["declarations_declaration"] == 2
    assert manifest["storage"] == {
        "backend": "django.core.files.storage.filesystem.FileSystemStorage",
        "local": True,
        "location": str(settings.MEDIA_ROOT),
    }
    listed = {entry["path"]: entry["sha256"] for entry in manifest["files"]}
    assert listed[f"files/{evidence.pdf_name}"] == hashlib.sha256(evidence.pdf).hexdigest()
    assert listed[f"files/{evidence.scan_name}"] == hashlib.sha256(evidence.scan).hexdigest()
    assert "secrets/signing-dir/development-seal.p12" in listed
    assert manifest["database"]["file"] in listed
    assert unpacked.secrets()["secret_key"] == SECRET_KEY


def test_check_says_what_the_archive_holds_and_writes_the_secrets_out(evidence, archive, tmp_path, monkeypatch):
    monkeypatch.setenv("PORTAL_BACKUP_PASSPHRASE", PASSPHRASE)
    secrets = tmp_path / "restored.env"
    out = StringIO()

    call_command("restore", str(archive), check=True, write_secrets=str(secrets), stdout=out)

    assert "2 stored files" in out.getvalue()
    assert "The backup opens and is intact. Nothing was restored." in out.getvalue()
    assert secrets.read_text() == f"DJANGO_SECRET_KEY={SECRET_KEY}\n"
    assert stat.S_IMODE(os.stat(secrets).st_mode) == 0o600


def test_files_in_object_storage_are_backed_up_through_the_storage_api(settings, tmp_path, monkeypatch):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}
    settings.PORTAL_SIGNING_DIR = tmp_path / "signing"
    storages["default"].save("declarations/2026/12/one.pdf", ContentFile(b"%PDF-1.7 one"))
    storages["default"].save("paper-forms/2026/12/form.jpg", ContentFile(b"\xff\xd8\xff scan"))

    said = backup(tmp_path / "portal.backup", monkeypatch=monkeypatch)

    assert "not on this machine" in said
    unpacked = unpack(tmp_path / "portal.backup", PASSPHRASE, tmp_path / "unpacked")
    assert (tmp_path / "unpacked" / "files/declarations/2026/12/one.pdf").read_bytes() == b"%PDF-1.7 one"
    assert unpacked.manifest["storage"]["local"] is False
    assert sorted(entry["name"] for entry in unpacked.stored_files) == [
        "declarations/2026/12/one.pdf",
        "paper-forms/2026/12/form.jpg",
    ]
