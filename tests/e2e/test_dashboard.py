"""Completion at a glance in the browser: a headteacher's school page and an association admin's
member schools, from the staff dashboard, with axe-core on every page."""

import os
import re

import pytest
from playwright.sync_api import expect

from codes.services import code_for_school, version_in_force
from declarations import services
from schools.models import Organisation, StaffRole
from tests.declarations.factories import family, issued_link
from tests.factories import StaffRoleFactory

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("seeds")]


def carers_at(slug, how_many):
    """`how_many` carers at the school: the first signs online, the second declines, the rest are
    outstanding (every fourth with no e-mail address)."""
    school = Organisation.objects.get(slug=slug)
    version = version_in_force(code_for_school(school))
    for n in range(how_many):
        carer = family(
            school,
            forename=f"Carer{n}",
            surname="Example",
            email="" if n % 4 == 3 else f"carer{n}.{slug}@example.org",
            children=((f"Child{n}", "Example", ["R", "3", "10"][n % 3], f"{['R', '3', '10'][n % 3]}{'AB'[n % 2]}"),),
        )
        if n == 0:
            services.declaration_sign(
                signing_request=issued_link(carer, version)[0], version_id_shown=version.pk,
                typed_name=carer.full_name, agreed=True, ip=None, user_agent="",
            )
        elif n == 1:
            services.declaration_decline(
                signing_request=issued_link(carer, version)[0], version_id_shown=version.pk,
                message="", ip=None, user_agent="",
            )


@pytest.fixture
def csp_errors(page):
    """Messages the browser logs when the Content Security Policy refuses something."""
    errors = []
    page.on("console", lambda message: errors.append(message.text) if "Content Security Policy" in message.text else None)
    return errors


def screenshot(page, name):
    """Saved only when DASHBOARD_SCREENSHOTS names a folder: for a person to look at the chart."""
    folder = os.environ.get("DASHBOARD_SCREENSHOTS")
    if folder:
        page.screenshot(path=os.path.join(folder, f"{name}.png"), full_page=True)


def test_headteacher_sees_completion_for_their_school(page, sign_in, axe_audit, csp_errors):
    school = Organisation.objects.get(slug="whitefield-primary")
    head = StaffRoleFactory(organisation=school, role=StaffRole.Role.HEADTEACHER).user
    carers_at("whitefield-primary", 6)

    sign_in(page, head, audit=axe_audit)
    page.get_by_role("link", name="Completion at Whitefield Primary School").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Completion")
    expect(page.locator("#overall")).to_contain_text("6 carers asked to sign")
    expect(page.locator("#overall")).to_contain_text("1 signed (17%): 1 online, 0 on paper")
    chart = page.get_by_role("img", name="Carers who have signed version 1")
    expect(chart).to_be_visible()
    expect(chart).to_have_accessible_description(re.compile(r"^1 of 6 carers asked had signed by .* \(17%\)\."))
    page.get_by_text("The same figures as a table").click()
    expect(page.get_by_role("table", name="Carers who signed version 1, by day")).to_be_visible()
    expect(page.get_by_role("table", name="Carers of pupils in each year group")).to_contain_text("Reception")
    axe_audit.check(page)
    screenshot(page, "school")
    assert csp_errors == []
    axe_audit.assert_clean()


def test_association_admin_sees_member_schools_side_by_side(page, sign_in, axe_audit, csp_errors):
    association = Organisation.objects.get(slug="halton-secondary")
    admin = StaffRoleFactory(organisation=association, role=StaffRole.Role.ASSOCIATION_ADMIN).user
    carers_at("ashley-high-school", 4)

    sign_in(page, admin, audit=axe_audit)
    page.get_by_role("link", name="Completion across member schools of Halton Association of Secondary Headteachers").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Completion across member schools")
    table = page.get_by_role("table", name="Member schools")
    expect(table.get_by_role("row")).to_have_count(1 + 14 + 1)
    expect(table.get_by_role("row", name="Ashley High School")).to_contain_text("Version 1 of the shared code")
    axe_audit.check(page)
    screenshot(page, "association")

    table.get_by_role("link", name="Ashley High School").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Completion")
    expect(page.locator("#overall")).to_contain_text("4 carers asked to sign")
    expect(page.get_by_role("link", name="See who has signed, carer by carer")).to_have_count(0)
    axe_audit.check(page)
    assert csp_errors == []
    axe_audit.assert_clean()
