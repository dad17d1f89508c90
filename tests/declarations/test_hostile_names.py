"""Names are data, never markup. A name imported from a school's information system (or a
school's or headteacher's name) that looks like Markdown or HTML, turns text around, is very long
or is emoji shows as exactly its own characters wherever it is filled in: on the signing page, in
the stored statement, the sealed PDF and the e-mails; and the register lists it as the school
holds it.

Each case is one family: a carer with that name and as many children of the same name. A name
that carries direction controls is shown inside an isolate (U+2068 … U+2069), so that the
controls cannot turn the words of the declaration after it around.
"""

from __future__ import annotations

import csv
import html
import io
import re
from dataclasses import dataclass

import openpyxl
import pytest
from django.core import mail

from codes.markup import render_markdown
from declarations import selectors
from declarations.models import Declaration
from evidence.exports import RegisterCsv, RegisterXlsx
from evidence.pdf import declaration_pdf_issue
from schools.models import StaffRole
from sending import invitations, outbox
from sending.models import OutboxMessage
from tests.declarations.evidence import pdf_text, sign_on_paper, sign_online, squashed
from tests.declarations.factories import family, issued_link
from tests.factories import (
    CodeFactory,
    SchoolFactory,
    StaffRoleFactory,
    UserFactory,
    published_version,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tasks")]

ISOLATE, END_ISOLATE = "\u2068", "\u2069"
DIRECTION_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
RIGHT_TO_LEFT_OVERRIDE = "\u202e"
ISOLATED = re.compile("\u2068([^\u2069]*)\u2069")
ZERO_WIDTH_JOINER = re.compile("\u200d")
# Markup a hostile name must never become, wherever it is shown.
MARKUP = re.compile(r"<(a|img|b|em|strong|code|script|h[1-6])[\s>]", re.IGNORECASE)


@dataclass(frozen=True)
class Hostile:
    forename: str
    surname: str
    children: int = 1

    @property
    def name(self) -> str:
        return f"{self.forename} {self.surname}"

    @property
    def children_named(self) -> str:
        return selectors.names_in_words([self.name] * self.children)


# A carer's name of 166 characters (100 + 65: each part fits its column), and three children of
# that name: the {children} filled in is 505 characters.
LONG_FORENAME = ("Anne-Marie Josephine St. Clair " * 4)[:100].strip()
LONG_SURNAME = ("Fotheringham-Whitley-Smythe " * 3)[:65].strip()

HOSTILE = [
    pytest.param(Hostile("[Click to confirm](https://evil.example/login)", "Smith"), id="link"),
    pytest.param(Hostile("![x](https://evil.example/x.png)", "Smith"), id="image"),
    pytest.param(Hostile("*bold* _it_", "**Smith**"), id="emphasis"),
    pytest.param(Hostile("<b>x</b>", "Smith"), id="html"),
    pytest.param(Hostile("<script>alert(1)</script>", "Smith"), id="script"),
    pytest.param(Hostile("\u202eMary", "Smith"), id="right-to-left-override"),
    pytest.param(Hostile(LONG_FORENAME, LONG_SURNAME, children=3), id="long-names-500-characters"),
    pytest.param(Hostile("Zoë 👩‍👧‍👦", "Smith 🌈"), id="emoji"),
    pytest.param(Hostile("Back\\slash \\*not\\*", "`Smith` ``x``"), id="backslashes-and-backticks"),
    pytest.param(Hostile('=HYPERLINK("https://evil.example","x")', "-Smith"), id="formula"),
    pytest.param(Hostile("{school} &amp; &lt;i&gt;", "# Smith"), id="placeholder-and-entities"),
]


def shown(value: str) -> str:
    """A filled-in value as it is shown: itself, isolated if it carries direction controls."""
    return f"{ISOLATE}{value}{END_ISOLATE}" if DIRECTION_CONTROLS.search(value) else value


def declared(hostile: Hostile) -> str:
    """The start of the default declaration, filled in with the family's names."""
    return f"I {shown(hostile.name)}, parent/carer of {shown(hostile.children_named)}, declare that I have received"


def drawn(text: str) -> str:
    """Text as a PDF draws it, so as its text is read back: without direction controls or the
    invisible joiners between an emoji's parts, and what follows a right-to-left override reversed
    (the table's one override ends with its isolate)."""
    def run(match):
        head, _, overridden = match.group(1).partition(RIGHT_TO_LEFT_OVERRIDE)
        return head + overridden[::-1]

    return ZERO_WIDTH_JOINER.sub("", DIRECTION_CONTROLS.sub("", ISOLATED.sub(run, text)))


def text_of(fragment: str) -> str:
    """The visible text of an HTML fragment, white space made single spaces."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", fragment)))


def statement_on(page: str) -> str:
    [statement] = re.findall(r'<div class="declaration-statement"[^>]*>(.*?)</div>', page, flags=re.DOTALL)
    return statement


@pytest.fixture
def school_version(school):
    return school, published_version(CodeFactory(owner=school))


def hostile_family(school, hostile: Hostile):
    return family(
        school,
        forename=hostile.forename,
        surname=hostile.surname,
        email="carer@example.org",
        children=[(hostile.forename, hostile.surname, "3", "3B")] * hostile.children,
    )


def open_signing_page(client, carer, version) -> str:
    _, token = issued_link(carer, version)
    assert client.get(f"/sign/t/{token}/").status_code == 303
    response = client.get("/sign/")
    assert response.status_code == 200
    return response.content.decode()


def sign(client, carer, version) -> Declaration:
    response = client.post("/sign/", {"typed_name": carer.full_name, "agreed": "on", "version": version.pk})
    assert response.status_code == 303
    return Declaration.objects.get(carer=carer, version=version)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_the_signing_page_shows_the_name_as_written_and_makes_nothing_of_it(client, school_version, hostile):
    school, version = school_version
    carer = hostile_family(school, hostile)
    page = open_signing_page(client, carer, version)
    statement = statement_on(page)
    assert not MARKUP.search(statement), statement
    assert "evil.example" not in " ".join(re.findall(r'(?:href|src)="([^"]*)"', page))
    assert declared(hostile) in text_of(statement)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_the_stored_statement_is_the_one_shown_and_reads_as_the_name(client, school_version, hostile):
    school, version = school_version
    carer = hostile_family(school, hostile)
    shown_on_page = statement_on(open_signing_page(client, carer, version))
    declaration = sign(client, carer, version)
    stored = str(render_markdown(declaration.statement))
    assert stored.strip() == shown_on_page.strip()  # the statement as shown, exactly
    assert not MARKUP.search(stored)
    assert declared(hostile) in text_of(stored)
    assert declaration.carer_name == declaration.typed_name == hostile.name


@pytest.mark.parametrize("hostile", HOSTILE)
def test_a_paper_form_records_the_name_as_written_on_it(school_version, office, hostile):
    school, version = school_version
    carer = hostile_family(school, hostile)
    declaration = sign_on_paper(carer, version, recorded_by=office, name_as_written=hostile.name)
    stored = str(render_markdown(declaration.statement))
    assert not MARKUP.search(stored)
    assert declared(hostile) in text_of(stored)


# Emoji are drawn from Symbola (scripts/bootstrap installs it; the PDF's CSS falls back to it).
@pytest.mark.parametrize("hostile", HOSTILE)
def test_the_sealed_pdf_carries_the_name_in_the_statement(client, school_version, hostile):
    school, version = school_version
    carer = hostile_family(school, hostile)
    open_signing_page(client, carer, version)
    declaration = sign(client, carer, version)
    record = declaration_pdf_issue(declaration_id=declaration.pk)
    with record.file.open("rb") as file:
        text = pdf_text(file.read())
    statement = text[text.index("as shown to the parent or carer") : text.index("Signature")]
    # Words wrap where the PDF's lines end: compare the characters.
    assert squashed(drawn(declared(hostile))) in squashed(statement)


# E-mails: the covering letter is filled with the school's and the headteacher's names, the
# confirmation greets the carer by name.

EMAIL_MARKUP = re.compile(r"<(img|b|em|strong|code|script|h[2-6])[\s>]", re.IGNORECASE)  # the e-mails' own: h1, a, p


def one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def html_part(email) -> str:
    [(content, _)] = email.alternatives
    return content


@pytest.mark.usefixtures("locmem_mail")
@pytest.mark.parametrize("hostile", HOSTILE)
def test_the_emails_carry_the_names_as_written(hostile):
    school = SchoolFactory(name=hostile.name)
    head = UserFactory(first_name=hostile.forename, last_name=hostile.surname)
    StaffRoleFactory(user=head, organisation=school, role=StaffRole.Role.HEADTEACHER, job_title="Headteacher")
    version = published_version(CodeFactory(owner=school))  # the default covering letter
    carer = hostile_family(school, hostile)

    batch = invitations.invitations_send(school=school, audience="all-unsigned", user=None, enqueue=False)
    assert outbox.outbox_send_pending(batch_id=batch.pk)["sent"] == 1
    [invitation] = mail.outbox
    html = html_part(invitation)
    assert not EMAIL_MARKUP.search(html)
    assert "evil.example" not in " ".join(re.findall(r'(?:href|src)="([^"]*)"', html))
    for text in (one_line(invitation.body), text_of(html)):
        assert f"{shown(hostile.name)} asks every parent and carer to read its social media code" in text
        assert f"Kind regards, {shown(hostile.name)} Headteacher" in text

    sign_online(carer, version)
    message = OutboxMessage.objects.get(carer=carer, kind=OutboxMessage.Kind.CONFIRMATION)
    assert outbox.outbox_message_send(message.pk) == "sent"
    confirmation = mail.outbox[-1]
    html = html_part(confirmation)
    assert not EMAIL_MARKUP.search(html)
    for text in (one_line(confirmation.body), text_of(html)):
        assert f"Dear {hostile.name}, Thank you." in text


# The register: the names as the school holds them, a formula shown as text.


def in_a_spreadsheet(value: str) -> str:
    """A cell's text as the register writes it: one that a spreadsheet would run as a formula
    starts with an apostrophe."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


@pytest.mark.parametrize("hostile", HOSTILE)
def test_the_register_lists_the_names_as_the_school_holds_them(client, school_version, hostile):
    school, version = school_version
    carer = hostile_family(school, hostile)
    open_signing_page(client, carer, version)
    sign(client, carer, version)
    expected = [in_a_spreadsheet(value) for value in (hostile.surname, hostile.forename)] * 2 + ["Signed"]

    _, _, data = RegisterCsv(school).render()
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    columns = ["Pupil surname", "Pupil forename", "Carer surname", "Carer forename", "Status"]
    assert [[row[column] for column in columns] for row in rows] == [expected] * hostile.children

    _, _, data = RegisterXlsx(school).render()
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    header, *cells = sheet.iter_rows(values_only=True)
    at = [header.index(column) for column in columns]
    assert [[row[i] for i in at] for row in cells] == [expected] * hostile.children
