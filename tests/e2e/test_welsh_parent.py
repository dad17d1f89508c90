"""A carer whose home language is Welsh: a Welsh e-mail, a Welsh signing page, English and back
with the switch, signed; the PDF and the school's register say it was signed in Welsh."""

import csv
import io
import re
from email.header import decode_header, make_header

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from declarations.models import Declaration
from evidence.pdf import declaration_pdf_issue
from schools.models import Organisation, StaffRole
from sending.invitations import invitations_send
from sending.outbox import outbox_send_pending
from tests.declarations.factories import family
from tests.e2e.test_parent_signing import plain_text, saved_emails
from tests.factories import StaffRoleFactory

pytestmark = pytest.mark.e2e


def test_a_welsh_carer_signs_in_welsh(seeds, phone, page, live_server, settings, tmp_path, sign_in, axe_audit):
    settings.PORTAL_BASE_URL = live_server.url
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MAILERS = {
        "default": {"BACKEND": "django.core.mail.backends.filebased.EmailBackend", "OPTIONS": {"file_path": str(tmp_path)}}
    }
    school = Organisation.objects.get(slug="whitefield-primary")
    school.sending_days = "1234567"  # the tests' clock says Sunday: the school sends on Sundays too
    school.save()
    carer = family(school, forename="Siân", surname="Llewelyn", email="sian@example.org",
                   children=(("Gwen", "Llewelyn", "3", "3B"),))
    carer.language = "cy"  # as the import stores "WEL" from the information system
    carer.save()
    batch = invitations_send(school=school, audience="all-unsigned", user=None, enqueue=False)
    outbox_send_pending(batch_id=batch.pk)

    (invitation,) = saved_emails(tmp_path)
    subject = " ".join(str(make_header(decode_header(invitation["Subject"]))).split())
    assert subject == (
        "Darllenwch a llofnodwch god ymddygiad cyfryngau cymdeithasol Whitefield Primary School"
        " – ar gyfer Siân Llewelyn (Gwen)"
    )
    body = plain_text(invitation)
    assert "Annwyl Siân Llewelyn," in body
    assert "Darllenwch y cod ymddygiad a llofnodwch y datganiad yma:" in body
    link = re.search(r"http://\S+/sign/t/[A-Za-z0-9_-]+/", body).group(0)

    phone.goto(link)
    phone.wait_for_url("**/sign/")
    expect(phone.locator("html")).to_have_attribute("lang", "cy")
    expect(phone.get_by_role("heading", name="Llofnodi'r datganiad")).to_be_visible()
    axe_audit.check(phone)

    phone.get_by_role("button", name="English").click()  # one click, the same signing session
    phone.wait_for_url("**/sign/")
    expect(phone.locator("html")).to_have_attribute("lang", "en-GB")
    expect(phone.get_by_role("heading", name="Sign the declaration")).to_be_visible()
    assert "I Siân Llewelyn" in phone.content()
    axe_audit.check(phone)

    phone.get_by_role("button", name="Cymraeg").click()
    phone.wait_for_url("**/sign/")
    expect(phone.get_by_role("heading", name="Llofnodi'r datganiad")).to_be_visible()
    phone.get_by_label("Eich enw llawn").fill("Siân Llewelyn")
    phone.get_by_label("Rwy'n cytuno").check()
    phone.get_by_role("button", name="Llofnodi'r datganiad").click()
    phone.wait_for_url("**/sign/done/")
    expect(phone.get_by_role("heading", level=1)).to_have_text("Rydych wedi llofnodi'r cod ymddygiad")
    axe_audit.check(phone)
    signed = Declaration.objects.get()
    assert signed.language == "cy" and signed.typed_name == "Siân Llewelyn"

    record = declaration_pdf_issue(declaration_id=signed.pk)  # what the worker does
    with record.file.open("rb") as file:
        text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(file.read())).pages)
    assert "Datganiad rhieni a gofalwyr" in text and "Iaith y dudalen llofnodi" in text
    assert "Cymraeg" in text

    office = StaffRoleFactory(organisation=school, role=StaffRole.Role.OFFICE).user
    sign_in(page, office)
    page.goto(f"/staff/exports/{school.slug}/")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the register (CSV)").click()
    rows = list(csv.DictReader(io.StringIO(open(download.value.path(), encoding="utf-8-sig").read())))
    (row,) = [r for r in rows if r["Carer surname"] == "Llewelyn"]
    assert row["Language signed in"] == "Welsh"
    axe_audit.assert_clean()
