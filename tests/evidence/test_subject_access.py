"""A carer's subject access export is a ZIP: the JSON of everything held about them, the sealed PDF
of each declaration (rendered now where the worker has not yet), the scan of a paper form, and
when each of their links was issued, re-issued, opened and expired."""

import datetime
import io
import json
import zipfile

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from evidence.models import DeclarationPdf
from evidence.pdf import declaration_pdf_issue
from evidence.subject_access import carer_subject_access_zip
from evidence.verification import verify_pdf
from schools.models import AuditEvent, StaffRole
from sending.models import OutboxMessage
from tests.declarations.evidence import sign_on_paper, sign_online
from tests.declarations.factories import NOW, PDF
from tests.factories import StaffRoleFactory, published_version

pytestmark = pytest.mark.django_db

UTC = datetime.UTC


def at(month, day, hour=9):
    return datetime.datetime(2026, month, day, hour, 0, tzinfo=UTC)


@pytest.fixture
def history(now, school, school_code, version, carer, office):
    """Mary Smith: invited on 1 September, opened her link on the 3rd, reminded (a new link) on
    the 8th, a new link on the 10th that could not be delivered, signed version 1 online on 1
    October (its PDF made then); her link expired on 31 October. Version 2 came into force on 1
    November (published today) and she signed it on paper today (no PDF made yet)."""
    now.move_to(at(10, 1))
    first = sign_online(carer, version, invited_at=at(9, 1), opened_at=at(9, 3))
    OutboxMessage.objects.create(
        school=school, carer=carer, version=version, kind=OutboxMessage.Kind.REMINDER_1,
        status=OutboxMessage.Status.SENT, to_address=carer.email, sent_at=at(9, 8),
    )
    failed = OutboxMessage.objects.create(
        school=school, carer=carer, version=version, kind=OutboxMessage.Kind.NEW_LINK,
        status=OutboxMessage.Status.FAILED, to_address=carer.email, error="550 mailbox unavailable",
    )
    OutboxMessage.objects.filter(pk=failed.pk).update(created_at=at(9, 10))
    first.request.__class__.objects.filter(pk=first.request_id).update(expires_at=at(10, 31))
    first_pdf = declaration_pdf_issue(declaration_id=first.pk)
    now.move_to(NOW)
    second_version = published_version(school_code, body="## Expectations\n\nBe kinder.", effective_from=datetime.date(2026, 11, 1))
    second = sign_on_paper(carer, second_version, recorded_by=office, signed_on=datetime.date(2026, 11, 22))
    return {"first": first, "first_pdf": first_pdf, "second": second}


