"""One declaration as a PDF: every field it must hold, tagged PDF/A, rendered once in the
background (and never twice), and the carer's own copy on the receipt page and in the e-mail."""

import base64
import datetime
import hashlib
import html
import io
import re
import threading

import pypdf
import pytest
from django.core import mail
from django.core.files.base import ContentFile
from django.db import connection
from django.test import Client

from evidence.models import DeclarationPdf
from evidence.pdf import declaration_pdf_issue, normalise_code, render_declaration_pdf, render_pdf
from sending import outbox
from sending.models import OutboxMessage
from tests.declarations.evidence import (
    BROWSER,
    pdf_text,
    sign_on_paper,
    sign_online,
    squashed,
    structure,
)
from tests.declarations.factories import PDF, family
from tests.factories import CodeFactory, SchoolFactory, published_version
from tests.worker import run_worker

pytestmark = pytest.mark.django_db

# A 1×1 red PNG: the school's logo.
LOGO = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)


@pytest.fixture
def alsop(db):
    """A school whose code has a document control table, like Alsop High School's."""
    school = SchoolFactory(name="Alsop High School", slug="alsop-high", brand_colour="#7a1f3d")
    version = published_version(
        CodeFactory(owner=school),
        body="## Scope\n\nThis code applies to every parent.\n\n## Expectations\n\n- Be kind online\n- Raise concerns with the school",
        author_name="Jane Doe",
        author_job_title="Deputy Headteacher",
        document_version="V2",
        approved_by="Governing Board",
        effective_from=datetime.date(2026, 9, 1),
    )
    return school, version


def stored(record: DeclarationPdf) -> bytes:
    with record.file.open("rb") as file:
        return file.read()


# What it holds.


def test_an_online_declaration_holds_every_field(alsop):
    school, version = alsop
    carer = family(school)
    declaration = sign_online(
        carer,
        version,
        invited_at=datetime.datetime(2026, 11, 2, 8, 15, tzinfo=datetime.UTC),
        opened_at=datetime.datetime(2026, 11, 21, 19, 5, tzinfo=datetime.UTC),
    )
    OutboxMessage.objects.create(
        school=school, carer=carer, version=version, kind=OutboxMessage.Kind.REMINDER_1,
        status=OutboxMessage.Status.SENT, sent_at=datetime.datetime(2026, 11, 9, 8, 0, tzinfo=datetime.UTC),
    )
    record = declaration_pdf_issue(declaration_id=declaration.pk)
    text = pdf_text(stored(record))
    flat = squashed(text)

    assert "Alsop High School" in text  # the school
    assert "Social Media Code of Conduct for Parents and Carers" in text and "Version 1 (V2)" in text
    assert "Effective from 1 September 2026" in text
    assert squashed(version.fingerprint) in flat and declaration.version_fingerprint == version.fingerprint
    # The full text of the version signed, and its document control.
    for line in ("This code applies to every parent.", "Be kind online", "Raise concerns with the school", "Scope", "Expectations"):
        assert line in text
    assert "Jane Doe, Deputy Headteacher" in text and "Governing Board" in text
    # The statement as shown, the carer and the children named.
    assert squashed(
        "I Mary Smith, parent/carer of Amy Smith and Ben Smith, declare that I have received, read and understand"
    ) in flat
    assert "Parent or carer Mary Smith" in text and "Children named Amy Smith, Ben Smith" in text
    # The signature: typed name, time in UTC and UK time, IP address, browser.
    assert "Typed signature Mary Smith" in text
    assert "22 November 2026, 12:00:00 UTC" in text and "22 November 2026, 12:00:00 GMT" in text
    assert "IP address 203.0.113.9" in text
    assert squashed(BROWSER) in flat
    # The evidence trail: asked, invited, reminded, opened, signed, in order.
    trail = text[text.index("Evidence trail") :]
    assert (
        trail.index("Asked to sign")
        < trail.index("Invitation e-mailed")
        < trail.index("First reminder e-mailed")
        < trail.index("Link first opened")
        < trail.index("Signed online")
    )
    assert "2 November 2026, 08:15:00 UTC" in trail and "9 November 2026, 08:00:00 UTC" in trail
    assert "21 November 2026, 19:05:00 GMT" in trail
    # The verification code, and the link to the verification page with it.
    assert record.code_display in text and re.fullmatch(r"[A-Z2-7]{10}", record.verification_code)
    assert squashed("http://127.0.0.1:8000/verify/") in flat


