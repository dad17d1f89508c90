"""A parent who signed version 1 reads what changed in version 2, on a small phone (320 CSS px)."""

import datetime

import pytest
from playwright.sync_api import expect

from codes.services import code_for_school, version_in_force
from declarations import services
from schools.models import Organisation
from tests.declarations.factories import family, issued_link
from tests.factories import published_version

pytestmark = pytest.mark.e2e

NEW_SENTENCE = "Parents should also not share screenshots of class group chats."


@pytest.fixture
def small_phone(browser, live_server):
    context = browser.new_context(
        base_url=live_server.url, locale="en-GB", viewport={"width": 320, "height": 640}, is_mobile=True, has_touch=True
    )
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def signed_then_asked_again(school):
    code = code_for_school(school)
    first = version_in_force(code)
    carer = family(school, forename="Mary", surname="Smith", email="mary@example.org")
    signing_request, _ = issued_link(carer, first)
    services.declaration_sign(
        signing_request=signing_request, version_id_shown=first.pk, typed_name="Mary Smith", agreed=True, ip=None,
        user_agent="",
    )
    paragraphs = first.body.split("\n\n")
    # One sentence added to the last paragraph of the long seed code: the single change.
    paragraphs[-1] = paragraphs[-1] + " " + NEW_SENTENCE
    second = published_version(
        code, body="\n\n".join(paragraphs), revision_note="Screenshots of group chats.",
        effective_from=datetime.date.today(),
    )
    _, token = issued_link(carer, second)
    return first, second, token


def test_a_parent_reads_only_what_changed_rendered_on_a_320px_phone(seeds, small_phone, axe_audit):
    school = Organisation.objects.get(slug="whitefield-primary")
    first, second, token = signed_then_asked_again(school)

    small_phone.goto(f"/sign/t/{token}/changes/")
    small_phone.wait_for_url("**/sign/changes/")
    expect(small_phone.get_by_role("heading", level=1)).to_have_text("What has changed since you signed version 1")
    the_code = small_phone.get_by_role("region", name="The code", exact=True)
    change = the_code.locator(".passage-changed")
    expect(change).to_have_count(1)
    expect(change.locator(".change-label")).to_have_text("Changed")
    expect(change.locator("ins")).to_contain_text(NEW_SENTENCE)
    # Rendered text, never Markdown source; the unchanged passages stay out of the way.
    main_text = small_phone.locator("main").inner_text()
    assert "##" not in main_text and "\n- " not in main_text
    assert the_code.locator(".passage-same").count() == 0
    assert small_phone.evaluate("document.documentElement.scrollWidth") <= 320, "nothing scrolls sideways"
    assert small_phone.evaluate("document.documentElement.scrollHeight") < 3000
    axe_audit.check(small_phone)

    small_phone.get_by_role("link", name="Read the whole of version 2").click()
    expect(small_phone.get_by_role("heading", level=1)).to_be_visible()
    assert NEW_SENTENCE in small_phone.locator("main").inner_text()
    axe_audit.assert_clean()
