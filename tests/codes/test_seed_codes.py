"""The seed codes load word for word, once, with the organisations the source documents name.

The originals in seed_originals/ are verbatim copies of the Word exports the portal was designed
from. Each check below removes only the listed export artefacts from an original, splits what is
left into sentences, and requires the loaded text, rendered as a parent sees it, to be exactly
those sentences in the same order: nothing missing, nothing reordered, nothing added.
"""

import datetime
import html
import io
import re
from pathlib import Path

import pytest
from django.core.management import call_command

from codes.markup import render_markdown
from codes.models import Code, CodeVersion
from codes.seeding import load_seed_codes
from codes.services import (
    DEFAULT_DECLARATION,
    code_for_school,
    code_review_due,
    version_fingerprint,
    version_in_force,
)
from schools.models import Organisation

ORIGINALS = Path(__file__).parent / "seed_originals"

SECONDARY_MEMBERS = [
    "Ashley High School",
    "The Bridge School",
    "The Cavendish High Academy",
    "Chesnut Lodge School",
    "Cronton Sixth Form College",
    "Ormiston Bollingbroke Academy",
    "Ormiston Chadwick Academy",
    "Riverside College",
    "Sandymoor School",
    "Wade Deacon High School",
    "Sts Peter and Paul Catholic College",
    "The Heath School",
    "The Grange Academy",
    "St Chad's Catholic and Church of England High School",
]

# Whitefield's letter template: its placeholders, as written, and the tokens the portal fills in.
WHITEFIELD_LETTER_PLACEHOLDERS = [
    ("(Address line one)", "{address_line_one}"),
    ("(Address line two)", "{address_line_two}"),
    ("(Town)", "{town}"),
    ("(County)", "{county}"),
    ("(Postcode)", "{postcode}"),
    ("(Date)", "{date}"),
    ("Name of school", "{school}"),
    ("name of school", "{school}"),
    ("contact number", "{contact_number}"),
]
WHITEFIELD_LETTER_SIGNATURE = {"Name": "{sender_name}", "Job role": "{sender_job_title}"}
WHITEFIELD_LETTER_TOKENS = {
    "address_line_one", "address_line_two", "town", "county", "postcode", "date",
    "school", "contact_number", "sender_name", "sender_job_title",
}


# The secondary association's version 1: the primary association's code with these, in order.
SECONDARY_ADAPTATION = [
    ("Halton Association of Primary Headteachers (HAPH)", "Halton Association of Secondary Headteachers"),
    ("Halton Association of Primary Headteachers", "Halton Association of Secondary Headteachers"),
    ("Halton Primary Schools and Colleges", "Halton Secondary Schools and Colleges"),
    ("Halton Primary Schools", "Halton Secondary Schools and Colleges"),
]


def adapted_for_secondary(text):
    for old, new in SECONDARY_ADAPTATION:
        text = text.replace(old, new)
    return text


# --- Reading the originals: only the Word-export artefacts are removed ---------------------------

BOOKMARK = re.compile(r"\[bookmark: [^\]]*\]")
TABLE_OF_CONTENTS_LINE = re.compile(r"^\d+ [^\t]+\t\d+$")  # "1 Introduction<TAB>4"
BULLET_GLYPHS = re.compile(r"\s*[·●]\s*")  # "·" and "●" bullets; also one ● mid-line in Alsop


def original_lines(name):
    """The original's lines, without bookmarks, image1.png, table-of-contents lines, or the
    document control table (which the loader turns into structured fields, checked separately)."""
    text = BOOKMARK.sub("", (ORIGINALS / name).read_text(encoding="utf-8"))
    lines = [line.strip() for line in text.split("\n")]
    kept, in_control_table = [], False
    for line in lines:
        if line == "Document control table":
            in_control_table = True
        if in_control_table:
            in_control_table = bool(line)  # the table ends at the first blank line
            continue
        if line == "image1.png" or TABLE_OF_CONTENTS_LINE.match(line):
            continue
        kept.append(line)
    return kept


