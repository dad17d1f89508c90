"""Focus that a parent can see, and pages that fit a 320 CSS px screen (WCAG 2.4.11/2.4.13, 1.4.10)."""

import re

import pytest

from codes.services import code_for_school, version_in_force
from schools.models import Organisation
from tests.declarations.factories import family, issued_link

pytestmark = pytest.mark.e2e

# The indicator's colours and width, as the browser computed them for the focused element.
FOCUS_STYLE = """() => {
  const style = getComputedStyle(document.activeElement);
  return {outlineStyle: style.outlineStyle, outlineWidth: style.outlineWidth, outlineColor: style.outlineColor,
          boxShadow: style.boxShadow, tag: document.activeElement.tagName, type: document.activeElement.type || ''};
}"""


def _luminance(rgb):
    def channel(c):
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast_on_white(colour: str) -> float:
    parts = [float(p) for p in re.findall(r"[\d.]+", colour)]
    r, g, b = parts[:3]
    alpha = parts[3] if len(parts) > 3 else 1.0
    blended = [alpha * c + (1 - alpha) * 255 for c in (r, g, b)]
    return (1.05) / (_luminance(blended) + 0.05)


def indicator_contrast(style) -> float:
    """The best contrast, against the white page, of any part of the focus indicator at least 2px wide."""
    contrasts = [1.0]
    if style["outlineStyle"] != "none" and float(style["outlineWidth"].rstrip("px")) >= 2:
        contrasts.append(_contrast_on_white(style["outlineColor"]))
    for colour, spread in re.findall(r"(rgba?\([^)]*\)) 0px 0px 0px ([\d.]+)px", style["boxShadow"]):
        outline = float(style["outlineWidth"].rstrip("px")) if style["outlineStyle"] != "none" else 0
        if float(spread) - outline >= 2:
            contrasts.append(_contrast_on_white(colour))
    return max(contrasts)


def test_the_name_field_the_tick_box_and_the_button_show_focus_at_3_to_1(seeds, page):
    school = Organisation.objects.get(slug="whitefield-primary")
    carer = family(school)
    _, token = issued_link(carer, version_in_force(code_for_school(school)))
    page.goto(f"/sign/t/{token}/")
    page.wait_for_url("**/sign/")

    page.get_by_label("Your full name").focus()
    seen = []
    for _ in range(3):  # the name field, then Tab to the tick box, then Tab to the button
        style = page.evaluate(FOCUS_STYLE)
        seen.append((style["tag"], style["type"]))
        assert indicator_contrast(style) >= 3, f"focus on {style['tag']} {style['type']} is too faint: {style}"
        page.keyboard.press("Tab")
    assert seen == [("INPUT", "text"), ("INPUT", "checkbox"), ("BUTTON", "submit")]
