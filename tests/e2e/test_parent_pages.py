"""Every page a parent or carer can reach, checked with axe-core on a phone and at 320 CSS px; the
signing journey done with the keyboard alone; and the whole journey with JavaScript switched off."""

import pytest
from playwright.sync_api import expect

from codes.services import code_for_school, version_in_force
from declarations.models import Declaration, Decline
from schools.models import Organisation
from tests.declarations.factories import family, issued_link

pytestmark = pytest.mark.e2e


def link_for(school, **carer):
    _, token = issued_link(family(school, **carer), version_in_force(code_for_school(school)))
    return f"/sign/t/{token}/"


@pytest.fixture
def whitefield(seeds):
    return Organisation.objects.get(slug="whitefield-primary")


def fits(page, width):
    assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{page.url} scrolls sideways"


@pytest.mark.parametrize("width", [390, 320])
def test_every_parent_page_passes_axe_and_fits_the_screen(whitefield, browser, live_server, axe_audit, width):
    context = browser.new_context(base_url=live_server.url, locale="en-GB", viewport={"width": width, "height": 800})
    context.set_default_timeout(15_000)
    page = context.new_page()

    def check():
        fits(page, width)
        axe_audit.check(page)

    # No session yet, and a link that does not exist.
    page.goto("/sign/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    check()
    page.goto("/sign/t/not-a-real-link/")
    check()

    # Declining, with a message.
    page.goto(link_for(whitefield, forename="Dan", email="dan@example.org"))
    page.wait_for_url("**/sign/")
    check()
    page.get_by_role("link", name="Tell the school, and leave a message").click()
    page.wait_for_url("**/sign/decline/")
    check()
    page.get_by_label("Your message for the school (optional)").fill("We have no social media.")
    page.get_by_role("button", name="Tell the school I do not want to sign").click()
    page.wait_for_url("**/sign/declined/")
    check()
    assert Decline.objects.count() == 1

    # Asking for a new link.
    page.goto("/sign/new-link/")
    check()
    page.get_by_label("Your e-mail address").fill("dan@example.org")
    page.locator("main").get_by_role("button").first.click()
    page.wait_for_url("**/sign/new-link/sent/")
    check()

    # The public pages a parent reads, and the check of a declaration.
    for path in ["/", "/schools/whitefield-primary/", "/schools/alsop-high/", "/schools/halton-primary/",
                 "/schools/whitefield-primary/versions/", "/verify/", "/accessibility/", "/privacy/"]:
        page.goto(path)
        check()
    context.close()
    axe_audit.assert_clean()


def test_a_parent_signs_with_the_keyboard_alone(whitefield, page, axe_audit):
    page.goto(link_for(whitefield, forename="Kim", surname="Key", email="kim@example.org"))
    page.wait_for_url("**/sign/")

    def tab_to(name, limit=300):
        """Press Tab until the control with this accessible name has focus; fail if it never does."""
        for _ in range(limit):
            page.keyboard.press("Tab")
            focused = page.evaluate(
                "() => { const e = document.activeElement; return (e.labels && e.labels[0] ? e.labels[0].innerText : e.innerText || '').trim(); }"
            )
            if focused.startswith(name):
                return
        raise AssertionError(f"Tab never reached {name!r}")

    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.innerText").strip() == "Skip to main content"
    page.keyboard.press("Enter")  # the skip link: focus moves to the main content
    tab_to("Your full name")
    page.keyboard.type("Kim Key")
    tab_to("I agree")
    page.keyboard.press("Space")
    tab_to("Sign the declaration")
    page.keyboard.press("Enter")
    page.wait_for_url("**/sign/done/")
    assert Declaration.objects.get().typed_name == "Kim Key"
    axe_audit.check(page)
    axe_audit.assert_clean()


def test_the_whole_parent_journey_works_with_javascript_off(whitefield, browser, live_server):
    context = browser.new_context(
        base_url=live_server.url, locale="en-GB", viewport={"width": 390, "height": 844}, java_script_enabled=False
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    assert page.evaluate("1") == 1  # Playwright's own evaluate still works; the page's scripts do not run

    page.goto(link_for(whitefield, forename="Nora", surname="Script", email="nora@example.org"))
    page.wait_for_url("**/sign/")
    page.get_by_role("button", name="Sign the declaration").click()  # nothing typed: told what to do
    expect(page.get_by_text("Type your full name to sign").first).to_be_visible()
    assert Declaration.objects.count() == 0
    page.get_by_label("Your full name").fill("Nora Script")
    page.get_by_label("I agree").check()
    page.get_by_role("button", name="Sign the declaration").click()
    page.wait_for_url("**/sign/done/")
    expect(page.get_by_role("heading", level=1)).to_have_text("You have signed the code of conduct")
    assert Declaration.objects.get().typed_name == "Nora Script"

    # A second carer declines, and a third asks for a new link, still without JavaScript.
    page.goto(link_for(whitefield, forename="Otto", surname="Script", email="otto@example.org"))
    page.get_by_role("link", name="Tell the school, and leave a message").click()
    page.get_by_role("button", name="Tell the school I do not want to sign").click()
    page.wait_for_url("**/sign/declined/")
    assert Decline.objects.count() == 1
    page.goto("/sign/new-link/")
    page.get_by_label("Your e-mail address").fill("otto@example.org")
    page.locator("main").get_by_role("button").first.click()
    page.wait_for_url("**/sign/new-link/sent/")
    context.close()
