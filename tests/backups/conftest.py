import pytest
from django.core.management import call_command

from tests.backups.deployment import PASSPHRASE, make_evidence


@pytest.fixture
def evidence(settings, tmp_path):
    return make_evidence(settings, tmp_path)


@pytest.fixture
def archive(evidence, tmp_path, monkeypatch):
    """A backup of the test's deployment, made by `manage.py backup` in this process."""
    path = tmp_path / "portal.backup"
    monkeypatch.setenv("PORTAL_BACKUP_PASSPHRASE", PASSPHRASE)
    call_command("backup", out=str(path), verbosity=0)
    monkeypatch.delenv("PORTAL_BACKUP_PASSPHRASE")
    return path