def drop_leading(lines, expected):
    """Remove the repeated name/title lines at the top, insisting they are exactly `expected`."""
    content = [line for line in lines]
    while content and not content[0]:
        content.pop(0)
    for line in expected:
        assert content and content[0] == line, f"expected {line!r} at the top, found {content[:1]!r}"
        content.pop(0)
        while content and not content[0]:
            content.pop(0)
    return content


def part(lines, start=None, end=None):
    """The lines from the one equal to `start` (excluded) to the one equal to `end` (excluded)."""
    first = lines.index(start) + 1 if start is not None else 0
    last = lines.index(end) if end is not None else len(lines)
    return lines[first:last]


def sentences(lines):
    """Every sentence (or heading, or list item) of the lines, whitespace collapsed, in order."""
    result = []
    for line in lines:
        line = line.replace("**", "")  # Markdown bold in the exports; the rendered text has none
        for item in BULLET_GLYPHS.split(line):
            item = re.sub(r"^- ", "", item.strip())  # "- " list items in the exports
            for sentence in re.split(r"(?<=[.!?])\s+", item):
                sentence = " ".join(sentence.split())
                if sentence:
                    result.append(sentence)
    return result


# --- Reading what a parent sees ---------------------------------------------------------------------


def plain_text(markdown_text):
    """The rendered Markdown as plain text: tags stripped, entities decoded, whitespace collapsed."""
    rendered = str(render_markdown(markdown_text))
    rendered = re.sub(r"</?(strong|em|a)\b[^>]*>", "", rendered)  # inline: no word boundary
    rendered = re.sub(r"<[^>]+>", " ", rendered)  # block: a boundary
    return " ".join(html.unescape(rendered).split())


def differences(expected_sentences, text):
    """Everything that differs between the sentences and the text, all at once.

    Each sentence must occur in order; anything in the text between or after them is an addition.
    """
    problems, position = [], 0
    for sentence in expected_sentences:
        found = text.find(sentence, position)
        if found == -1:
            where = "out of order" if sentence in text else "missing"
            problems.append(f"{where}: {sentence!r}")
            continue
        if text[position:found].strip():
            problems.append(f"added: {text[position:found].strip()!r}")
        position = found + len(sentence)
    if text[position:].strip():
        problems.append(f"added: {text[position:].strip()!r}")
    return problems


def assert_same_wording(original_part, loaded_markdown, label):
    expected = sentences(original_part)
    assert expected, f"{label}: nothing to compare (the original part is empty)"
    problems = differences(expected, plain_text(loaded_markdown))
    assert not problems, f"{label}: {len(problems)} difference(s):\n" + "\n".join(problems)


# --- Fixtures ----------------------------------------------------------------------------------------


@pytest.fixture
def seeded(db):
    return load_seed_codes()


def version_of(slug):
    return CodeVersion.objects.get(code__owner__slug=slug, number=1)


