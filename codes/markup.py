"""Body text is authored in Markdown and always rendered through a sanitiser.

Only the structure a code of conduct needs survives: headings, paragraphs, lists, emphasis,
links and tables. No script, style, event handler or foreign URL scheme can get through.

Values filled into that Markdown (a carer's or child's name, the school's name) are data, not
markup: fill_placeholders escapes them, so each reads as its literal characters wherever the
filled text is rendered (the signing page, the stored statement, the PDF, the e-mails).
"""

import functools
import re

import markdown
import nh3
from django.utils.safestring import SafeString, mark_safe

EXTENSIONS = ["tables", "sane_lists"]
ALLOWED_TAGS = {
    "h2", "h3", "h4", "p", "ul", "ol", "li", "strong", "em", "a", "br", "blockquote",
    "table", "thead", "tbody", "tr", "th", "td", "hr",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"scope"}, "td": set()}


def render_markdown(text: str) -> SafeString:
    return mark_safe(_rendered(text or ""))


@functools.lru_cache(maxsize=256)
def _rendered(text: str) -> str:
    """Rendering is a pure function of the text, and the same long texts (the version in force,
    its declaration) are rendered on every signing page: each process keeps the last 256."""
    html = markdown.markdown(text, extensions=EXTENSIONS, output_format="html")
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto", "tel"},
        link_rel="noopener noreferrer",
    )
    return clean


# Filling values in.

# What the renderer reads as markup when it stands unescaped, asked of the renderer itself (so
# an extension that adds a character, as tables adds "|", is covered). Most of it is markup
# wherever it stands and always gets a backslash. The rest is markup only where a line begins (a
# list, a quote), or after a character that is always escaped ("![", "]("), or not at all here
# ("{" "}"): it is escaped only where the value begins, so that an ordinary name such as
# "Anne-Marie St. Clair (Jr.)" is stored as written.
ESCAPABLE = "".join(markdown.Markdown(extensions=EXTENSIONS).ESCAPED_CHARS)
_ONLY_AT_LINE_START = set("-+.!(){}>")
ALWAYS_ESCAPED = str.maketrans(
    {char: "\\" + char for char in ESCAPABLE if char not in _ONLY_AT_LINE_START} | {"<": "&lt;"}
)
# "&" only where it would start an entity (as Markdown reads one); a lone "&" Markdown escapes.
ENTITY_START = re.compile(r"&(?=#[0-9]+;|#[xX][0-9a-fA-F]+;|[A-Za-z0-9]+;)")
ORDERED_LIST_START = re.compile(r"^([0-9]+)\.")
LINE_START_ENTITIES = {">": "&gt;", "=": "&#61;"}
# Explicit direction controls (embeddings, overrides, isolates): unclosed, one would turn the
# rest of the statement around on the page and in the PDF.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
_OPENS_ISOLATE, _CLOSES_ISOLATE = "\u2066\u2067\u2068", "\u2069"
FIRST_STRONG_ISOLATE, POP_DIRECTIONAL_ISOLATE = "\u2068", "\u2069"
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
# A line break in a value would start a new line of Markdown (a heading, a list, a paragraph);
# a tab, Markdown widens to spaces. Each becomes one space, as a browser would show it.
BREAKS_AND_TABS = re.compile("[\t\n\v\f\r\x1c-\x1e\x85\u2028\u2029]")


def isolate_direction(value: str) -> str:
    """The value unchanged, or, when it holds direction controls, wrapped in first-strong
    isolates balanced against its own, so none of them reaches the text around it."""
    if not BIDI_CONTROLS.search(value):
        return value
    depth = unmatched_closes = 0
    for char in value:
        if char in _OPENS_ISOLATE:
            depth += 1
        elif char in _CLOSES_ISOLATE:
            if depth:
                depth -= 1
            else:
                unmatched_closes += 1
    return FIRST_STRONG_ISOLATE * (1 + unmatched_closes) + value + POP_DIRECTIONAL_ISOLATE * (1 + depth)


def escape_markdown(value: str) -> str:
    """A value to put into Markdown so that it renders as exactly its own characters: on one line,
    trimmed, escaped, its direction isolated."""
    value = BREAKS_AND_TABS.sub(" ", str(value)).strip()
    value = ENTITY_START.sub("&amp;", value).translate(ALWAYS_ESCAPED)
    return isolate_direction(_escape_line_start(value))


def _escape_line_start(value: str) -> str:
    """The value's first characters escaped as a line's would be: a list item ("-", "+", "1."),
    a quote (">") or a heading's underline ("=", which takes no backslash)."""
    first = value[:1]
    if first in ("-", "+"):
        return "\\" + value
    if first in LINE_START_ENTITIES:
        return LINE_START_ENTITIES[first] + value[1:]
    return ORDERED_LIST_START.sub(r"\1\\.", value)


def fill_placeholders(text: str, values: dict[str, str]) -> str:
    """Replace each {name} in Markdown `text` with values[name] escaped (escape_markdown).

    One pass, so a value that itself reads "{school}" stays as written; a placeholder not in
    `values` stays visible; a brace elsewhere in the text is left alone (it is not str.format).
    """

    def replace(match):
        name = match.group(1)
        return escape_markdown(values[name]) if name in values else match.group(0)

    return PLACEHOLDER.sub(replace, text)
