"""The e-mails carers get: from the school, its letter with the placeholders filled, text and HTML,
one personal link whose token is stored nowhere but as a hash."""

import datetime
import re
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from declarations.models import SigningRequest
from declarations.tokens import hash_token
from schools.models import Pupil, StaffRole
from sending import emails, invitations, outbox
from sending.models import OutboxMessage
from tests.factories import CodeFactory, StaffRoleFactory, UserFactory, published_version
from tests.sending.test_sending import parent, record_signature

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("database_tasks", "locmem_mail")]

SEED_LETTERS = Path(__file__).resolve().parents[2] / "codes" / "seed_data"
WHITEFIELD_LETTER = (SEED_LETTERS / "whitefield-primary-letter.md").read_text()
HALTON_SECONDARY_LETTER = (SEED_LETTERS / "halton-secondary-letter.md").read_text()
LINK = re.compile(r"/sign/t/([A-Za-z0-9_-]+)/")
NAME_PIECES = [
    *"ab Z1.-+*_`\\[](){}<>!#|&;=~\"'/@", "&amp;", "&#", "&lt;", "&copy;", "http://", "](", "**", "1.", "\n",
    "\u202e", "\U0001f308",
]


@pytest.fixture
def whitefield(school):
    school.phone = "01234 567890"
    school.email = "office@whitefield.example.org"
    school.save()
    head = UserFactory(first_name="Hannah", last_name="Wright")
    StaffRoleFactory(user=head, organisation=school, role=StaffRole.Role.HEADTEACHER, job_title="Headteacher")
    code = CodeFactory(owner=school)
    published_version(code, covering_letter=WHITEFIELD_LETTER)
    return school


@pytest.fixture
def ann(whitefield):
    return parent(whitefield, forename="Ann", surname="Able", email="ann.able@example.org")


def send_invitation_to(school, carer):
    batch = invitations.invitations_send(school=school, audience=("carer", carer.pk), user=None, enqueue=False)
    assert outbox.outbox_send_pending(batch_id=batch.pk)["sent"] == 1
    return mail.outbox[-1]


def html_of(email):
    [(content, mimetype)] = [(a.content, a.mimetype) for a in email.alternatives]
    assert mimetype == "text/html"
    return content


def test_the_invitation_comes_from_the_school_in_text_and_html(whitefield, ann):
    email = send_invitation_to(whitefield, ann)
    assert email.subject.startswith("Please read and sign Whitefield Primary School's social media code of conduct – for Ann Able (")
    assert email.from_email == "Whitefield Primary School <no-reply@codes.example.org>"
    assert email.reply_to == ["office@whitefield.example.org"]
    assert email.to == ["ann.able@example.org"]
    parsed = email.message()
    assert parsed["From"].addresses[0].display_name == "Whitefield Primary School"
    assert parsed.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in parsed.iter_parts()] == ["text/plain", "text/html"]


def test_the_whitefield_letter_has_every_placeholder_filled(whitefield, ann):
    email = send_invitation_to(whitefield, ann)
    for body in (email.body, html_of(email)):
        assert "{" not in body and "}" not in body
        assert "Name of school" not in body and "name of school" not in body
        assert "Whitefield Primary School understands and appreciates the benefits of social media" in re.sub(r"\s+", " ", body)
        assert "22 November 2026" in body
        assert "01234 567890" in body
        assert "Hannah Wright" in body and "Headteacher" in body
        assert "Address line" not in body and "address_line" not in body and "postcode" not in body
    assert "please contact myself directly on 01234 567890." in re.sub(r"\s+", " ", email.body)


def test_without_a_phone_or_headteacher_the_letter_still_reads_well(school):
    code = CodeFactory(owner=school)
    version = published_version(code, covering_letter=WHITEFIELD_LETTER)
    letter = emails.covering_letter(school=school, version=version)
    text = re.sub(r"\s+", " ", letter.text)
    assert "please contact myself directly on the school office." in text
    assert "Kind regards, The Headteacher" in text
    assert "{" not in letter.text + letter.html


def test_a_version_without_a_covering_letter_gets_a_short_default_one(school):
    code = CodeFactory(owner=school)
    version = published_version(code)
    letter = emails.covering_letter(school=school, version=version)
    assert letter.text.startswith("Dear parent or carer,")
    assert "{" not in letter.text and "Whitefield Primary School asks every parent and carer" in letter.text