def unzip(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_the_zip_holds_the_json_every_declaration_pdf_and_the_paper_scan(history, school, carer, office):
    with history["first_pdf"].file.open("rb") as stored:
        first_stored = stored.read()

    download = carer_subject_access_zip(carer=carer, user=office)

    assert download.filename == f"carer-{carer.pk}-subject-access-2026-11-22.zip"
    files = unzip(download.content)
    assert sorted(files) == [
        "README.txt",
        "declarations/declaration-whitefield-primary-school-v1.pdf",
        "declarations/declaration-whitefield-primary-school-v2.pdf",
        "declarations/paper-form-v2.pdf",
        "subject-access.json",
    ]
    assert files["declarations/declaration-whitefield-primary-school-v1.pdf"] == first_stored, "the stored PDF, as stored"
    second_pdf = files["declarations/declaration-whitefield-primary-school-v2.pdf"]
    assert DeclarationPdf.objects.get(declaration=history["second"]).sha256 == verify_pdf(second_pdf).sha256
    assert verify_pdf(second_pdf).valid, "the missing PDF was rendered, sealed and recorded"
    assert files["declarations/paper-form-v2.pdf"] == PDF
    assert "Whitefield Primary School" in files["README.txt"].decode()

    data = json.loads(files["subject-access.json"])
    assert data["carer"]["email"] == carer.email
    assert data["carer"]["home_language"] == carer.language
    assert [d["version"] for d in data["declarations"]] == [1, 2]
    assert [(f["file"], f.get("verification_code")) for f in data["files"]] == [
        ("declarations/declaration-whitefield-primary-school-v1.pdf", history["first_pdf"].code_display),
        ("declarations/declaration-whitefield-primary-school-v2.pdf", DeclarationPdf.objects.get(declaration=history["second"]).code_display),
        ("declarations/paper-form-v2.pdf", None),
    ]


def test_the_link_events_say_when_each_link_was_issued_reissued_opened_and_expired(history, carer, office):
    data = json.loads(unzip(carer_subject_access_zip(carer=carer, user=office).content)["subject-access.json"])
    assert [(e["at"], e["event"], e["version"]) for e in data["link_events"]] == [
        ("2026-09-01T08:59:00+00:00", "asked", 1),
        ("2026-09-01T09:00:00+00:00", "issued", 1),
        ("2026-09-03T09:00:00+00:00", "opened", 1),
        ("2026-09-08T09:00:00+00:00", "re-issued", 1),
        ("2026-09-10T09:00:00+00:00", "not delivered", 1),
        ("2026-10-31T09:00:00+00:00", "expired", 1),
    ]
    assert data["link_events"][3]["what"] == "First reminder e-mailed with a new link; the one before stopped working"


def test_the_export_is_audited_with_what_it_held(history, carer, office):
    carer_subject_access_zip(carer=carer, user=office)
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORT_CARER_DATA)
    assert (event.actor, event.carer, event.detail) == (office, carer, {"format": "zip", "declaration_pdfs": 2})


def test_staff_of_another_school_get_nothing_and_nothing_is_rendered(history, carer, other_school):
    outsider = StaffRoleFactory(organisation=other_school, role=StaffRole.Role.HEADTEACHER).user
    with pytest.raises(PermissionDenied):
        carer_subject_access_zip(carer=carer, user=outsider)
    assert not DeclarationPdf.objects.filter(declaration=history["second"]).exists()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT_CARER_DATA).exists()


def test_the_carer_page_button_downloads_the_zip(client, verified_client, history, school, carer, office):
    verified_client(client, office)
    page = client.get(reverse("families:carer", kwargs={"school_slug": school.slug, "carer_id": carer.pk}))
    action = reverse("exports:carer_subject_access", kwargs={"school_slug": school.slug, "carer_id": carer.pk})
    assert f'action="{action}"' in page.content.decode()
    response = client.post(action)
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert "subject-access.json" in unzip(response.content)


def test_the_export_holds_what_the_carer_signed_as_they_read_it_and_the_emails_sent_to_them(
    school, school_code, version, headteacher
):
    from declarations import services as signing
    from tests.declarations.factories import family

    mary = family(school, forename="[Mary](https://evil.example)", surname="*Smith*")
    request = signing.signing_request_for(carer=mary, version=version)
    signing.link_issue(signing_request=request)
    OutboxMessage.objects.create(school=school, carer=mary, version=version, kind="invitation", to_address=mary.email)
    signing.declaration_sign(
        signing_request=request, version_id_shown=version.pk, typed_name="Mary Smith", agreed=True,
        ip="203.0.113.9", user_agent="Phone browser",
    )
    files = unzip(carer_subject_access_zip(carer=mary, user=headteacher).content)
    data = json.loads(files["subject-access.json"])
    (declaration,) = data["declarations"]
    assert declaration["typed_name"] == "Mary Smith" and declaration["ip_address"] == "203.0.113.9"
    assert declaration["version_fingerprint"] == version.fingerprint
    assert "[Mary](https://evil.example) *Smith*" in " ".join(declaration["statement"].split())
    assert [e["to"] for e in data["emails"] if e["kind"] == "Invitation"] == [mary.email]
