"""Side-by-side comparison of two versions of a code, for people.

Changes are marked with <del> and <ins> (struck through and underlined, plus words for screen
readers), and each row says in words whether it was added, removed or changed: nothing relies on
colour alone.
"""

import difflib
import re
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

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


@dataclass
class Row:
    kind: str  # "same", "changed", "added", "removed"
    old: SafeString
    new: SafeString

    @property
    def label(self):
        return {"same": _("Unchanged"), "changed": _("Changed"), "added": _("Added"), "removed": _("Removed")}[self.kind]


@dataclass
class Section:
    title: str
    rows: list[Row]

    @property
    def changed(self):
        return any(row.kind != "same" for row in self.rows)


def _blocks(text: str) -> list[str]:
    """Split Markdown into blocks: paragraphs, headings and single list items."""
    blocks = []
    for chunk in re.split(r"\n\s*\n", (text or "").strip()):
        lines = [line.rstrip() for line in chunk.splitlines() if line.strip()]
        buffer = []
        for line in lines:
            if re.match(r"^\s*([-*+]|\d+[.)])\s+", line) and buffer:
                blocks.append("\n".join(buffer))
                buffer = []
            buffer.append(line)
        if buffer:
            blocks.append("\n".join(buffer))
    return blocks


def _words(block: str) -> list[str]:
    return re.findall(r"\s+|[^\s]+", block)


def _mark(tag: str, words: list[str]) -> str:
    spoken = "removed" if tag == "del" else "added"
    return f'<{tag}><span class="visually-hidden">[{spoken}: </span>{escape("".join(words))}<span class="visually-hidden">]</span></{tag}>'


def _word_diff(old: str, new: str) -> tuple[str, str]:
    a, b = _words(old), _words(new)
    old_html, new_html = [], []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            old_html.append(escape("".join(a[i1:i2])))
            new_html.append(escape("".join(b[j1:j2])))
        else:
            if i2 > i1:
                old_html.append(_mark("del", a[i1:i2]))
            if j2 > j1:
                new_html.append(_mark("ins", b[j1:j2]))
    return "".join(old_html), "".join(new_html)


def _diff_blocks(old_blocks: list[str], new_blocks: list[str]) -> list[Row]:
    rows = []
    matcher = difflib.SequenceMatcher(None, old_blocks, new_blocks, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            rows += [Row("same", escape(b), escape(b)) for b in old_blocks[i1:i2]]
            continue
        old_part, new_part = old_blocks[i1:i2], new_blocks[j1:j2]
        paired = min(len(old_part), len(new_part)) if op == "replace" else 0
        for old, new in zip(old_part[:paired], new_part[:paired]):
            old_html, new_html = _word_diff(old, new)
            rows.append(Row("changed", mark_safe(old_html), mark_safe(new_html)))
        for old in old_part[paired:]:
            rows.append(Row("removed", mark_safe(_mark("del", [old])), mark_safe("")))
        for new in new_part[paired:]:
            rows.append(Row("added", mark_safe(""), mark_safe(_mark("ins", [new]))))
    return rows


def _as_text(value) -> str:
    if value is None:
        return ""
    if hasattr(value, "strftime"):
        return value.strftime("%-d %B %Y")
    return str(value)


def compare_versions(old: CodeVersion, new: CodeVersion) -> list[Section]:
    """Every compared field as a section of rows; unchanged fields have only 'same' rows."""
    sections = []
    for field, title in COMPARED_FIELDS:
        rows = _diff_blocks(_blocks(_as_text(getattr(old, field))), _blocks(_as_text(getattr(new, field))))
        if rows:
            sections.append(Section(title, rows))
    return sections