# --- Every sentence survives -------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_sentence_of_each_seed_body_survives_loading(seeded):
    halton = original_lines("halton-primary-code-and-letter.txt")
    halton_code = part(halton, end="HALTON ASSOCIATION OF PRIMARY HEADTEACHERS")
    # The same Halton code text is version 1 of both associations' codes, the secondary one with
    # its own name and its schools (test_the_secondary_code_differs_only_by_its_names).
    assert_same_wording(halton_code, version_of("halton-primary").body, "Halton primary body")
    secondary_code = [adapted_for_secondary(line) for line in halton_code]
    assert_same_wording(secondary_code, version_of("halton-secondary").body, "Halton secondary body")

    whitefield = original_lines("whitefield-primary-code-declaration-letter.txt")
    # The template's "Name of school" slot holds the school's name.
    whitefield_code = [
        line.replace("Name of school", "Whitefield Primary School")
        for line in part(whitefield, end="Parent Declaration Form")
    ]
    assert_same_wording(whitefield_code, version_of("whitefield-primary").body, "Whitefield body")

    peartree = drop_leading(
        original_lines("peartree-spring-primary-code.txt"),
        ["Social Media Code of Conduct for Parents and Carers"],
    )
    assert_same_wording(peartree, version_of("peartree-spring-primary").body, "Peartree Spring body")

    alsop = drop_leading(
        original_lines("alsop-high-code.txt"),
        [
            "ALSOP HIGH SCHOOL",
            "ALSOP HIGH SCHOOL",
            "Social Media Code of Conduct for Parents and Carers",
            "Social Media Code of Conduct for Parents",  # the title again, above the contents
        ],
    )
    # The export turned the heading number 1 into a capital I; the other headings are 2 to 6.
    assert alsop[0] == "I Introduction"
    alsop[0] = "1 Introduction"
    assert_same_wording(alsop, version_of("alsop-high").body, "Alsop High body")


@pytest.mark.django_db
def test_the_titles_removed_from_the_tops_of_the_bodies_are_the_code_titles(seeded):
    assert version_of("peartree-spring-primary").title == "Social Media Code of Conduct for Parents and Carers"
    assert version_of("alsop-high").title == "Social Media Code of Conduct for Parents and Carers"
    # Halton's code names itself in its second paragraph.
    assert version_of("halton-primary").title == "Social Media Code of Conduct for Parents/Carers"
    assert "The Social Media Code of Conduct for Parents/Carers sits alongside" in version_of("halton-primary").body


@pytest.mark.django_db
def test_whitefields_parent_declaration_form_becomes_its_declaration_statement(seeded):
    whitefield = original_lines("whitefield-primary-code-declaration-letter.txt")
    form = part(whitefield, start="Parent Declaration Form", end="Signed:")
    # The form's blanks become the names the portal fills in.
    form = [
        line.replace("I name, parent of name of child,", "I {carer}, parent of {children},")
        for line in form
    ]
    statement = version_of("whitefield-primary").declaration_statement
    assert_same_wording(form, statement, "Whitefield declaration")
    assert statement.startswith(
        "I {carer}, parent of {children}, declare that I have received, read and understand the "
        "terms and conditions of this code of conduct."
    )
    assert "Signed:" not in statement and "Date:" not in statement


@pytest.mark.django_db
def test_codes_without_a_declaration_form_use_the_default_declaration(seeded):
    for slug in ["halton-primary", "halton-secondary", "peartree-spring-primary", "alsop-high"]:
        assert version_of(slug).declaration_statement == DEFAULT_DECLARATION, slug


@pytest.mark.django_db
def test_every_sentence_of_each_covering_letter_survives_loading(seeded):
    halton = original_lines("halton-primary-code-and-letter.txt")
    # The letterhead (the association's name) is the organisation itself, not letter text.
    primary_letter = part(halton, start="HALTON ASSOCIATION OF PRIMARY HEADTEACHERS")
    assert_same_wording(primary_letter, version_of("halton-primary").covering_letter, "Halton primary letter")

    secondary = original_lines("halton-secondary-letter.txt")
    title = "Acceptable Use of Social Media Letter to Parents/Carers"
    secondary_letter = [title] + part(secondary, start=title)
    assert_same_wording(
        secondary_letter, version_of("halton-secondary").covering_letter, "Halton secondary letter"
    )
    assert "**Social Media Code of Conduct**" in version_of("halton-secondary").covering_letter


