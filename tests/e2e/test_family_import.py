"""Office staff import their school's export in the browser: upload, preview, confirm."""

from pathlib import Path

import pytest

from schools.models import Organisation, Pupil, StaffRole
from tests.factories import StaffRoleFactory

pytestmark = pytest.mark.e2e

FILES = Path(__file__).resolve().parent.parent / "schools" / "files"


@pytest.fixture
def office(seeds):
    school = Organisation.objects.get(slug="whitefield-primary")
    return StaffRoleFactory(organisation=school, role=StaffRole.Role.OFFICE).user


def test_office_staff_upload_preview_and_confirm_an_export(page, office, sign_in, axe_audit):
    sign_in(page, office, audit=axe_audit)
    page.get_by_role("link", name="Pupils and carers at Whitefield Primary School").click()
    axe_audit.check(page)
    page.goto("/staff/families/whitefield-primary/import/")
    axe_audit.check(page)

    # A file with bad rows: every problem is listed, and there is nothing to confirm.
    page.get_by_label("Export file").set_input_files(str(FILES / "bad_rows.csv"))
    page.get_by_role("button", name="Upload and preview").click()
    page.get_by_role("heading", name="bad_rows.csv cannot be imported").wait_for()
    problems = page.get_by_role("table", name="Rows with problems")
    assert problems.get_by_role("row").count() > 2, "every bad row is listed with its line"
    assert problems.get_by_role("rowheader", name="3", exact=True).is_visible()
    assert page.get_by_role("button", name="Import these changes").count() == 0
    axe_audit.check(page)
    assert Pupil.objects.count() == 0

    page.goto("/staff/families/whitefield-primary/import/")
    page.get_by_label("Export file").set_input_files(str(FILES / "sims_windows_1252.csv"))
    page.get_by_role("button", name="Upload and preview").click()
    page.get_by_role("heading", name="Check what sims_windows_1252.csv will change").wait_for()
    axe_audit.check(page)
    assert Pupil.objects.count() == 0, "a preview imports nothing"

    page.get_by_role("button", name="Import these changes").click()
    page.get_by_role("heading", name="sims_windows_1252.csv has been imported").wait_for()
    axe_audit.check(page)
    assert Pupil.objects.filter(school__slug="whitefield-primary").count() > 0

    page.goto("/staff/families/whitefield-primary/pupils/")
    axe_audit.check(page)
    axe_audit.assert_clean()
