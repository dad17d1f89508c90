import re
from html import unescape

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from codes.markup import fill_placeholders, render_markdown
from codes.models import CodeVersion
from codes.services import declaration_text


def test_headings_paragraphs_and_bullets_render():
    html = render_markdown("## Legal framework\n\nThis policy has due regard.\n\n- Data Protection Act 2018\n- Defamation Act 2013")
    assert "<h2>Legal framework</h2>" in html
    assert "<li>Data Protection Act 2018</li>" in html


def test_script_and_event_handlers_cannot_get_in():
    html = render_markdown(
        '<script>alert(1)</script>\n\n<img src=x onerror="alert(2)">\n\n<a href="javascript:alert(3)" onclick="x()">link</a>'
    )
    assert "<script" not in html and "onerror" not in html and "onclick" not in html
    assert "javascript:" not in html and "<img" not in html


# Values filled in are text, whatever they hold and wherever the placeholder stands.

PIECES = [
    *"ab Z1.-+*_`\\[](){}<>!#|&;=:~^\"'/@\t",
    "&amp;", "&#", "&#x41;", "http://", "é", "\u202e", "\u2066", "\u2069", "  ", "    ", "\n", "\r\n",
    "\u2028", "1.", "12.", "===", "---", "***", "<b>", "](", "![", "&copy", "&copy;", "&#x;", "\U0001f308",
]
PLACES = [
    "I {name}, parent of Amy.",
    "{name}",
    "A paragraph\n{name}",
    "A paragraph\n\n{name}\n\nAnother",
    "- one\n- two {name}",
    "| a | b |\n|---|---|\n| {name} | x |",
    "**Bold** {name} *it*",
]
DIRECTION_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
LINE_BREAKS_AND_TABS = re.compile("[\t\n\v\f\r\x1c-\x1e\x85\u2028\u2029]")


def tags(fragment) -> list[str]:
    return re.findall(r"<(\w+)", str(fragment))


def text(fragment) -> str:
    return unescape(re.sub(r"<[^>]+>", "", str(fragment)))


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(value=st.lists(st.sampled_from(PIECES), min_size=1, max_size=24).map("".join), place=st.sampled_from(PLACES))
def test_a_value_filled_in_shows_as_exactly_its_characters_and_adds_no_markup(value, place):
    # On one line (a line break or tab shows as a space) and trimmed, character for character;
    # inside an isolate when it carries direction controls, so they stop where it ends.
    as_written = LINE_BREAKS_AND_TABS.sub(" ", value).strip()
    assume(as_written)
    filled = render_markdown(fill_placeholders(place, {"name": value}))
    plain = render_markdown(fill_placeholders(place, {"name": "VALUE"}))
    assert tags(filled) == tags(plain)
    before, after = text(plain).split("VALUE")
    shown = text(filled)
    assert shown.startswith(before) and shown.endswith(after)
    middle = shown[len(before) : len(shown) - len(after)]
    if DIRECTION_CONTROLS.search(value):
        assert re.fullmatch(f"\u2068+{re.escape(as_written)}\u2069+", middle)
    else:
        assert middle == as_written


def test_an_ordinary_name_is_stored_as_written():
    for name in ("Anne-Marie St. Clair (Jr.)", "Mary O'Brien", "St Peter & St Paul C.E. Primary School"):
        assert fill_placeholders("I {carer}.", {"carer": name}) == f"I {name}."


def test_a_name_that_reads_like_a_placeholder_is_not_filled_in_again():
    version = CodeVersion(declaration_statement="I {carer}, parent/carer of {children}, at {school} ({term}).")
    filled = declaration_text(version, school_name="Whitefield", carer="{children} {school}", children="Amy")
    assert text(render_markdown(filled)) == "I {children} {school}, parent/carer of Amy, at Whitefield ({term})."