def test_a_paper_declaration_says_who_recorded_it_when_and_that_the_scan_is_held(alsop, office, media):
    school, version = alsop
    from tests.factories import StaffRoleFactory

    StaffRoleFactory(user=office, organisation=school, role="office")
    carer = family(school, forename="Siobhán", surname="O'Brien", email="", children=(("Aoife", "O'Brien", "4", "4C"),))
    declaration = sign_on_paper(carer, version, recorded_by=office, name_as_written="S. O'Brien")
    text = pdf_text(stored(declaration_pdf_issue(declaration_id=declaration.pk)))

    assert "signed on paper by Siobhán O'Brien" in text
    assert "Name as written on the form S. O'Brien" in text
    assert "Date signed 22 November 2026 (the date on the paper form)" in text
    assert "Recorded by Olive Okafor, Alsop High School" in text
    assert "22 November 2026, 12:00:00 UTC" in text  # when it was recorded
    assert "Paper form recorded in the portal by Olive Okafor, with a scan" in text
    assert squashed(hashlib.sha256(PDF).hexdigest()) in squashed(text)  # the scan held, by its hash
    assert "IP address" not in text  # no browser was involved


def test_uk_time_is_british_summer_time_in_summer(alsop, now):
    school, version = alsop
    now.move_to(datetime.datetime(2027, 7, 1, 9, 30, tzinfo=datetime.UTC))
    declaration = sign_online(family(school), version)
    text = pdf_text(stored(declaration_pdf_issue(declaration_id=declaration.pk)))
    assert "1 July 2027, 09:30:00 UTC" in text and "1 July 2027, 10:30:00 BST" in text


def test_the_pdf_is_tagged_pdf_a_with_title_language_headings_and_alt_text(alsop):
    school, version = alsop
    school.logo.save("alsop.png", ContentFile(LOGO))
    declaration = sign_online(family(school), version)
    record = declaration_pdf_issue(declaration_id=declaration.pk)
    data = stored(record)
    reader = pypdf.PdfReader(io.BytesIO(data))
    root = reader.trailer["/Root"]

    assert root["/MarkInfo"]["/Marked"] is True or root["/MarkInfo"]["/Marked"] == pypdf.generic.BooleanObject(True)
    assert "/StructTreeRoot" in root
    assert root["/Lang"] == "en-GB"
    assert reader.metadata.title == "Declaration: Mary Smith, Alsop High School, version 1"
    assert root["/ViewerPreferences"]["/DisplayDocTitle"]
    xmp = root["/Metadata"].get_object().get_data().decode()
    assert 'pdfaid:part="3"' in xmp and 'pdfaid:conformance="A"' in xmp  # PDF/A-3a

    roles = structure(data)
    names = [role for role, _ in roles]
    assert names.count("/H1") == 1 and names.index("/H1") < names.index("/H2")
    assert names.count("/H2") >= 6 and "/H3" in names  # the code's own headings sit one level down
    assert "/Table" in names and "/TH" in names
    alts = [alt for role, alt in roles if role == "/Figure"]
    assert "Alsop High School logo" in alts
    assert any(alt.startswith("QR code of the verification link http://127.0.0.1:8000/verify/?code=") for alt in alts)


def test_the_document_information_agrees_with_its_xmp_as_pdf_a_requires(alsop):
    """PDF/A (ISO 19005-3, 6.6.2.3.1): every Info entry with an XMP counterpart holds the same
    value in both, or a validator such as veraPDF fails the file. The seal rewrites both."""
    school, version = alsop
    record = declaration_pdf_issue(declaration_id=sign_online(family(school), version).pk)
    reader = pypdf.PdfReader(io.BytesIO(stored(record)))
    info = reader.metadata
    xmp = reader.xmp_metadata

    assert info["/Producer"] == xmp.pdf_producer
    assert info.title == xmp.dc_title["x-default"]
    assert info.author == xmp.dc_creator[0]
    assert info.subject == xmp.dc_description["x-default"]
    assert info.creator == xmp.xmp_creator_tool
    # (pypdf reads the XMP's time as naive UTC)
    assert info.creation_date.astimezone(datetime.UTC).replace(tzinfo=None) == xmp.xmp_create_date


def test_the_qr_code_and_link_carry_the_verification_code(alsop):
    school, version = alsop
    declaration = sign_online(family(school), version)
    record = declaration_pdf_issue(declaration_id=declaration.pk)
    [qr_alt] = [alt for role, alt in structure(stored(record)) if alt.startswith("QR code")]
    assert qr_alt.endswith(f"/verify/?code={record.code_display}")
    reader = pypdf.PdfReader(io.BytesIO(stored(record)))
    links = [
        annotation.get_object()["/A"]["/URI"]
        for page in reader.pages
        for annotation in page.get("/Annots", [])
        if "/A" in annotation.get_object()
    ]
    assert f"http://127.0.0.1:8000/verify/?code={record.code_display}" in links


