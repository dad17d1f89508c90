"""E-mails that read as plain text and name who they are for (issue 15, item 5)."""

import email as email_lib
from email import policy

import pytest
from django.core import mail

from codes import services as code_services
from schools.models import PupilCarer
from sending import invitations, outbox
from tests.schools.factories import CarerFactory, PupilFactory
from tests.sending.test_emails import WHITEFIELD_LETTER, send_invitation_to, whitefield  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("database_tasks", "locmem_mail")]


def test_two_carers_sharing_an_address_each_get_an_email_naming_them_and_their_children(whitefield):  # noqa: F811
    amy = PupilFactory(school=whitefield, forename="Amy", surname="Smith")
    ben = PupilFactory(school=whitefield, forename="Ben", surname="Smith")
    mary = CarerFactory(school=whitefield, forename="Mary", surname="Smith", email="smiths@example.org")
    john = CarerFactory(school=whitefield, forename="John", surname="Smith", email="smiths@example.org")
    for child in (amy, ben):
        PupilCarer.objects.create(pupil=child, carer=mary, parental_responsibility=True, priority=1)
    PupilCarer.objects.create(pupil=ben, carer=john, parental_responsibility=True, priority=2)

    batch = invitations.invitations_send(school=whitefield, audience="all-unsigned", user=None, enqueue=False)
    assert outbox.outbox_send_pending(batch_id=batch.pk)["sent"] == 2
    sent = {message.subject: message for message in mail.outbox}
    base = "Please read and sign Whitefield Primary School's social media code of conduct"
    assert set(sent) == {f"{base} – for Mary Smith (Amy and Ben)", f"{base} – for John Smith (Ben)"}
    for name, subject in (("Mary Smith", f"{base} – for Mary Smith (Amy and Ben)"), ("John Smith", f"{base} – for John Smith (Ben)")):
        message = sent[subject]
        assert f"\nDear {name},\n" in message.body and "Dear parents," not in message.body
        html = message.alternatives[0].content
        assert f"<p>Dear {name},</p>" in html and "Dear parents," not in html


def saved_bytes(message) -> bytes:
    """The e-mail as the demo saves it and an SMTP server receives it."""
    return message.message().as_bytes()


def test_the_plain_text_part_keeps_a_long_link_whole_on_its_line(whitefield, settings):  # noqa: F811
    settings.PORTAL_BASE_URL = "https://codes-of-conduct.schools.example.org:18500"
    carer = CarerFactory(school=whitefield, forename="Siobhán", surname="O’Brien", email="s@example.org")
    PupilCarer.objects.create(pupil=PupilFactory(school=whitefield), carer=carer, parental_responsibility=True)
    message = send_invitation_to(whitefield, carer)
    raw = saved_bytes(message)
    parsed = email_lib.message_from_bytes(raw, policy=policy.default)
    plain = next(part for part in parsed.walk() if part.get_content_type() == "text/plain")
    assert plain["Content-Transfer-Encoding"] == "8bit"
    link = next(line for line in message.body.splitlines() if "/sign/t/" in line).strip()
    assert len(link) > 78, "the link is longer than the line length e-mail only recommends"
    assert link.encode() in raw.split(b"\n") or (link.encode() + b"\r") in raw.split(b"\n")
    assert b"=\n" not in plain.as_bytes() and "Dear Siobhán O’Brien,".encode() in plain.as_bytes()


def test_a_covering_letter_saved_with_windows_line_endings_keeps_its_paragraphs(whitefield):  # noqa: F811
    code = whitefield.own_code
    draft = code_services.draft_start(code=code, user=None)
    crlf = "Dear parents,\r\n\r\nFirst paragraph.\r\n\r\nSecond paragraph.\r\nStill the second.\r\n"
    saved = code_services.draft_update(version=draft, user=None, covering_letter=crlf, body="Body\r\n\r\nMore")
    saved.refresh_from_db()
    assert "\r" not in saved.covering_letter and "\r" not in saved.body
    assert saved.covering_letter == "Dear parents,\n\nFirst paragraph.\n\nSecond paragraph.\nStill the second.\n"


def test_the_sending_summary_agrees_in_number():
    from types import SimpleNamespace

    from sending.views import _sent_message

    one = SimpleNamespace(to_send=3, already_invited=0, needs_paper_form=[object()])
    two = SimpleNamespace(to_send=1, already_invited=0, needs_paper_form=[object(), object()])
    assert _sent_message(one) == "3 invitations queued to send. 1 carer has no e-mail address that works and needs a paper form."
    assert _sent_message(two) == "1 invitation queued to send. 2 carers have no e-mail address that works and need paper forms."