def test_the_halton_letters_markdown_becomes_plain_text(school):
    code = CodeFactory(owner=school)
    version = published_version(code, covering_letter=HALTON_SECONDARY_LETTER)
    letter = emails.covering_letter(school=school, version=version)
    assert "**" not in letter.text and "##" not in letter.text
    assert "- Sending abusive messages to parents or teachers" in letter.text
    assert "<li>Sending abusive messages to parents or teachers</li>" in letter.html
    assert max(len(line) for line in letter.text.splitlines()) <= emails.TEXT_WIDTH


def test_one_link_whose_token_matches_the_stored_hash_and_is_stored_nowhere(whitefield, ann):
    email = send_invitation_to(whitefield, ann)
    html = html_of(email)
    [token] = LINK.findall(email.body)
    assert LINK.findall(html) == [token]
    assert html.count("<a ") == 1 and html.count("href=") == 1
    assert f"https://codes.example.org/sign/t/{token}/" in email.body.splitlines()
    assert len(token) >= 43  # 256 random bits

    request = SigningRequest.objects.get(carer=ann)
    assert hash_token(token) == request.token_hash
    stored = [*OutboxMessage.objects.values(), *SigningRequest.objects.values()]
    assert stored and all(token not in str(value) for row in stored for value in row.values())
    assert "This link is personal to you and works until 21 January 2027." in re.sub(r"\s+", " ", email.body)
    assert "works until 21 January 2027" in html


def test_the_html_is_accessible_and_self_contained(whitefield, ann):
    html = html_of(send_invitation_to(whitefield, ann))
    assert '<html lang="en-GB">' in html
    assert len(re.findall(r"<h1[ >]", html)) == 1 and not re.search(r"<h[2-6][ >]", html)
    assert "<img" not in html and "<script" not in html and "<link" not in html and "src=" not in html
    assert re.search(r"<a [^>]*>Read and sign the code of conduct</a>", html)
    assert "click here" not in html.lower()


def test_a_sent_email_is_readable_in_the_saved_file_with_the_link_intact(whitefield, ann, settings, tmp_path):
    settings.MAILERS = {
        "default": {"BACKEND": "django.core.mail.backends.filebased.EmailBackend", "OPTIONS": {"file_path": str(tmp_path)}}
    }
    batch = invitations.invitations_send(school=whitefield, audience="all-unsigned", user=None, enqueue=False)
    outbox.outbox_send_pending(batch_id=batch.pk)
    [saved] = tmp_path.glob("*.log")
    raw = saved.read_bytes()
    text_part = message_from_bytes(raw.split(b"\n" + b"-" * 79)[0], policy=policy.default).get_body(("plain",))
    assert text_part["Content-Transfer-Encoding"] in ("7bit", "8bit")  # not quoted-printable: readable as is
    [token] = LINK.findall(raw.decode())[:1]
    assert hash_token(token) == SigningRequest.objects.get(carer=ann).token_hash
    assert b"Whitefield Primary School understands and appreciates" in raw


def test_the_confirmation_thanks_the_carer_for_the_version_and_date(whitefield, ann):
    version = whitefield.own_code.versions.get()
    record_signature(ann, version)
    message = OutboxMessage.objects.create(school=whitefield, carer=ann, version=version, kind="confirmation")
    assert outbox.outbox_message_send(message.pk) == "sent"
    email = mail.outbox[-1]
    text = re.sub(r"\s+", " ", email.body)
    assert email.subject.startswith("Thank you for signing Whitefield Primary School's social media code of conduct – for Ann Able (")
    assert "You signed version 1 of Whitefield Primary School's social media code of conduct on 22 November 2026." in text
    assert not LINK.search(email.body)
    assert email.from_email.startswith("Whitefield Primary School <")


def test_reminders_and_new_links_carry_the_link_the_carer_holds_while_it_works(whitefield, ann, now):
    version = whitefield.own_code.versions.get()
    [invited] = LINK.findall(send_invitation_to(whitefield, ann).body)
    now.shift(datetime.timedelta(days=7))
    for kind in ("reminder-1", "new-link"):
        message = OutboxMessage.objects.create(school=whitefield, carer=ann, version=version, kind=kind)
        assert outbox.outbox_message_send(message.pk) == "sent"
    reminder, new_link = mail.outbox[-2:]
    assert reminder.subject.startswith("Reminder: please read and sign Whitefield Primary School's")
    assert new_link.subject.startswith("Your link to sign Whitefield Primary School's social media code of conduct – for Ann Able (")
    assert LINK.findall(reminder.body) == LINK.findall(new_link.body) == [invited]
    request = SigningRequest.objects.get(carer=ann)
    assert hash_token(invited) == request.token_hash and request.link_number == 1
    assert request.reminders_sent == 1 and request.last_reminded_at == timezone.now()
    # The link works for the school's 60 days from the latest e-mail, as that e-mail says.
    assert request.expires_at == timezone.now() + datetime.timedelta(days=60)
    assert "works until 28 January 2027" in re.sub(r"\s+", " ", new_link.body)