def test_nothing_is_fetched_while_rendering(alsop, monkeypatch):
    """The template names no outside URL, and anything but a data: URI is refused anyway."""
    school, version = alsop
    declaration = sign_online(family(school), version)
    import urllib.request

    def refuse(*args, **kwargs):  # pragma: no cover - failing is the point
        raise AssertionError("WeasyPrint tried to fetch something")

    monkeypatch.setattr(urllib.request.OpenerDirector, "open", refuse)
    assert render_pdf(declaration, verification_code="ABCDEFGHJK").startswith(b"%PDF-")


def test_verification_codes_are_typed_forgivingly():
    assert normalise_code(" abcde-fgh23 ") == "ABCDEFGH23"
    assert normalise_code("ABCDE FGHI0") == "ABCDEFGHIO"  # no 0 or 1 in base32: read as O and I


# Rendered once, in the background.


def test_signing_queues_the_pdf_on_commit_ahead_of_the_confirmation(carer, version, tasks, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        declaration = sign_online(carer, version)
    message = OutboxMessage.objects.get(kind="confirmation")
    assert [(result.task.name, result.args) for result in tasks.results] == [
        ("render_declaration_pdf", [declaration.pk]),
        ("send_outbox_message", [message.pk]),
    ]
    assert render_declaration_pdf.priority > 0  # a worker takes it before the e-mail


def test_recording_a_paper_form_queues_its_pdf_on_commit(school, version, office, media, tasks, django_capture_on_commit_callbacks):
    carer = family(school, email="")
    with django_capture_on_commit_callbacks(execute=True):
        declaration = sign_on_paper(carer, version, recorded_by=office)
    assert [(result.task.name, result.args) for result in tasks.results] == [("render_declaration_pdf", [declaration.pk])]


def test_nothing_is_queued_for_a_declaration_never_committed(carer, version, tasks):
    sign_online(carer, version)  # the test's transaction never commits
    assert tasks.results == []


def test_rendering_twice_yields_one_stored_file_and_one_hash(carer, version, media):
    declaration = sign_online(carer, version)
    first = render_declaration_pdf.call(declaration.pk)
    second = render_declaration_pdf.call(declaration.pk)
    again = declaration_pdf_issue(declaration_id=declaration.pk)

    record = DeclarationPdf.objects.get()
    assert first == second == again.sha256 == record.sha256
    [only] = list(media.rglob("*.pdf"))
    assert only == media / record.file.name
    assert hashlib.sha256(only.read_bytes()).hexdigest() == record.sha256 and record.size == only.stat().st_size
    # Named after nothing about the family.
    assert "smith" not in record.file.name.lower() and "mary" not in record.file.name.lower()


def test_a_pdf_is_evidence_and_is_never_changed(carer, version):
    record = declaration_pdf_issue(declaration_id=sign_online(carer, version).pk)
    record.size = 1
    with pytest.raises(ValueError, match="never changed"):
        record.save()


def test_a_declaration_deleted_before_the_worker_came_is_skipped(carer, version):
    declaration = sign_online(carer, version)
    declaration.delete()
    assert render_declaration_pdf.call(declaration.pk) == "gone"
    assert not DeclarationPdf.objects.exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's row locks to race for real")
@pytest.mark.django_db(transaction=True)
def test_two_workers_rendering_at_once_store_one_pdf(media):
    school = SchoolFactory(name="Whitefield Primary School", slug="whitefield-primary")
    version = published_version(CodeFactory(owner=school))
    declaration = sign_online(family(school), version)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def render():
        try:
            barrier.wait(timeout=10)
            results.append(declaration_pdf_issue(declaration_id=declaration.pk).sha256)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=render) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors and len(results) == 2 and results[0] == results[1]
    assert DeclarationPdf.objects.count() == 1
    assert len(list(media.rglob("*.pdf"))) == 1


# The carer's own copy.


@pytest.fixture
def opened(client, token):
    assert client.get(f"/sign/t/{token}/").status_code == 303
    return client


def sign_in_browser(client, version):
    return client.post("/sign/", {"typed_name": "Mary Smith", "agreed": "on", "version": version.pk})


def test_the_receipt_offers_the_carers_pdf_once_it_is_ready(opened, version):
    sign_in_browser(opened, version)
    receipt = html.unescape(opened.get("/sign/done/").content.decode())
    assert "Your copy is being prepared. Refresh this page in a moment" in receipt
    preparing = opened.get("/sign/copy/")
    assert preparing.status_code == 202 and preparing["Retry-After"] == "5"
    assert "Your copy is being prepared" in preparing.content.decode()

    record = declaration_pdf_issue(declaration_id=OutboxMessage.objects.get().carer.declarations.get().pk)
    receipt = html.unescape(opened.get("/sign/done/").content.decode())
    assert 'href="/sign/copy/"' in receipt and record.code_display in receipt
    copy = opened.get("/sign/copy/")
    assert copy.status_code == 200 and copy["Content-Type"] == "application/pdf"
    assert copy["Content-Disposition"] == 'attachment; filename="declaration-whitefield-primary-school-v1.pdf"'
    assert "no-store" in copy["Cache-Control"]
    assert b"".join(copy.streaming_content) == stored(record)


