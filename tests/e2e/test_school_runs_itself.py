"""The whole path a school takes on its own, in a real browser with axe on the new pages: an empty
database → `manage.py setup_organisation` → the headteacher accepts the invitation, chooses a
password and sets up an authenticator app → invites an office worker → sets the school's logo and
colour → the office worker accepts, imports families and sends → a parent signs and sees the
school's branding on the page, in the e-mail and in the PDF."""

import base64
import io
import re

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_otp.oath import TOTP
from PIL import Image
from playwright.sync_api import expect
from pypdf import PdfReader

from codes import services as code_services
from codes.models import Code
from declarations.models import Declaration
from evidence.pdf import declaration_pdf_issue
from onboarding.emails import send_staff_invitation
from onboarding.models import StaffInvitation
from schools.models import Organisation
from sending.models import SendBatch
from sending.outbox import outbox_send_pending
from tests.e2e.test_parent_signing import plain_text, saved_emails

pytestmark = pytest.mark.e2e

COLOUR = "#7a1f5c"
PASSWORD = "a long password for the school"
SIMS = "tests/schools/files/sims_utf8_bom.csv"


def html_part(message):
    for part in message.walk():
        if part.get_content_type() == "text/html":
            return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
    raise AssertionError("no HTML part")


def link_to(mail_dir, address, pattern):
    """The link matching `pattern` in the newest e-mail to `address`."""
    mine = [message for message in saved_emails(mail_dir) if message["To"] == address]
    assert mine, f"no e-mail to {address}"
    return re.search(pattern, plain_text(mine[-1])).group(0), mine[-1]


def accept_and_set_up(page, link, first_name, audit):
    """Open an invitation, choose a password, then add the authenticator app as a phone would:
    from the setup key the page shows."""
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Join ")
    audit.check(page)
    page.get_by_label("First name").fill(first_name)
    page.get_by_label("Last name").fill("Tester")
    page.get_by_label("Choose a password").fill(PASSWORD)
    page.get_by_label("Type the password again").fill(PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up your authenticator app")
    key = page.locator("#setup-key").inner_text().replace(" ", "")
    secret = base64.b32decode(key + "=" * (-len(key) % 8))
    page.get_by_label("6-digit code from your authenticator app").fill(f"{TOTP(secret).token():06d}")
    page.get_by_role("button", name="Confirm and continue").click()
    page.get_by_role("link", name="I have saved my recovery codes").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Staff dashboard")


def test_a_school_sets_itself_up_and_a_parent_signs_with_its_branding(
    browser, page, phone, live_server, settings, tmp_path, axe_audit
):
    mail_dir = tmp_path / "mail"
    settings.PORTAL_BASE_URL = live_server.url
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MAILERS = {
        "default": {"BACKEND": "django.core.mail.backends.filebased.EmailBackend", "OPTIONS": {"file_path": str(mail_dir)}}
    }
    assert not Organisation.objects.exists()

    call_command("setup_organisation", "--kind", "school", "--name", "Ashdown Primary School",
                 "--email", "head@ashdown.example.org", "--no-input", stdout=io.StringIO())
    school = Organisation.objects.get()
    # The code itself (drafting and publishing are covered by test_headteacher_flow).
    draft = code_services.current_draft(Code.objects.get(owner=school))
    code_services.draft_update(version=draft, user=None, body="## Online\n\nParents will be kind online.")
    code_services.version_publish(version=draft, user=None, effective_from=timezone.localdate(), requires_signing=True)

    # The headteacher accepts the invitation and sets up their account.
    link, _ = link_to(mail_dir, "head@ashdown.example.org", r"http://\S+/staff/invitation/\S+/")
    accept_and_set_up(page, link, "Hana", axe_audit)

    # … invites an office worker.
    page.get_by_role("link", name="Staff at Ashdown Primary School").click()
    axe_audit.check(page)
    page.get_by_label("E-mail address").fill("office@ashdown.example.org")
    page.get_by_label("Office staff").check()
    page.get_by_role("button", name="Send the invitation").click()
    expect(page.get_by_role("main")).to_contain_text("Invitation sent to office@ashdown.example.org")
    send_staff_invitation.call(StaffInvitation.objects.get(email="office@ashdown.example.org").pk)  # the worker

    # … sets the logo and colour; a colour white text cannot be read on is refused first.
    logo = tmp_path / "logo.png"
    Image.new("RGB", (120, 40), (122, 31, 92)).save(logo)
    page.get_by_role("link", name="Settings").click()
    axe_audit.check(page)
    page.get_by_label("Brand colour").fill("#ffdd00")
    page.get_by_role("button", name="Save the settings").click()
    expect(page.get_by_role("alert")).to_contain_text("it needs at least 4.5:1")
    page.get_by_label("Brand colour").fill(COLOUR)
    page.get_by_label("Logo (optional)").set_input_files(str(logo))
    page.get_by_label("Sunday").check()  # the tests' clock says Sunday: invitations go at once
    page.get_by_role("button", name="Save the settings").click()
    expect(page.get_by_role("main")).to_contain_text("Settings saved.")
    axe_audit.check(page)

    # The office worker accepts, imports the families and sends the invitations.
    office_context = browser.new_context(base_url=live_server.url, locale="en-GB")
    office = office_context.new_page()
    link, _ = link_to(mail_dir, "office@ashdown.example.org", r"http://\S+/staff/invitation/\S+/")
    accept_and_set_up(office, link, "Olu", axe_audit)
    office.goto(f"/staff/families/{school.slug}/import/")
    office.get_by_label("Export file").set_input_files(SIMS)
    office.get_by_role("button", name="Upload and preview").click()
    office.get_by_role("button", name="Import these changes").click()
    office.get_by_role("heading", name=re.compile("has been imported")).wait_for()
    office.goto("/staff/")
    office.get_by_role("link", name="Send invitations for Ashdown Primary School").click()
    office.goto(f"/staff/sending/{school.slug}/send/")
    office.get_by_role("button", name="Continue").click()
    office.get_by_role("button", name=re.compile(r"Send \d+ invitations?")).click()
    outbox_send_pending(batch_id=SendBatch.objects.get(school=school).pk)  # the worker
    office_context.close()

    # A parent signs from the e-mail, branded with the school's colour and logo.
    link, invitation = link_to(mail_dir, "obrien.family@example.org", r"http://\S+/sign/t/[A-Za-z0-9_-]+/")
    email_html = html_part(invitation)
    assert COLOUR in email_html
    assert f"{live_server.url}/schools/{school.slug}/logo" in email_html
    phone.goto(link)
    phone.wait_for_url("**/sign/")
    header = phone.locator("header.site-header")
    expect(header).to_have_css("background-color", "rgb(122, 31, 92)")
    logo_image = header.locator("img.org-logo")
    assert logo_image.evaluate("img => img.complete && img.naturalWidth") == 120
    phone.get_by_label("Your full name").fill("Mary O'Brien")
    phone.get_by_label("I agree").check()
    phone.get_by_role("button", name="Sign the declaration").click()
    phone.wait_for_url("**/sign/done/")

    # … and in the declaration's PDF.
    record = declaration_pdf_issue(declaration_id=Declaration.objects.get().pk)
    with record.file.open("rb") as file:
        pdf = PdfReader(io.BytesIO(file.read()))
    sizes = {image.image.size for image in pdf.pages[0].images}
    assert (120, 40) in sizes, "the school's logo is drawn in the PDF"
    axe_audit.assert_clean()
