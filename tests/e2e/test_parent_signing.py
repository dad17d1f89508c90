"""A parent on a phone: from the e-mail the school sent to the receipt, with axe on every page."""

import email
import re

import pytest

from codes.services import code_for_school, version_in_force
from declarations.models import Declaration
from schools.models import Organisation
from sending.invitations import invitations_send
from sending.outbox import outbox_send_pending
from tests.declarations.factories import family

pytestmark = pytest.mark.e2e


def saved_emails(folder):
    """Every e-mail the file mailer saved, parsed."""
    messages = []
    for path in sorted(folder.glob("*.log")):
        for chunk in path.read_bytes().split(b"-" * 79):
            if chunk.strip():
                messages.append(email.message_from_bytes(chunk.strip()))
    return messages


def plain_text(message):
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
    raise AssertionError("no plain-text part")


def test_parent_signs_on_a_phone_from_the_saved_email(seeds, phone, live_server, settings, tmp_path, axe_audit):
    settings.PORTAL_BASE_URL = live_server.url
    settings.MAILERS = {
        "default": {"BACKEND": "django.core.mail.backends.filebased.EmailBackend", "OPTIONS": {"file_path": str(tmp_path)}}
    }
    school = Organisation.objects.get(slug="whitefield-primary")
    school.sending_days = "1234567"  # the tests' clock says Sunday: the school sends on Sundays too
    school.save()
    family(school, forename="Mary", surname="O’Brien", email="mary@example.org",
           children=(("Amy", "O’Brien", "3", "3B"), ("Ben", "O’Brien", "5", "5A")))
    batch = invitations_send(school=school, audience="all-unsigned", user=None, enqueue=False)
    outbox_send_pending(batch_id=batch.pk)

    (invitation,) = saved_emails(tmp_path)
    assert invitation["To"] == "mary@example.org"
    assert "Whitefield Primary School" in invitation["From"]
    body = plain_text(invitation)
    assert "Name of school" not in body and "{" not in body
    link = re.search(r"http://\S+/sign/t/[A-Za-z0-9_-]+/", body).group(0)

    phone.goto(link)
    phone.wait_for_url("**/sign/")
    assert "/t/" not in phone.url, "the token is swapped for a session and a clean address"
    axe_audit.check(phone)
    assert "I Mary O’Brien, parent of Amy O’Brien and Ben O’Brien" in phone.content()

    phone.get_by_role("button", name="Sign the declaration").click()
    assert phone.get_by_text("Type your full name to sign").first.is_visible()
    assert Declaration.objects.count() == 0
    axe_audit.check(phone)

    phone.get_by_label("Your full name").fill("Mary O’Brien")
    phone.get_by_label("I agree").check()
    phone.get_by_role("button", name="Sign the declaration").click()
    phone.wait_for_url("**/sign/done/")
    axe_audit.check(phone)
    signed = Declaration.objects.get()
    assert signed.typed_name == "Mary O’Brien"
    assert signed.version == version_in_force(code_for_school(school))
    assert signed.ip_address == "127.0.0.1"
    assert phone.get_by_text(signed.version.fingerprint).is_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    axe_audit.assert_clean()
