"""Long unbroken text in a declaration PDF wraps inside the page instead of running off it: a
20,000-character line in a code version, and 200-character names (the most a typed signature
holds), as an import or a carer might give them."""

import functools
import io
import re
import subprocess

import pypdf
import pytest
from fontTools.ttLib import TTFont

from evidence.pdf import declaration_pdf_issue
from tests.declarations.evidence import sign_online
from tests.declarations.factories import family
from tests.factories import CodeFactory, SchoolFactory, published_version

pytestmark = pytest.mark.django_db

LINE = "abcdefghij" * 2000  # 20,000 characters, no space anywhere
TYPED = "Typed" * 40  # 200 characters
SURNAME = "Surname" * 14  # 98 characters
CHILD = "Childname" * 11  # 99 characters
FOOTER = re.compile(r"^(Verification code \S+|Page \d+ of \d+)\s*$")  # on every page, between a text's pages


@functools.cache
def font(bold: bool) -> TTFont:
    """The DejaVu face the PDF uses, found as WeasyPrint finds it (fontconfig)."""
    pattern = "DejaVu Sans:bold" if bold else "DejaVu Sans"
    path = subprocess.run(["fc-match", "-f", "%{file}", pattern], capture_output=True, text=True, check=True).stdout
    return TTFont(path)


def width(text: str, size: float, bold: bool) -> float:
    face = font(bold)
    cmap, metrics = face.getBestCmap(), face["hmtx"].metrics
    units = face["head"].unitsPerEm
    return sum(metrics[cmap.get(ord(ch), ".notdef")][0] for ch in text) * size / units


def text_runs(data: bytes):
    """Every piece of text drawn: (page, text, left edge, right edge, page width), in points."""
    reader = pypdf.PdfReader(io.BytesIO(data))
    for number, page in enumerate(reader.pages, 1):
        page_width = float(page.mediabox.width)
        runs = []

        def visit(text, cm, tm, font_dict, font_size):
            if not text.strip():
                return
            scale = tm[0] * cm[0]
            left = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            bold = "Bold" in str((font_dict or {}).get("/BaseFont", ""))
            runs.append((number, text, left, left + width(text.rstrip("\n"), font_size * scale, bold), page_width))

        page.extract_text(visitor_text=visit)
        yield from runs


def declaration_pdf() -> bytes:
    school = SchoolFactory(name="Whitefield Primary School")
    version = published_version(CodeFactory(owner=school), body=f"## Scope\n\nBefore the line.\n\n{LINE}\n\nAfter the line.")
    carer = family(school, surname=SURNAME, children=((CHILD, "Smith", "3", "3B"),))
    declaration = sign_online(carer, version, typed_name=TYPED)
    with declaration_pdf_issue(declaration_id=declaration.pk).file.open("rb") as file:
        return file.read()


def test_long_unbroken_text_wraps_inside_the_page_and_none_of_it_is_lost():
    """One PDF (breaking 20,000 characters into lines takes WeasyPrint several seconds)."""
    runs = list(text_runs(declaration_pdf()))

    off = [
        f"page {page}: {text[:40]!r}... ({len(text)} characters) from {left:.0f}pt to {right:.0f}pt of {page_width:.0f}pt"
        for page, text, left, right, page_width in runs
        if left < 0 or right > page_width
    ]
    assert not off, "\n".join(off)

    texts = [text for _, text, *_ in runs if not FOOTER.match(text)]
    flat = "".join("".join(text.split()) for text in texts)
    for name, long_text in [("code line", LINE), ("typed name", TYPED), ("surname", SURNAME), ("child's name", CHILD)]:
        assert not any(long_text in text for text in texts), f"the {name} is on one line"
        assert long_text in flat, f"some of the {name} is missing"  # every character, in order