def test_the_receipt_offers_the_pdf_at_the_top_before_the_details(opened, version):
    sign_in_browser(opened, version)
    declaration_pdf_issue(declaration_id=OutboxMessage.objects.get().carer.declarations.get().pk)
    receipt = html.unescape(opened.get("/sign/done/").content.decode())
    button = receipt.index('class="btn btn-primary" href="/sign/copy/">Download your signed declaration (PDF)')
    assert button < receipt.index("What you signed")


def test_only_the_carers_own_session_gets_their_copy(opened, version):
    sign_in_browser(opened, version)
    declaration_pdf_issue(declaration_id=OutboxMessage.objects.get().carer.declarations.get().pk)
    stranger = Client()
    response = stranger.get("/sign/copy/")
    assert response.status_code == 403 and response["Content-Type"].startswith("text/html")


@pytest.mark.usefixtures("locmem_mail")
def test_the_confirmation_email_attaches_the_pdf_when_it_is_ready(carer, version):
    declaration = sign_online(carer, version)
    record = declaration_pdf_issue(declaration_id=declaration.pk)
    message = OutboxMessage.objects.get(kind="confirmation")
    assert outbox.outbox_message_send(message.pk) == "sent"
    email = mail.outbox[-1]
    [(filename, content, content_type)] = email.attachments
    assert (filename, content_type) == ("declaration-whitefield-primary-school-v1.pdf", "application/pdf")
    assert content == stored(record)
    text = re.sub(r"\s+", " ", email.body)
    assert "Your signed declaration is attached as a PDF" in text and record.code_display in text


@pytest.mark.usefixtures("locmem_mail")
def test_without_the_pdf_yet_the_confirmation_says_where_to_download_it(carer, version):
    sign_online(carer, version)
    message = OutboxMessage.objects.get(kind="confirmation")
    assert outbox.outbox_message_send(message.pk) == "sent"
    email = mail.outbox[-1]
    assert email.attachments == []
    text = re.sub(r"\s+", " ", email.body)
    assert "You can download a copy of your signed declaration (a PDF) from the page you saw after signing" in text
    assert "(it works until 21 January 2027)" in text  # the link's 60 days


@pytest.mark.usefixtures("database_tasks", "locmem_mail")
def test_with_a_worker_the_confirmation_goes_with_the_pdf(carer, version, django_capture_on_commit_callbacks):
    """Signing queues the PDF first, at a higher priority: one worker renders it, then sends the
    e-mail with it attached."""
    with django_capture_on_commit_callbacks(execute=True):
        sign_online(carer, version)
    run_worker()
    record = DeclarationPdf.objects.get()
    [email] = mail.outbox
    assert [(name, kind) for name, _, kind in email.attachments] == [
        ("declaration-whitefield-primary-school-v1.pdf", "application/pdf")
    ]
    assert email.attachments[0][1] == stored(record)


def test_the_longest_times_in_the_evidence_trail_keep_to_one_line(alsop, now):
    """The events table is laid out fixed (its columns no longer measured from their text): the
    longest time it can show, in UTC and in UK time, still fits its column on one line."""
    school, version = alsop
    now.move_to(datetime.datetime(2027, 9, 30, 21, 59, 59, tzinfo=datetime.UTC))
    declaration = sign_online(family(school), version, invited_at=datetime.datetime(2027, 9, 30, 21, 59, 58, tzinfo=datetime.UTC))
    data = stored(declaration_pdf_issue(declaration_id=declaration.pk))
    trail_page = next(
        page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages if "Evidence trail" in page.extract_text()
    )
    trail = trail_page[trail_page.index("Evidence trail") :]
    assert "30 September 2027, 21:59:58 UTC" in trail and "30 September 2027, 22:59:58 BST" in trail


def test_word_spaces_between_formatted_words_survive_in_the_statement_and_the_code(db):
    """The template is spaceless around its own tags, not around the Markdown it shows."""
    school = SchoolFactory(name="Spaces School", slug="spaces")
    version = published_version(CodeFactory(owner=school), body="## Rules\n\nBe **kind** *online* and **fair** **always**.")
    declaration = sign_online(family(school), version)
    text = pdf_text(render_pdf(declaration, verification_code="ABCDEFGHIJ"))
    assert "Be kind online and fair always." in text
