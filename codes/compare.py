"""What changed between two versions of a code, for people reading on a phone.

Each field is cut into passages (a heading, a paragraph, one list item) and each passage is shown
as rendered text, never as Markdown source. A changed passage is one column: removed words are
struck through (<del>), added words underlined (<ins>), each with words for screen readers, and
the passage is labelled Added, Removed or Changed in words: nothing relies on colour alone.

`Section.hunks` groups the changed passages with one line of the unchanged text either side, for
pages that show only what changed; `Section.passages` is every passage in order.
"""

import difflib
import html
import re
from dataclasses import dataclass, field

import nh3
from django.utils.html import strip_tags
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from codes.markup import render_markdown
from codes.models import CodeVersion

COMPARED_FIELDS = [
    ("title", _("Title")),
    ("body", _("The code")),
    ("declaration_statement", _("Declaration statement")),
    ("covering_letter", _("Covering letter")),
    ("author_name", _("Author")),
    ("author_job_title", _("Author's job title")),
    ("document_version", _("Version number")),
    ("approved_by", _("Approved by")),
    ("approved_on", _("Date approved")),
    ("links_to", _("Links to")),
    ("revision_note", _("Note of revisions")),
    ("effective_from", _("Effective from")),
    ("review_due", _("Review due")),
]
LABELS = {"same": _("Unchanged"), "changed": _("Changed"), "added": _("Added"), "removed": _("Removed")}
CONTEXT_WORDS = 20

# Private-use characters mark where a change starts and ends while the passage goes through the
# Markdown renderer; they become <ins>/<del> once it is rendered and sanitised.
INS_START, INS_END, DEL_START, DEL_END = "\ue000", "\ue001", "\ue002", "\ue003"
MARKERS = re.compile("[\ue000-\ue003]")
# What a passage starts with that makes it a heading or a list item: kept out of the word diff,
# so a marker never stands between "##" and the heading it makes.
BLOCK_PREFIX = re.compile(r"^(#{1,6}\s+|\s*[-*+]\s+|\s*\d+[.)]\s+)")
ORDERED_ITEM = re.compile(r"^\s*(\d+)([.)])\s+")


@dataclass
class Passage:
    kind: str  # "same", "changed", "added", "removed"
    html: SafeString
    text: str  # the rendered words, without markup, for a line of context

    @property
    def label(self):
        return LABELS[self.kind]


@dataclass
class Hunk:
    """Changed passages next to each other, with a line of the unchanged text before and after."""

    passages: list[Passage]
    before: str = ""
    after: str = ""


@dataclass
class Section:
    title: str
    passages: list[Passage] = field(default_factory=list)

    @property
    def changed(self):
        return any(passage.kind != "same" for passage in self.passages)

    @property
    def hunks(self) -> list[Hunk]:
        hunks, current = [], None
        for index, passage in enumerate(self.passages):
            if passage.kind == "same":
                if current is not None:
                    current.after = Truncator(passage.text).words(CONTEXT_WORDS, truncate=" …")
                    current = None
                continue
            if current is None:
                before = ""
                if index and self.passages[index - 1].kind == "same":
                    before = _last_words(self.passages[index - 1].text)
                current = Hunk(passages=[], before=before)
                hunks.append(current)
            current.passages.append(passage)
        return hunks


def _last_words(text: str) -> str:
    words = text.split()
    if len(words) <= CONTEXT_WORDS:
        return text
    return "… " + " ".join(words[-CONTEXT_WORDS:])


def _blocks(text: str) -> list[str]:
    """Split Markdown into blocks: paragraphs, headings and single list items."""
    blocks = []
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    for chunk in re.split(r"\n\s*\n", text.strip()):
        lines = [line.rstrip() for line in chunk.splitlines() if line.strip()]
        buffer = []
        for line in lines:
            if (BLOCK_PREFIX.match(line) and buffer) or (line.startswith("#") and buffer):
                blocks.append("\n".join(buffer))
                buffer = []
            buffer.append(line)
        if buffer:
            blocks.append("\n".join(buffer))
    return blocks


def _split_prefix(block: str) -> tuple[str, str]:
    ordered = ORDERED_ITEM.match(block)
    if ordered:
        # Rendered alone, "3. " would become a list starting at 1: keep its number as text.
        return f"{ordered.group(1)}\\{ordered.group(2)} ", block[ordered.end():]
    prefix = BLOCK_PREFIX.match(block)
    return (prefix.group(0), block[prefix.end():]) if prefix else ("", block)


def _words(text: str) -> list[str]:
    return re.findall(r"\s+|[^\s]+", text)