@pytest.mark.django_db
def test_whitefields_letter_template_survives_with_its_placeholders_as_tokens(seeded):
    whitefield = original_lines("whitefield-primary-code-declaration-letter.txt")
    title = "Acceptable Use of Social Media Letter to Parents"
    letter = [title] + part(whitefield, start=title)
    tokenised = []
    for line in letter:
        line = WHITEFIELD_LETTER_SIGNATURE.get(line, line)
        for placeholder, token in WHITEFIELD_LETTER_PLACEHOLDERS:
            line = line.replace(placeholder, token)
        tokenised.append(line)
    loaded = version_of("whitefield-primary").covering_letter
    assert_same_wording(tokenised, loaded, "Whitefield letter")
    assert set(re.findall(r"\{(\w+)\}", loaded)) == WHITEFIELD_LETTER_TOKENS


@pytest.mark.django_db
def test_no_word_export_artefact_reaches_the_loaded_texts(seeded):
    for version in CodeVersion.objects.all():
        for field in ["body", "declaration_statement", "covering_letter"]:
            text = getattr(version, field)
            for artefact in ["[bookmark", "image1.png", "·", "●", "\t", "Document control table"]:
                assert artefact not in text, f"{version}: {artefact!r} in {field}"


# --- Structure ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_bodies_render_with_section_headings_and_bullet_lists(seeded):
    for version in CodeVersion.objects.all():
        rendered = str(render_markdown(version.body))
        assert "<h1" not in rendered, version  # the page's h1 is the code title
        assert rendered.count("<h2>") >= 4, version
        assert "<ul>" in rendered, version
        assert not re.search(r"^# ", version.body, re.MULTILINE), version

    alsop = str(render_markdown(version_of("alsop-high").body))
    headings = re.findall(r"<h2>(.*?)</h2>", alsop)
    assert headings == [
        "1 Introduction", "2 Legal Framework", "3 Expectations",
        "4 Code of Conduct", "5 Further Action", "6 Related Policies",
    ]
    assert "<h3>Reporting offending material</h3>" in alsop
    assert "<li>The Criminal Justice and Police Act 2001</li>\n<li>The Harassment Act 1997</li>" in alsop
    # A paragraph split by a page break in the export is one paragraph again.
    assert "other methods of redress are available for all to use" in alsop

    whitefield = str(render_markdown(version_of("whitefield-primary").body))
    assert (
        "<li>Posting defamatory ‘statuses’ about fellow parents, pupils, the school or its employees</li>"
        in whitefield
    )
    assert "<li>Data Protection Act 1998</li>" in whitefield

    halton = str(render_markdown(version_of("halton-primary").body))
    assert re.findall(r"<h2>(.*?)</h2>", halton) == [
        "Statement of intent", "E-safety and social media conduct", "Online messaging", "Monitoring and review",
    ]
    assert "<li>Sending abusive messages/emails to members of staff</li>" in halton

    declaration = str(render_markdown(version_of("whitefield-primary").declaration_statement))
    assert declaration.count("<li>") == 4


# --- Organisations and document control ---------------------------------------------------------------


@pytest.mark.django_db
def test_the_secondary_associations_fourteen_members_use_its_code(seeded):
    secondary = Organisation.objects.get(slug="halton-secondary")
    # The names are the ones on the letter's letterhead, in the same spelling.
    letterhead = [line for line in part(original_lines("halton-secondary-letter.txt"),
                                        end="Acceptable Use of Social Media Letter to Parents/Carers") if line]
    assert letterhead == [secondary.name] + SECONDARY_MEMBERS

    members = Organisation.objects.filter(association=secondary)
    assert sorted(members.values_list("name", flat=True)) == sorted(SECONDARY_MEMBERS)
    association_code = Code.objects.get(owner=secondary)
    for school in members:
        assert school.kind == Organisation.Kind.SCHOOL
        assert not Code.objects.filter(owner=school).exists(), school
        assert code_for_school(school) == association_code, school
    assert members.get(name="Ashley High School").slug == "ashley-high-school"
    assert (
        members.get(name="St Chad's Catholic and Church of England High School").slug
        == "st-chads-catholic-and-church-of-england-high-school"
    )


