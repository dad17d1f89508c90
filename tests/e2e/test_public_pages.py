"""What a parent sees: finding their school, reading its code, printing it, on a phone."""

import datetime
import re

import pytest
from playwright.sync_api import expect

from codes.models import Code
from tests.e2e.accessibility import axe_violations, violation_ids
from tests.factories import published_version

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("seeds")]

TITLE = "Social Media Code of Conduct for Parents and Carers"


def test_find_alsop_and_read_its_code(page):
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Social media codes of conduct for parents and carers"
    )
    page.get_by_label("School or association name").fill("Alsop")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"\?q=Alsop$"))
    results = page.locator("main .org-list li")
    expect(results).to_have_count(1)
    page.get_by_role("link", name="Alsop High School").click()

    expect(page).to_have_url(re.compile(r"/schools/alsop-high/$"))
    expect(page).to_have_title(re.compile(rf"^{TITLE} – Alsop High School"))
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(page.locator(".version-meta")).to_contain_text("In force")

    control = page.locator("section.document-control")
    expect(control.get_by_role("heading", name="Document control")).to_be_visible()
    rows = {
        "Author (name & job title)": "Joe Pilkington, Safeguarding Lead",
        "Version number": "V1",
        "Date approved": "September 2019",
        "Approved by": "Governors",
        "Date of review": "December 2020",
    }
    for header, value in rows.items():
        header_cell = page.get_by_role("rowheader", name=header, exact=True)
        row = control.locator("tr").filter(has=header_cell)
        expect(row.locator("td")).to_have_text(value)

    body = page.locator(".code-body")
    for heading in ["1 Introduction", "2 Legal Framework", "3 Expectations"]:
        expect(body.get_by_role("heading", level=2, name=heading, exact=True)).to_be_visible()
    legal = body.locator("ul").filter(has_text="Defamation Act 2013")
    expect(legal.locator("li")).to_have_count(8)
    expect(legal.locator("li").first).to_have_text("Data Protection Act 1998")
    expect(body).not_to_contain_text("- Defamation Act")  # no raw Markdown left over

    declaration = page.get_by_role("region", name="Parent and carer declaration")
    expect(declaration).to_be_visible()
    expect(declaration).to_contain_text(
        "I [your full name], parent/carer of [your child's name], declare that I have received"
    )
    expect(declaration).to_contain_text("whilst my child is a pupil at Alsop High School")
    expect(page.locator(".fingerprint code")).to_have_text(re.compile(r"^[0-9a-f]{64}$"))


PAGES = [
    "/",
    "/?q=Alsop",
    "/?q=no+such+school",
    "/schools/halton-primary/",
    "/schools/halton-secondary/",
    "/schools/ashley-high-school/",
    "/schools/whitefield-primary/",
    "/schools/peartree-spring-primary/",
    "/schools/alsop-high/",
    "/schools/alsop-high/versions/",
    "/schools/alsop-high/versions/1/",
    "/schools/halton-secondary/versions/1/",
    "/accessibility/",
    "/privacy/",
]


def test_every_public_page_is_accessible(page, axe_audit):
    """One test for all the pages (loading the seeds once), reporting every page with problems."""
    for path in PAGES:
        response = page.goto(path)
        assert response.status == 200, path
        expect(page.get_by_role("heading", level=1)).to_have_count(1)
        axe_audit.check(page)
    axe_audit.assert_clean()


def test_member_school_shows_the_association_code(page):
    page.goto("/schools/ashley-high-school/")
    expect(page.get_by_role("main")).to_contain_text(
        "Ashley High School has adopted the code of conduct of the "
        "Halton Association of Secondary Headteachers."
    )
    expect(page.locator(".code-body")).to_be_visible()


def test_page_not_found_is_helpful_and_accessible(page, assert_accessible):
    response = page.goto("/schools/no-such-school/")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    expect(page.get_by_role("link", name="Find your school")).to_be_visible()
    assert_accessible(page)