def test_once_the_link_has_expired_the_next_email_carries_a_new_one(whitefield, ann, now):
    version = whitefield.own_code.versions.get()
    [old] = LINK.findall(send_invitation_to(whitefield, ann).body)
    now.shift(datetime.timedelta(days=61))
    message = OutboxMessage.objects.create(school=whitefield, carer=ann, version=version, kind="new-link")
    assert outbox.outbox_message_send(message.pk) == "sent"
    [new] = LINK.findall(mail.outbox[-1].body)
    request = SigningRequest.objects.get(carer=ann)
    assert new != old and hash_token(new) == request.token_hash and request.link_number == 2
    assert request.expires_at == timezone.now() + datetime.timedelta(days=60)


def test_placeholders_a_school_invents_stay_visible_rather_than_vanish():
    filled = emails.fill_placeholders("Hello {parent_name}, from {school}.\n\n{postcode}\n", {"school": "X"})
    assert filled == "Hello {parent_name}, from X.\n"


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(value=st.lists(st.sampled_from(NAME_PIECES), min_size=1, max_size=20).map("".join))
def test_a_name_filled_into_a_letter_reads_as_written_in_the_text_part(value):
    """The plain-text part reads a filled-in name's escapes back as the characters written: no
    backslashes, no entities, no marks taken for emphasis or a link, wherever the line wraps."""
    as_written = " ".join(value.split())
    assume(as_written)
    letter = "Dear parent or carer,\n\n{school} asks you to sign.\n\n{sender_name}\n\n- {school}\n"
    text = emails.markdown_to_text(emails.fill_placeholders(letter, {"school": value, "sender_name": value}))
    words = " ".join(text.replace("\u2068", " ").replace("\u2069", " ").split())
    assert f"{as_written} asks you to sign. {as_written} - {as_written}" in words


def test_invitations_sent_together_say_the_same_as_one_written_alone_each_with_its_own_link(whitefield, ann):
    bob = parent(whitefield, forename="Bob", surname="Baker", email="bob.baker@example.org")
    batch = invitations.invitations_send(school=whitefield, audience="all-unsigned", user=None, enqueue=False)
    assert outbox.outbox_send_pending(batch_id=batch.pk)["sent"] == 2
    sent = {email.to[0]: email for email in mail.outbox}
    tokens = {address: LINK.findall(email.body) for address, email in sent.items()}
    assert all(len(found) == 1 for found in tokens.values())
    assert tokens[ann.email] != tokens[bob.email]

    for carer in (ann, bob):
        email = sent[carer.email]
        [token] = tokens[carer.email]
        assert SigningRequest.objects.get(carer=carer).token_hash == hash_token(token)
        # Written on its own, for the same link and expiry, the invitation reads the same.
        row = OutboxMessage.objects.select_related("school", "carer", "version").get(carer=carer)
        request = SigningRequest.objects.get(carer=carer)
        alone = emails.email_for(row, token=token, expires_at=request.expires_at)
        assert (email.subject, email.body, html_of(email)) == (alone.subject, alone.body, html_of(alone))


def test_a_batch_reads_the_children_it_names_once_however_many_carers(whitefield, ann):
    """Each invitation names the carer's children; a batch reads them all in one query."""

    def children_queries(how_many):
        for n in range(how_many):
            parent(whitefield, forename=f"Carer{n}", surname=f"Family{how_many}", email=f"c{n}.{how_many}@example.org")
        batch = invitations.invitations_send(school=whitefield, audience="all-unsigned", user=None, enqueue=False)
        with CaptureQueriesContext(connection) as captured:
            assert outbox.outbox_send_pending(batch_id=batch.pk)["sent"] >= how_many
        return sum('"schools_pupilcarer"' in query["sql"] for query in captured)

    assert children_queries(2) == children_queries(12)
    email = next(email for email in mail.outbox if email.to == ["c11.12@example.org"])
    child = Pupil.objects.get(carer_links__carer__email="c11.12@example.org")
    assert child.forename in email.subject
