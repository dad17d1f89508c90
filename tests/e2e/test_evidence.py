"""Evidence out, in a real browser with axe on every page: anyone checks a declaration at
/verify/ (by its code, or by uploading the PDF); office staff download a ZIP of PDFs."""

import re

import pytest
from playwright.sync_api import expect

from evidence import zip_exports
from evidence.pdf import declaration_pdf_issue
from schools.models import Organisation, StaffRole
from tests.declarations.evidence import sign_online
from tests.declarations.factories import family
from tests.factories import StaffRoleFactory

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("seeds")]


@pytest.fixture
def whitefield_pdf(seeds, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    school = Organisation.objects.get(slug="whitefield-primary")
    from codes.services import code_for_school, version_in_force

    version = version_in_force(code_for_school(school))
    carer = family(school, forename="Mary", surname="O’Brien", email="mary@example.org")
    record = declaration_pdf_issue(declaration_id=sign_online(carer, version).pk)
    path = tmp_path / "declaration.pdf"
    with record.file.open("rb") as file:
        path.write_bytes(file.read())
    return school, record, path


def test_anyone_checks_a_declaration_by_code_and_by_upload(page, whitefield_pdf, axe_audit):
    school, record, path = whitefield_pdf
    page.goto("/verify/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Check a declaration")
    axe_audit.check(page)

    page.get_by_label("Verification code").fill(record.code_display.lower())
    page.get_by_role("button", name="Check the code").click()
    expect(page.get_by_role("heading", name=re.compile(r"a declaration recorded by the portal"))).to_be_visible()
    expect(page.locator("main")).to_contain_text("Whitefield Primary School")
    expect(page.locator("main")).to_contain_text("M. O.")
    expect(page.locator("main")).not_to_contain_text("Mary")
    axe_audit.check(page)

    page.get_by_label("The declaration PDF").set_input_files(str(path))
    page.get_by_role("button", name="Check the PDF").click()
    expect(page.get_by_role("heading", name="Valid: an unaltered declaration issued by this portal")).to_be_visible()
    axe_audit.check(page)

    changed = path.with_name("changed.pdf")
    data = bytearray(path.read_bytes())
    data[data.index(b"\n") + 2] ^= 1
    changed.write_bytes(bytes(data))
    page.get_by_label("The declaration PDF").set_input_files(str(changed))
    page.get_by_role("button", name="Check the PDF").click()
    expect(page.get_by_role("heading", name="Not valid: do not rely on this file", exact=True)).to_be_visible()
    expect(page.locator("main")).to_contain_text("The PDF's seal is broken")
    axe_audit.check(page)
    axe_audit.assert_clean()


def test_office_staff_ask_for_a_zip_and_download_it(page, whitefield_pdf, sign_in, axe_audit):
    school, _, _ = whitefield_pdf
    office = StaffRoleFactory(organisation=school, role=StaffRole.Role.OFFICE).user
    sign_in(page, office)
    page.goto(f"/staff/declarations/{school.slug}/")
    page.get_by_role("link", name="declarations as PDFs (ZIP)").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Declarations: PDFs and registers")
    axe_audit.check(page)

    page.get_by_label("Version").select_option("1")
    page.get_by_role("button", name="Make the ZIP").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("ZIP of declarations")
    expect(page.get_by_role("status")).to_contain_text("Waiting to start")
    axe_audit.check(page)

    export = school.exports.get()
    zip_exports.export_build(export_id=export.pk)  # what the worker does
    page.get_by_role("link", name="Refresh now").click()
    expect(page.get_by_role("status")).to_contain_text("Ready")
    axe_audit.check(page)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the ZIP").click()
    assert download.value.suggested_filename.startswith("declarations-whitefield-primary-")
    axe_audit.assert_clean()
