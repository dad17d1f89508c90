"""Body text is authored in Markdown and always rendered through a sanitiser.

Only the structure a code of conduct needs survives: headings, paragraphs, lists, emphasis,
links and tables. No script, style, event handler or foreign URL scheme can get through.
"""

import functools

import markdown
import nh3
from django.utils.safestring import SafeString, mark_safe

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
    html = markdown.markdown(text, extensions=["tables", "sane_lists"], output_format="html")
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto", "tel"},
        link_rel="noopener noreferrer",
    )
    return clean
