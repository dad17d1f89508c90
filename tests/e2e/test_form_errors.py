"""Forms sent with mistakes, in a real browser: the error summary at the top of the page links to
each field, each field is described by its error, and the page passes axe-core. A parent's
signing form works with JavaScript switched off."""

import re

import pytest
from playwright.sync_api import expect

from codes.services import code_for_school, version_in_force
from declarations.models import Declaration
from schools.models import Organisation, StaffRole
from tests.declarations.factories import family, issued_link
from tests.e2e.conftest import _new_context
from tests.factories import StaffRoleFactory

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("seeds")]


def whitefield():
    return Organisation.objects.get(slug="whitefield-primary")


def follow_the_summary(page, error, field):
    """The summary names `error`; its link goes to `field`, which says the same error."""
    summary = page.get_by_role("alert").filter(has_text="There is a problem")
    summary.get_by_role("link", name=error).click()
    expect(page).to_have_url(re.compile(f"#{field}$"))
    target = page.locator(f"#{field}")
    expect(target).to_be_in_viewport()
    expect(target).to_have_accessible_description(re.compile(re.escape(error)))


def test_public_forms_sent_with_mistakes_point_to_each_field(page, axe_audit):
    page.goto("/sign/new-link/")
    page.get_by_role("button", name="Send me a new link").click()
    follow_the_summary(page, "Enter your e-mail address", "id_email")
    expect(page).to_have_title(re.compile(r"^Error: "))
    axe_audit.check(page)

    page.goto("/verify/?code=nonsense")
    follow_the_summary(page, "A verification code is 10 letters and digits, like ABCDE-FGH23", "id_code")
    axe_audit.check(page)
    page.get_by_role("button", name="Check the PDF").click()
    follow_the_summary(page, "Choose the PDF file to check", "id_file")
    axe_audit.check(page)
    axe_audit.assert_clean()


def test_a_parent_signs_with_javascript_switched_off(browser, live_server):
    school = whitefield()
    carer = family(school, forename="Mary", surname="O’Brien", email="mary@example.org")
    _, token = issued_link(carer, version_in_force(code_for_school(school)))
    context = _new_context(browser, live_server, java_script_enabled=False)
    page = context.new_page()
    page.goto(f"/sign/t/{token}/")
    page.get_by_label("Your full name").fill("Mary O’Brien")
    page.get_by_role("button", name="Sign the declaration").click()
    expect(page.get_by_role("alert")).to_contain_text("Tick the box to confirm you agree")
    expect(page.get_by_label("Your full name")).to_have_value("Mary O’Brien")
    assert not Declaration.objects.exists()

    page.get_by_label("I agree").check()
    page.get_by_role("button", name="Sign the declaration").click()
    page.wait_for_url("**/sign/done/")
    assert Declaration.objects.get().typed_name == "Mary O’Brien"
    context.close()


def test_staff_forms_sent_with_mistakes_point_to_each_field(page, sign_in, axe_audit):
    school = whitefield()
    carer = family(school, forename="Mary", surname="O’Brien", email="")
    head = StaffRoleFactory(organisation=school, role=StaffRole.Role.HEADTEACHER).user
    sign_in(page, head)

    page.goto(f"/staff/sending/{school.slug}/send/")
    page.get_by_label("A year group").check()
    page.get_by_role("button", name="Continue").click()
    follow_the_summary(page, "Choose a year group, or choose a different option above.", "id_year")
    axe_audit.check(page)

    page.goto(f"/staff/declarations/{school.slug}/carers/{carer.pk}/paper/")
    for child in ("Amy Smith", "Ben Smith"):
        page.get_by_label(child).uncheck()
    page.get_by_role("button", name="Record the paper form").click()
    for error, field in [
        ("Enter the date signed", "id_signed_on"),
        ("Enter the name as the carer wrote it on the form", "id_name_as_written"),
        ("Choose the children named on the form", "id_children"),
        ("Upload a scan or photo of the signed form", "id_scan"),
    ]:
        follow_the_summary(page, error, field)
    axe_audit.check(page)

    page.goto(f"/staff/families/{school.slug}/carers/{carer.pk}/")
    page.get_by_role("button", name="Record the refused request").click()
    expect(page).to_have_title(re.compile(r"^Error: "))
    for error, field in [
        ("Enter the date the request was received.", "id_received_on"),
        ("Give the reason for refusing the request.", "id_reason"),
    ]:
        follow_the_summary(page, error, field)
    axe_audit.check(page)

    page.goto(f"/staff/families/{school.slug}/carers/{carer.pk}/erase/")
    page.get_by_role("button", name="Erase this carer's personal data").click()
    follow_the_summary(page, "Confirm that you understand this cannot be undone.", "id_confirm")
    axe_audit.check(page)

    page.goto(f"/staff/families/{school.slug}/carers/")
    page.get_by_label("Name or e-mail address").fill("o’brien")
    page.get_by_role("button", name="Show carers").click()
    expect(page.get_by_role("table")).to_contain_text("O’Brien, Mary")
    axe_audit.check(page)
    page.goto(f"/staff/families/{school.slug}/audit/")
    page.get_by_label("What was done").select_option(index=1)
    page.get_by_role("button", name="Show", exact=True).click()
    axe_audit.check(page)
    axe_audit.assert_clean()
