"""What changed between two versions: rendered text, only the changed passages, marked in words."""

import datetime

import pytest
from django.template.loader import render_to_string

from codes.compare import compare_versions
from codes.models import CodeVersion

ELEVEN_POINTS = "\n".join(f"- Point number {n} about social media" for n in range(1, 12))
OLD_BODY = f"## Statement of intent\n\nWe value **kind** words.\n\n{ELEVEN_POINTS}\n\n## Photos\n\nDo not post photos of pupils."
NEW_BODY = OLD_BODY.replace("Point number 7 about social media", "Point number 7 about social media and messaging apps")


def version(number, body, **fields) -> CodeVersion:
    return CodeVersion(number=number, title="Code", body=body, declaration_statement="I agree.", **fields)


def the_code(old_body=OLD_BODY, new_body=NEW_BODY):
    (section,) = [s for s in compare_versions(version(1, old_body), version(2, new_body)) if s.changed]
    return section


def test_only_the_changed_passage_is_shown_with_a_line_of_context_either_side():
    (hunk,) = the_code().hunks
    (passage,) = hunk.passages
    assert passage.kind == "changed" and str(passage.label) == "Changed"
    assert hunk.before == "Point number 6 about social media"
    assert hunk.after == "Point number 8 about social media"


def test_passages_are_rendered_never_markdown_source():
    section = the_code()
    heading, intro = section.passages[0], section.passages[1]
    assert heading.html.startswith("<h2>") and "##" not in heading.html
    assert "<strong>kind</strong>" in intro.html
    (passage,) = section.hunks[0].passages
    assert passage.html.startswith("<ul>\n<li>Point number 7") and "- Point" not in passage.html
    assert '<ins><span class="visually-hidden">[added: </span>and messaging apps<span class="visually-hidden">]</span></ins>' in passage.html


def test_removed_and_added_words_read_in_order_in_one_column():
    section = the_code("We ask parents to be polite.", "We ask carers to be polite.")
    (passage,) = section.hunks[0].passages
    assert passage.html == (
        '<p>We ask <del><span class="visually-hidden">[removed: </span>parents<span class="visually-hidden">]</span></del> '
        '<ins><span class="visually-hidden">[added: </span>carers<span class="visually-hidden">]</span></ins> to be polite.</p>'
    )


def test_added_and_removed_passages_are_labelled_in_words():
    section = the_code("## Photos\n\nOne.\n\nTwo.", "## Photos\n\nOne.\n\nThree is new.\n\nTwo.")
    (hunk,) = section.hunks
    assert [str(p.label) for p in hunk.passages] == ["Added"]
    assert hunk.passages[0].html.startswith("<p><ins>")
    section = the_code("One.\n\nGone now.", "One.")
    assert [str(p.label) for p in section.hunks[0].passages] == ["Removed"]
    assert section.hunks[0].before == "One." and section.hunks[0].after == ""


def test_a_numbered_item_keeps_its_number_and_a_change_inside_bold_stays_well_formed():
    section = the_code("3. Be **very kind** online", "3. Be **very polite** online")
    html = section.hunks[0].passages[0].html
    assert html.startswith("<p>3. Be <strong>very")
    assert html.count("<strong>") == html.count("</strong>")


def test_windows_line_endings_split_passages_as_unix_ones_do():
    section = the_code("## Heading\r\n\r\nOne.\r\n\r\nTwo.", "## Heading\n\nOne.\n\nTwo, changed.")
    assert [p.kind for p in section.passages] == ["same", "same", "changed"]


def test_markup_in_a_passage_is_sanitised():
    section = the_code("Plain.", "Plain. <script>alert(1)</script> <a href=\"javascript:x\">x</a>")
    html = section.hunks[0].passages[0].html
    assert "<script" not in html and "javascript:" not in html


def test_the_page_fragment_shows_the_change_and_not_the_unchanged_points():
    old, new = version(1, OLD_BODY), version(2, NEW_BODY, effective_from=datetime.date(2026, 11, 22))
    page = render_to_string("partials/changes.html", {"sections": compare_versions(old, new)})
    assert "messaging apps" in page
    assert "Point number 2 about" not in page and "Statement of intent" not in page
    assert "Effective from" in page and "22 November 2026" in page
    everything = render_to_string("partials/changes.html", {"sections": compare_versions(old, new), "show_all": True})
    assert "Point number 2 about" in everything and "Statement of intent" in everything


@pytest.mark.parametrize("body", ["", "One paragraph only."])
def test_identical_texts_have_no_changes(body):
    assert not any(s.changed for s in compare_versions(version(1, body), version(2, body)))
