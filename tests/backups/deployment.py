"""A deployment with evidence in it, and other deployments run as separate processes.

The source deployment is the test's own (its database, a MEDIA_ROOT and PORTAL_SIGNING_DIR of its
own); a target is `manage.py` in a subprocess with its own PORTAL_VAR_DIR (database, media,
secret key, development seal) and, for PostgreSQL, its own DATABASE_URL: nothing shared with the
source but the code.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone

from evidence.pdf import declaration_pdf_issue
from tests.declarations.evidence import sign_on_paper, sign_online
from tests.declarations.factories import family
from tests.factories import (
    CodeFactory,
    SchoolFactory,
    StaffRoleFactory,
    UserFactory,
    published_version,
)

PASSPHRASE = "a long enough passphrase for tests"
SECRET_KEY = "the-backed-up-secret-key-" + "x" * 40
# What the target must not inherit from the environment the tests run in.
INHERITED = (
    "DATABASE_URL", "DJANGO_SECRET_KEY", "DJANGO_MEDIA_ROOT", "DJANGO_STATIC_ROOT", "PORTAL_ENV",
    "PORTAL_SIGNING_CERT", "PORTAL_SIGNING_CERT_PASSWORD", "AWS_STORAGE_BUCKET_NAME", "PORTAL_BACKUP_PASSPHRASE",
)


@dataclass
class Evidence:
    school_name: str
    carers: list[str]
    pdf_name: str  # in storage
    pdf: bytes
    scan_name: str
    scan: bytes
    declarations: int
    certificate_fingerprint: str


def make_evidence(settings_fixture, tmp_path: Path) -> Evidence:
    """A school, carers, a declaration signed online with its sealed PDF, and one on paper with
    its scan; files and the development seal in folders of this test's own."""
    settings_fixture.MEDIA_ROOT = tmp_path / "source" / "media"
    settings_fixture.PORTAL_SIGNING_DIR = tmp_path / "source" / "signing"
    settings_fixture.SECRET_KEY = SECRET_KEY
    school = SchoolFactory(name="Whitefield Primary School", slug="whitefield-primary")
    version = published_version(CodeFactory(owner=school), effective_from=timezone.localdate() - datetime.timedelta(days=30))
    office = UserFactory(first_name="Olive", last_name="Okafor")
    StaffRoleFactory(user=office, organisation=school, role="office")
    online = family(school)
    on_paper = family(school, forename="Siobhan", surname="O'Brien", email="", children=(("Aoife", "O'Brien", "4", "4C"),))
    record = declaration_pdf_issue(declaration_id=sign_online(online, version).pk)
    paper = sign_on_paper(on_paper, version, recorded_by=office, signed_on=timezone.localdate())
    with record.file.open("rb") as file:
        pdf = file.read()
    with default_storage.open(paper.paper_scan.name, "rb") as file:
        scan = file.read()
    return Evidence(
        school_name=school.name,
        carers=sorted([online.full_name, on_paper.full_name]),
        pdf_name=record.file.name,
        pdf=pdf,
        scan_name=paper.paper_scan.name,
        scan=scan,
        declarations=2,
        certificate_fingerprint=record.certificate_fingerprint,
    )


def environment(var_dir: Path, *, database_url: str | None = None, passphrase: str | None = PASSPHRASE, **extra: str) -> dict:
    env = {name: value for name, value in os.environ.items() if name not in INHERITED} | extra
    env["PORTAL_VAR_DIR"] = str(var_dir)
    if database_url:
        env["DATABASE_URL"] = database_url
    if passphrase is not None:
        env["PORTAL_BACKUP_PASSPHRASE"] = passphrase
    return env


def manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=600, check=False,
    )


READ_BACK = """
import json
from declarations.models import Declaration
from evidence.seal import portal_certificate
from schools.models import Carer, Organisation
print(json.dumps({
    "schools": sorted(Organisation.objects.values_list("name", flat=True)),
    "carers": sorted(c.full_name for c in Carer.objects.all()),
    "declarations": Declaration.objects.count(),
    "certificate_fingerprint": portal_certificate().fingerprint,
}))
"""


def read_back(env: dict) -> dict:
    """What the target deployment holds, as it sees it."""
    result = manage(env, "shell", "--no-imports", "-c", READ_BACK)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def tree(folder: Path) -> dict[str, str]:
    """Every file under `folder` and its SHA-256: to show that nothing changed."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }
