"""Office staff record a declaration signed on paper, with a scan, under their own name."""

import datetime
import html

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from declarations.models import Declaration
from schools.models import AuditEvent
from tests.declarations.factories import JPEG, PDF, PNG, add_child, family

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tasks")]


def page(response) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def paper_carer(school):
    """A carer with no e-mail address: the school needs a paper form from them."""
    return family(school, forename="Siobhán", surname="O'Brien", email="", children=(("Aoife", "O'Brien", "4", "4C"),))


def paper_url(school, carer):
    return f"/staff/declarations/{school.slug}/carers/{carer.pk}/paper/"


def post_paper(client, school, carer, *, content=PDF, filename="Aoife O'Brien form.pdf", content_type="application/pdf", **fields):
    data = {
        "signed_on": "2026-11-22",
        "name_as_written": "S. O'Brien",
        "children": [pupil.pk for pupil in carer.children.all()],
        "scan": SimpleUploadedFile(filename, content, content_type=content_type),
        **fields,
    }
    return client.post(paper_url(school, carer), data)


def test_office_staff_record_a_paper_form_with_their_name_in_the_audit_log(staff, school, paper_carer, version, office, media):
    form = page(staff.get(paper_url(school, paper_carer)))
    assert "Record a paper form for Siobhán O'Brien" in form
    assert 'checked' in form and "Aoife O'Brien" in form  # the children are ticked to begin with

    response = post_paper(staff, school, paper_carer, REMOTE_ADDR="203.0.113.20")
    assert response.status_code == 302 and response["Location"] == f"/staff/declarations/{school.slug}/"

    declaration = Declaration.objects.get()
    assert declaration.method == Declaration.Method.PAPER
    assert declaration.recorded_by == office
    assert declaration.carer == paper_carer and declaration.version == version
    assert declaration.version_fingerprint == version.fingerprint
    assert declaration.typed_name == "S. O'Brien"
    assert declaration.carer_name == "Siobhán O'Brien"
    assert declaration.children_named == [{"id": paper_carer.children.get().pk, "name": "Aoife O'Brien"}]
    assert "I S. O'Brien, parent/carer of Aoife O'Brien" in declaration.statement
    assert declaration.signed_at.date() == datetime.date(2026, 11, 22)
    assert declaration.paper_scan.name.startswith("paper-forms/2026/11/") and declaration.paper_scan.name.endswith(".pdf")
    assert "Brien" not in declaration.paper_scan.name  # the stored name says nothing about the family
    assert declaration.paper_scan.read() == PDF

    event = AuditEvent.objects.get()
    assert event.action == "record_paper_declaration"
    assert event.actor == office and event.actor.get_full_name() == "Olive Okafor"
    assert event.carer == paper_carer and event.school == school

    status = page(staff.get(f"/staff/declarations/{school.slug}/"))
    assert "on paper, recorded by Olive Okafor" in status


@pytest.mark.parametrize(("content", "filename"), [(JPEG, "form.jpg"), (PNG, "form.png")])
def test_photos_of_the_form_are_accepted(staff, school, paper_carer, version, media, content, filename):
    post_paper(staff, school, paper_carer, content=content, filename=filename, content_type="image/jpeg")
    assert Declaration.objects.get().paper_scan.name.endswith(filename[-4:])


@pytest.mark.parametrize(
    ("content", "filename", "content_type"),
    [
        (b"Dear school, I agree.", "form.pdf", "application/pdf"),
        (b"<html><script>alert(1)</script></html>", "form.png", "image/png"),
        (b"MZ\x90\x00\x03\x00\x00\x00", "form.jpg", "image/jpeg"),
    ],
)
def test_a_file_that_is_not_a_pdf_or_image_is_rejected_whatever_its_name(
    staff, school, paper_carer, version, media, content, filename, content_type
):
    response = post_paper(staff, school, paper_carer, content=content, filename=filename, content_type=content_type)
    assert response.status_code == 200
    assert "The file must be a PDF, JPEG or PNG" in page(response)
    assert '<a href="#id_scan">' in page(response)
    assert not Declaration.objects.exists() and not AuditEvent.objects.exists()
    assert not any(media.rglob("*.*"))


def test_a_file_over_10_mb_is_rejected(staff, school, paper_carer, version, media):
    response = post_paper(staff, school, paper_carer, content=PDF + b"0" * (10 * 1024 * 1024))
    assert "The file must be 10 MB or smaller" in page(response)
    assert not Declaration.objects.exists()


def test_a_date_in_the_future_is_rejected(staff, school, paper_carer, version, media):
    response = post_paper(staff, school, paper_carer, signed_on="2026-11-23")
    assert "The date signed cannot be in the future" in page(response)
    assert not Declaration.objects.exists()


def test_every_field_is_required_in_plain_english(staff, school, paper_carer, version, media):
    response = staff.post(paper_url(school, paper_carer), {})
    text = page(response)
    for message in (
        "Enter the date signed",
        "Enter the name as the carer wrote it on the form",
        "Choose the children named on the form",
        "Upload a scan or photo of the signed form",
    ):
        assert message in text
    assert not Declaration.objects.exists()


def test_only_the_carers_own_children_can_be_named(staff, school, paper_carer, version, media):
    stranger = family(school, forename="Other", surname="Parent", email="other@example.org").children.first()
    response = post_paper(staff, school, paper_carer, children=[stranger.pk])
    assert response.status_code == 200
    assert not Declaration.objects.exists()


def test_a_child_without_parental_responsibility_is_not_ticked_to_begin_with(staff, school, paper_carer, version):
    add_child(paper_carer, forename="Niall", surname="Murphy", parental_responsibility=False)
    form = page(staff.get(paper_url(school, paper_carer)))
    niall = form[form.index("Niall Murphy") - 300 : form.index("Niall Murphy")]
    assert "Niall Murphy" in form and "checked" not in niall.split("<div")[-1]


def test_a_carer_who_has_signed_cannot_have_a_paper_form_recorded_too(staff, school, paper_carer, version, media):
    post_paper(staff, school, paper_carer)
    response = post_paper(staff, school, paper_carer)
    assert response.status_code == 302
    assert Declaration.objects.count() == 1