@pytest.mark.django_db
def test_the_seed_organisations_are_the_ones_the_documents_name(seeded):
    primary = Organisation.objects.get(slug="halton-primary")
    assert primary.name == "Halton Association of Primary Headteachers"
    assert primary.kind == Organisation.Kind.ASSOCIATION
    assert not primary.members.exists()
    for slug, name in [
        ("whitefield-primary", "Whitefield Primary School"),
        ("peartree-spring-primary", "Peartree Spring Primary School"),
        ("alsop-high", "Alsop High School"),
    ]:
        school = Organisation.objects.get(slug=slug)
        assert (school.name, school.kind, school.association) == (name, Organisation.Kind.SCHOOL, None)
        assert code_for_school(school).owner == school
    assert Organisation.objects.count() == 19
    assert Code.objects.count() == 5


@pytest.mark.django_db
def test_alsops_document_control_table_becomes_structured_fields(seeded):
    alsop = version_of("alsop-high")
    assert alsop.author_name == "Joe Pilkington"
    assert alsop.author_job_title == "Safeguarding Lead"
    assert alsop.document_version == "V1"
    assert alsop.approved_by == "Governors"
    assert alsop.approved_on == datetime.date(2019, 9, 1)  # "September 2019"
    assert alsop.effective_from == datetime.date(2019, 9, 1)
    assert alsop.review_due == datetime.date(2020, 12, 1)  # "December 2020": long past
    assert code_review_due(alsop.code, datetime.date(2026, 9, 1)) < datetime.date(2026, 9, 1)  # overdue
    assert alsop.links_to == "" and alsop.revision_note == ""  # empty in the table


@pytest.mark.django_db
def test_every_seed_version_is_published_fingerprinted_and_requires_signing(seeded):
    versions = CodeVersion.objects.all()
    assert versions.count() == 5
    for version in versions:
        assert version.is_published, version
        assert version.requires_signing, version
        assert version.fingerprint == version_fingerprint(version), version
        assert version.published_by is None and version.created_by is None
    for slug in ["halton-primary", "halton-secondary", "whitefield-primary", "peartree-spring-primary"]:
        version = version_of(slug)
        assert (version.effective_from, version.review_due) == (
            datetime.date(2026, 9, 1), datetime.date(2027, 9, 1)
        ), slug
        assert version_in_force(version.code, on=datetime.date(2026, 9, 1)) == version


@pytest.mark.django_db
def test_whitefields_declaration_names_the_carer_and_children(seeded):
    statement = version_of("whitefield-primary").declaration_statement
    assert "{carer}" in statement and "{children}" in statement


# --- Idempotence ---------------------------------------------------------------------------------------


def snapshot():
    return {
        "organisations": sorted(Organisation.objects.values_list("slug", "name", "kind", "association__slug")),
        "codes": sorted(Code.objects.values_list("pk", "owner__slug", "title")),
        "versions": sorted(
            CodeVersion.objects.values_list("pk", "code_id", "number", "status", "fingerprint", "published_at")
        ),
    }


@pytest.mark.django_db
def test_loading_twice_creates_nothing_new_and_changes_nothing():
    first = load_seed_codes()
    assert first["summary"] == "created 19 organisations, 5 codes, 5 versions"
    before = snapshot()

    second = load_seed_codes()

    assert second["summary"] == "nothing to do: all seed codes already loaded"
    assert (second["organisations_created"], second["codes_created"], second["versions_created"]) == (0, 0, 0)
    assert snapshot() == before
    for version in CodeVersion.objects.all():
        assert version.fingerprint == version_fingerprint(version)


@pytest.mark.django_db
def test_a_code_that_already_has_a_version_is_left_alone():
    school = Organisation.objects.create(slug="whitefield-primary", name="Whitefield", kind="school")
    code = Code.objects.create(owner=school)
    CodeVersion.objects.create(code=code, number=1, title="Draft", body="Our own draft.", declaration_statement="I agree.")

    result = load_seed_codes()

    assert result["versions_created"] == 4
    assert result["organisations_updated"] == 1
    assert list(code.versions.values_list("title", "body", "status")) == [("Draft", "Our own draft.", "draft")]
    assert Organisation.objects.get(slug="whitefield-primary").name == "Whitefield Primary School"


