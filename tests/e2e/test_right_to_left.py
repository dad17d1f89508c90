"""An Arabic-reading carer on a phone: the signing page runs right to left, fits the screen, and
passes axe; the school's English code inside it still reads left to right."""

import pytest
from playwright.sync_api import expect

from codes.services import code_for_school, version_in_force
from schools.models import Organisation
from tests.declarations.factories import family, issued_link

pytestmark = pytest.mark.e2e


def test_an_arabic_signing_page_runs_right_to_left_on_a_phone(seeds, phone, axe_audit):
    school = Organisation.objects.get(slug="whitefield-primary")
    version = version_in_force(code_for_school(school))
    carer = family(school, forename="Layla", surname="Haddad", email="layla@example.org")
    carer.language = "ar"
    carer.save()
    _, token = issued_link(carer, version)
    phone.goto(f"/sign/t/{token}/")
    phone.wait_for_url("**/sign/")
    expect(phone.locator("html")).to_have_attribute("dir", "rtl")
    expect(phone.get_by_role("heading", name="وقّع الإقرار")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # nothing pushed off screen
    english = phone.locator(".code-body").first
    assert english.evaluate("el => getComputedStyle(el).direction") == "ltr"
    assert phone.locator("main h2").last.evaluate("el => getComputedStyle(el).direction") == "rtl"
    axe_audit.check(phone)
    axe_audit.assert_clean()