def revise_alsop_code():
    """Publish Alsop's version 2, in force since 1 October 2026, so version 1 is superseded."""
    code = Code.objects.get(owner__slug="alsop-high")
    body = code.versions.get(number=1).body + "\n\n- Parents will not share screenshots of chats."
    published_version(
        code, body=body, effective_from=datetime.date(2026, 10, 1), revision_note="Group chats."
    )


def test_superseded_version_points_to_the_one_in_force(page, assert_accessible):
    revise_alsop_code()
    page.goto("/schools/alsop-high/versions/")
    expect(page.get_by_role("row").filter(has_text="Version 2")).to_contain_text("In force")
    page.get_by_role("link", name="Version 1 (V1)").click()
    expect(page.locator(".version-meta")).to_contain_text("Superseded")
    note = page.get_by_role("note")
    expect(note).to_contain_text("This is not the version in force.")
    expect(note.get_by_role("link", name="Read version 2, the version in force")).to_be_visible()
    assert_accessible(page)


def test_printing_leaves_out_the_site_chrome(page):
    page.goto("/schools/alsop-high/")
    expect(page.locator(".site-header")).to_be_visible()
    page.emulate_media(media="print")
    expect(page.locator(".site-header")).to_be_hidden()
    expect(page.locator(".site-footer")).to_be_hidden()
    expect(page.get_by_role("link", name="Earlier versions of this code")).to_be_hidden()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.locator(".code-body")).to_be_visible()
    expect(page.locator(".document-control")).to_be_visible()
    expect(page.locator(".declaration")).to_be_visible()


@pytest.mark.parametrize(
    "path, revised",
    [
        pytest.param("/schools/peartree-spring-primary/", False, id="peartree"),
        pytest.param("/schools/alsop-high/", False, id="alsop"),
        pytest.param("/schools/halton-secondary/", False, id="halton-secondary"),
        pytest.param("/schools/alsop-high/versions/", False, id="alsop-versions"),
        pytest.param("/schools/alsop-high/versions/", True, id="alsop-versions-after-a-revision"),
    ],
)
def test_phone_has_no_horizontal_scrolling(phone, path, revised):
    """Nothing is wider than a 390px phone screen.

    A mobile browser zooms out to fit content wider than the screen, which makes innerWidth grow
    with it, so the page is measured against the viewport it was given, not against innerWidth.
    """
    if revised:  # a second version, so the first one is listed as "Superseded"
        revise_alsop_code()
    phone.goto(path)
    expect(phone.get_by_role("heading", level=1)).to_be_visible()
    screen = phone.viewport_size["width"]
    widths = phone.evaluate("""() => ({
        scroll: document.documentElement.scrollWidth,
        inner: window.innerWidth,
        widest: [...document.querySelectorAll("main *")]
            .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
            .slice(0, 3).map(e => `${e.tagName.toLowerCase()}.${e.className}`),
    })""")
    assert widths["scroll"] <= screen and widths["inner"] <= screen, (
        f"{path} is {widths['scroll']}px wide on a {screen}px phone: parents must scroll sideways. "
        f"Too wide: {widths['widest']}"
    )


def test_keyboard_user_can_skip_to_the_content(page):
    page.goto("/schools/peartree-spring-primary/")
    skip = page.get_by_role("link", name="Skip to main content")
    page.keyboard.press("Tab")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box and box["x"] >= 0 and box["y"] >= 0, f"the focused skip link is off screen: {box}"
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"#main$"))
    expect(page.get_by_role("main")).to_be_focused()


def test_axe_really_runs_under_the_content_security_policy(page):
    """Guards the checks above: axe gets in despite the strict CSP and does find a broken page."""
    response = page.goto("/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert axe_violations(page).violations_count == 0
    page.evaluate("() => document.querySelector('label[for=id_q]').remove()")
    assert "label" in violation_ids(axe_violations(page))