@pytest.mark.django_db
def test_the_command_loads_the_seeds_and_says_what_it_did():
    out = io.StringIO()
    call_command("load_seed_codes", stdout=out)
    assert out.getvalue().strip() == "created 19 organisations, 5 codes, 5 versions"

    out = io.StringIO()
    call_command("load_seed_codes", stdout=out)
    assert out.getvalue().strip() == "nothing to do: all seed codes already loaded"


@pytest.mark.django_db
def test_the_secondary_code_differs_from_the_primary_only_by_its_names(seeded):
    import difflib

    primary, secondary = version_of("halton-primary"), version_of("halton-secondary")
    assert secondary.body == adapted_for_secondary(primary.body)
    removed, added = set(), set()
    words = lambda text: re.findall(r"\S+", text)  # noqa: E731
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, words(primary.body), words(secondary.body), autojunk=False).get_opcodes():
        if op != "equal":
            removed.add(" ".join(words(primary.body)[i1:i2]))
            added.add(" ".join(words(secondary.body)[j1:j2]))
    assert removed <= {"Primary", "(HAPH)", ""}, removed
    assert added <= {"Secondary", "Secondary Schools and Colleges", "and Colleges", ""}, added
    assert "Primary" not in secondary.body and "HAPH" not in secondary.body
    assert secondary.body.count("Halton Secondary Schools and Colleges") == 2
    assert secondary.revision_note.startswith("Adapted from the Halton Association of Primary Headteachers'")
    assert primary.revision_note == ""


@pytest.mark.django_db
def test_whitefields_code_names_the_school_where_the_template_had_a_slot(seeded):
    body = version_of("whitefield-primary").body
    assert "Name of school" not in body and "name of school" not in body
    assert "Whitefield Primary School expects parents to use messaging apps" in body
    assert version_of("whitefield-primary").fingerprint == version_fingerprint(version_of("whitefield-primary"))


@pytest.mark.django_db
def test_alsops_document_control_shows_every_row_and_a_history_built_from_its_versions(seeded, client):
    from tests.factories import published_version

    page = client.get("/schools/alsop-high/").content.decode()
    assert '<th scope="row">Links to</th><td></td>' in page
    assert "Document History</caption>" in page
    history = page[page.index("Document History</caption>"):page.index("</table>", page.index("Document History</caption>"))]
    assert re.findall(r'<th scope="row">([^<]*)</th>', history) == ["V1"]
    assert "September 2019" in history and "Joe Pilkington" in history

    code = Code.objects.get(owner__slug="alsop-high")
    published_version(
        code, body=version_of("alsop-high").body, document_version="V2", approved_on=datetime.date(2026, 9, 1),
        revision_note="Reviewed; legal framework updated.", effective_from=datetime.date(2026, 9, 1),
    )
    page = client.get("/schools/alsop-high/versions/2/").content.decode()
    history = page[page.index("Document History</caption>"):page.index("</table>", page.index("Document History</caption>"))]
    assert re.findall(r'<th scope="row">([^<]*)</th>', history) == ["V1", "V2"]
    assert "Reviewed; legal framework updated." in history


@pytest.mark.django_db
def test_the_primary_associations_code_says_plainly_that_it_cannot_be_signed_anywhere(seeded, client):
    page = " ".join(client.get("/schools/halton-primary/").content.decode().split())
    assert "No schools belong to the Halton Association of Primary Headteachers on this portal yet, so this code cannot be signed anywhere." in page
    secondary = " ".join(client.get("/schools/halton-secondary/").content.decode().split())
    assert "cannot be signed anywhere" not in secondary
