"""Back up a deployment with evidence in it, restore it into a new one (another process, its own
database, files and secrets), and every declaration PDF still verifies there. SQLite here; the
same on PostgreSQL in test_round_trip_postgres.py."""

import sqlite3
import stat

import pytest
from django.db import connection

from tests.backups.deployment import environment, manage, read_back, tree

pytestmark = [
    pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite round trip; CI's PostgreSQL run has its own"),
    pytest.mark.django_db(transaction=True),
]


@pytest.mark.parametrize("migrated_first", [False, True], ids=["new database", "migrated empty database"])
def test_a_restored_deployment_holds_the_data_and_every_pdf_still_verifies(evidence, archive, tmp_path, migrated_first):
    target = tmp_path / "target"
    env = environment(target)
    if migrated_first:
        assert manage(env, "migrate", "-v0").returncode == 0

    restored = manage(env, "restore", str(archive))

    assert restored.returncode == 0, restored.stderr
    assert "Restored:" in restored.stdout
    held = read_back(env)
    assert held["schools"] == [evidence.school_name]
    assert held["carers"] == evidence.carers
    assert held["declarations"] == evidence.declarations
    # The seal itself came back, not a new one made by the target.
    assert held["certificate_fingerprint"] == evidence.certificate_fingerprint
    assert (target / "secret_key").read_text() == "the-backed-up-secret-key-" + "x" * 40
    restored_pdf = target / "media" / evidence.pdf_name
    assert restored_pdf.read_bytes() == evidence.pdf
    assert (target / "media" / evidence.scan_name).read_bytes() == evidence.scan
    verified = manage(env, "verify_declaration_pdf", str(restored_pdf))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "VALID: an unaltered declaration PDF" in verified.stdout


def test_a_restored_deployment_can_be_backed_up_again_and_restored_elsewhere(evidence, archive, tmp_path):
    first, second = environment(tmp_path / "first"), environment(tmp_path / "second")
    assert manage(first, "restore", str(archive)).returncode == 0
    again = tmp_path / "again.backup"
    assert manage(first, "backup", "--out", str(again)).returncode == 0

    assert manage(second, "restore", str(again)).returncode == 0

    pdf = tmp_path / "second" / "media" / evidence.pdf_name
    assert manage(second, "verify_declaration_pdf", str(pdf)).returncode == 0


def test_a_wrong_passphrase_is_refused_and_changes_nothing(archive, tmp_path):
    target = tmp_path / "target"
    env = environment(target, passphrase="not the passphrase it was made with")
    assert manage(env, "migrate", "-v0").returncode == 0
    before = tree(target)

    result = manage(env, "restore", str(archive))

    assert result.returncode == 1
    assert "The passphrase does not open this backup" in result.stderr
    assert tree(target) == before
    assert not (target / "media").exists()


def test_an_altered_archive_is_refused_and_changes_nothing(archive, tmp_path):
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0x01
    altered = tmp_path / "altered.backup"
    altered.write_bytes(bytes(data))
    target = tmp_path / "target"
    env = environment(target)
    assert manage(env, "migrate", "-v0").returncode == 0
    before = tree(target)

    result = manage(env, "restore", str(altered))

    assert result.returncode == 1
    assert "damaged, cut short or has been altered" in result.stderr
    assert tree(target) == before


def test_a_deployment_that_holds_data_is_refused_and_left_as_it_was(archive, tmp_path):
    target = tmp_path / "target"
    env = environment(target)
    assert manage(env, "restore", str(archive)).returncode == 0
    (target / "media" / "kept.txt").write_text("a file of the target's own")
    before = tree(target)

    result = manage(env, "restore", str(archive))

    assert result.returncode == 1
    assert "already holds data" in result.stderr
    assert tree(target) == before