def _marked(words: list[str], start: str, end: str) -> str:
    """The words with each stretch between line breaks and table cell bars wrapped in markers,
    so a marked stretch never spans two lines or two cells of the rendered passage."""
    out, run = [], []

    def flush():
        if run:
            out.append(start + "".join(run) + end)
            run.clear()

    for word in words:
        if word == "|" or "\n" in word:
            flush()
            out.append(word)
        elif word.isspace() and not run:
            out.append(word)
        else:
            run.append(word)
    # Trailing spaces belong outside the mark.
    trailing = []
    while run and run[-1].isspace():
        trailing.insert(0, run.pop())
    flush()
    return "".join(out + trailing)


def _merged(old: str, new: str) -> str:
    """One text with the removed words and the added words marked, in reading order."""
    a, b = _words(old), _words(new)
    merged = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            merged.append("".join(b[j1:j2]))
            continue
        if i2 > i1:
            merged.append(_marked(a[i1:i2], DEL_START, DEL_END))
            if j2 > j1:
                merged.append(" ")
        if j2 > j1:
            merged.append(_marked(b[j1:j2], INS_START, INS_END))
    return "".join(merged)


def _tags() -> dict[str, str]:
    """What each marker becomes, in the language of the page."""
    hidden = '<span class="visually-hidden">{}</span>'
    return {
        INS_START: "<ins>" + hidden.format(html.escape("[" + str(_("added")) + ": ")),
        INS_END: hidden.format("]") + "</ins>",
        DEL_START: "<del>" + hidden.format(html.escape("[" + str(_("removed")) + ": ")),
        DEL_END: hidden.format("]") + "</del>",
    }


def _render(prefix: str, marked_text: str) -> tuple[SafeString, str]:
    """The passage rendered from Markdown, markers turned into <ins>/<del>; and its plain words."""
    rendered = str(render_markdown(prefix + marked_text))
    plain = html.unescape(strip_tags(MARKERS.sub("", rendered))).strip()
    tags = _tags()
    with_tags = MARKERS.sub(lambda match: tags[match.group(0)], rendered)
    # A second pass through the sanitiser mends any nesting a marker crossed (inside **bold**).
    clean = nh3.clean(
        with_tags,
        tags={
            "h2", "h3", "h4", "p", "ul", "ol", "li", "strong", "em", "a", "br", "blockquote",
            "table", "thead", "tbody", "tr", "th", "td", "hr", "ins", "del", "span",
        },
        attributes={"a": {"href", "title"}, "th": {"scope"}, "span": {"class"}},
        url_schemes={"http", "https", "mailto", "tel"},
        link_rel="noopener noreferrer",
    )
    return mark_safe(clean), plain


def _passage(kind: str, old: str | None, new: str | None) -> Passage:
    if kind == "same":
        prefix, text = _split_prefix(new)
        body = text
    elif kind == "added":
        prefix, text = _split_prefix(new)
        body = _marked(_words(text), INS_START, INS_END)
    elif kind == "removed":
        prefix, text = _split_prefix(old)
        body = _marked(_words(text), DEL_START, DEL_END)
    else:
        old_prefix, old_text = _split_prefix(old)
        prefix, new_text = _split_prefix(new)
        body = _merged(old_text, new_text)
    rendered, plain = _render(prefix, body)
    return Passage(kind, rendered, plain)


def _diff_blocks(old_blocks: list[str], new_blocks: list[str]) -> list[Passage]:
    passages = []
    matcher = difflib.SequenceMatcher(None, old_blocks, new_blocks, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            passages += [_passage("same", None, block) for block in new_blocks[j1:j2]]
            continue
        old_part, new_part = old_blocks[i1:i2], new_blocks[j1:j2]
        paired = min(len(old_part), len(new_part)) if op == "replace" else 0
        for old, new in zip(old_part[:paired], new_part[:paired]):
            passages.append(_passage("changed", old, new))
        passages += [_passage("removed", old, None) for old in old_part[paired:]]
        passages += [_passage("added", None, new) for new in new_part[paired:]]
    return passages


def _as_text(value) -> str:
    if value is None:
        return ""
    if hasattr(value, "strftime"):
        return value.strftime("%-d %B %Y")
    return str(value)


def compare_versions(old: CodeVersion, new: CodeVersion) -> list[Section]:
    """Every compared field as a section of passages; unchanged fields have only 'same' ones."""
    sections = []
    for name, title in COMPARED_FIELDS:
        passages = _diff_blocks(_blocks(_as_text(getattr(old, name))), _blocks(_as_text(getattr(new, name))))
        if passages:
            sections.append(Section(title, passages))
    return sections