def test_files_already_in_storage_are_refused_even_with_an_empty_database(archive, tmp_path):
    target = tmp_path / "target"
    (target / "media").mkdir(parents=True)
    (target / "media" / "someone-elses.pdf").write_bytes(b"%PDF-1.7 not ours")
    env = environment(target)

    result = manage(env, "restore", str(archive))

    assert result.returncode == 1
    assert "already holds files (someone-elses.pdf" in result.stderr
    assert [path.name for path in (target / "media").iterdir()] == ["someone-elses.pdf"]
    with sqlite3.connect(target / "portal.sqlite3") as database:
        assert database.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 0


def test_a_different_seal_in_the_target_is_never_replaced(archive, tmp_path):
    target = tmp_path / "target"
    env = environment(target)
    assert manage(env, "migrate", "-v0").returncode == 0
    made = manage(env, "shell", "--no-imports", "-c", "from evidence.seal import portal_certificate; portal_certificate()")
    assert made.returncode == 0, made.stderr
    before = tree(target)

    result = manage(env, "restore", str(archive))

    assert result.returncode == 1
    assert "already holds a different file" in result.stderr
    assert tree(target) == before


@pytest.fixture
def configured_seal(settings, tmp_path):
    """A production-style seal: PORTAL_SIGNING_CERT names a PKCS#12 file with a password."""
    from evidence.seal import self_signed_pkcs12

    path = tmp_path / "source" / "etc" / "seal.p12"
    path.parent.mkdir(parents=True)
    path.write_bytes(self_signed_pkcs12(common_name="Halton LA seal", password="the old password"))
    settings.PORTAL_SIGNING_CERT = str(path)
    settings.PORTAL_SIGNING_CERT_PASSWORD = "the old password"
    return path


def test_a_configured_seal_is_restored_where_the_target_says_under_its_own_password(configured_seal, evidence, archive, tmp_path):
    from cryptography.hazmat.primitives.serialization import pkcs12

    target = tmp_path / "target"
    seal = tmp_path / "target-etc" / "seal.p12"
    env = environment(target, PORTAL_SIGNING_CERT=str(seal), PORTAL_SIGNING_CERT_PASSWORD="the new password")

    restored = manage(env, "restore", str(archive))

    assert restored.returncode == 0, restored.stderr
    assert "under this deployment's PORTAL_SIGNING_CERT_PASSWORD" in restored.stdout
    assert stat.S_IMODE(seal.stat().st_mode) == 0o600
    original = pkcs12.load_pkcs12(configured_seal.read_bytes(), b"the old password")
    rewrapped = pkcs12.load_pkcs12(seal.read_bytes(), b"the new password")
    assert rewrapped.cert.certificate == original.cert.certificate
    assert read_back(env)["certificate_fingerprint"] == evidence.certificate_fingerprint
    pdf = target / "media" / evidence.pdf_name
    assert manage(env, "verify_declaration_pdf", str(pdf)).returncode == 0


def test_a_configured_seal_needs_somewhere_to_go(configured_seal, evidence, archive, tmp_path):
    target = tmp_path / "target"
    env = environment(target)
    assert manage(env, "migrate", "-v0").returncode == 0
    before = tree(target)

    result = manage(env, "restore", str(archive))

    assert result.returncode == 1
    assert "Set PORTAL_SIGNING_CERT here to where it should be written" in result.stderr
    assert tree(target) == before


def test_pdfs_sealed_in_development_still_verify_where_a_configured_seal_takes_over(evidence, archive, tmp_path):
    from evidence.seal import self_signed_pkcs12

    seal = tmp_path / "target-etc" / "seal.p12"
    seal.parent.mkdir()
    seal.write_bytes(self_signed_pkcs12(common_name="Halton LA seal"))
    target = tmp_path / "target"
    env = environment(target, PORTAL_SIGNING_CERT=str(seal))

    restored = manage(env, "restore", str(archive))

    assert restored.returncode == 0, restored.stderr
    assert "The PDFs sealed before still verify" in restored.stdout
    assert read_back(env)["certificate_fingerprint"] != evidence.certificate_fingerprint
    verified = manage(env, "verify_declaration_pdf", str(target / "media" / evidence.pdf_name))
    assert verified.returncode == 0, verified.stdout + verified.stderr
