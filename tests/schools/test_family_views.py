"""The families pages: web import (upload → preview → confirm), browsing pupils and carers, and
who may see any of it (every view against every role)."""

import datetime
import html
import io
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import Workbook

from schools import services
from schools.models import AuditEvent, Carer, Pupil, PupilCarer, StaffRole
from tests.factories import StaffRoleFactory, UserFactory
from tests.schools import hostile_files
from tests.schools.factories import CarerFactory, PupilCarerFactory, PupilFactory

pytestmark = pytest.mark.django_db

FILES = Path(__file__).parent / "files"
HEADER = "Adno,Legal Surname,Legal Forename,Year,Reg,Contact Forename,Contact Surname,Relationship,Parental Responsibility,Primary Email,Priority"


def csv_file(*rows, header=HEADER, name="export.csv"):
    data = ("\r\n".join([header, *rows]) + "\r\n").encode("utf-8-sig")
    upload = io.BytesIO(data)
    upload.name = name
    return upload


ONE_FAMILY = csv_file(
    "001001,O'Brien,Aoife,Year 3,3B,Mary,O'Brien,Mother,Yes,mary@example.org,1",
    "001002,O'Brien,Ciarán,Year 5,5A,Mary,O'Brien,Mother,Yes,mary@example.org,1",
    "001002,O'Brien,Ciarán,Year 5,5A,Patrick,O'Brien,Father,Yes,,2",
).getvalue()


def page_text(response) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def stored_uploads(media) -> list[Path]:
    folder = Path(media) / "family-imports"
    return sorted(folder.iterdir()) if folder.exists() else []


@pytest.fixture
def office(school):
    return StaffRoleFactory(organisation=school, role=StaffRole.Role.OFFICE).user


@pytest.fixture
def as_head(client, headteacher, verified_client):
    verified_client(client, headteacher)
    return client


@pytest.fixture
def as_office(client, office, verified_client):
    verified_client(client, office)
    return client


def url(name, school, **kwargs):
    """A families page by its name, or another app's page by its namespaced name."""
    return reverse(name if ":" in name else f"families:{name}", kwargs={"school_slug": school.slug, **kwargs})


def upload(client, school, data=ONE_FAMILY, name="export.csv"):
    file = io.BytesIO(data)
    file.name = name
    return client.post(url("import_upload", school), {"file": file})


def confirm(client, school):
    preview = client.get(url("import_preview", school))
    changes = preview.context["plan"].changes_sha256
    return client.post(url("import_confirm", school), {"changes_sha256": changes})


# ---------------------------------------------------------------------------------------------
# Who may see what: every view, every role


@pytest.fixture
def family(school):
    link = PupilCarerFactory(pupil__school=school)
    return link.pupil, link.carer


ROLES = ["anonymous", "headteacher", "office", "other_school_headteacher", "other_school_office",
         "association_admin", "superuser_without_role"]

# (url name, method, needs a pupil or carer, roles allowed)
VIEWS = [
    ("pupils", "get", None, {"headteacher", "office"}),
    ("pupil", "get", "pupil", {"headteacher", "office"}),
    ("carers", "get", None, {"headteacher", "office"}),
    ("carer", "get", "carer", {"headteacher", "office"}),
    ("exports:carer_subject_access", "post", "carer", {"headteacher", "office"}),
    ("carer_erase", "get", "carer", {"headteacher"}),
    ("carer_erase", "post", "carer", {"headteacher"}),
    ("carer_refuse_erasure", "post", "carer", {"headteacher"}),
    ("import_upload", "get", None, {"headteacher", "office"}),
    ("import_upload", "post", None, {"headteacher", "office"}),
    ("import_preview", "get", None, {"headteacher", "office"}),
    ("import_confirm", "post", None, {"headteacher", "office"}),
    ("import_cancel", "post", None, {"headteacher", "office"}),
    ("import_result", "get", None, {"headteacher", "office"}),
    ("audit_log", "get", None, {"headteacher"}),
]


def user_in_role(role, school, other_school, association):
    if role == "anonymous":
        return None
    if role == "superuser_without_role":
        return UserFactory(is_superuser=True, is_staff=True)
    if role == "association_admin":
        school.association = association
        school.save()
        return StaffRoleFactory(organisation=association, role=StaffRole.Role.ASSOCIATION_ADMIN).user
    organisation = other_school if role.startswith("other_school") else school
    kind = StaffRole.Role.OFFICE if role.endswith("office") else StaffRole.Role.HEADTEACHER
    return StaffRoleFactory(organisation=organisation, role=kind).user


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("name", "method", "needs", "allowed"), VIEWS, ids=[f"{v[1]}-{v[0]}" for v in VIEWS])
def test_every_view_answers_each_role_as_it_should(
    client, verified_client, school, other_school, association, family, role, name, method, needs, allowed
):
    pupil, carer = family
    user = user_in_role(role, school, other_school, association)
    if user is not None:
        verified_client(client, user)
    kwargs = {"pupil": {"pupil_id": pupil.pk}, "carer": {"carer_id": carer.pk}}.get(needs, {})
    data = {"reason": "Request ref SAR-12", "confirm": "on"} if name == "carer_erase" else {}
    if name == "carer_refuse_erasure":
        data = {"received_on": "2026-11-03", "reason": "Request ref SAR-12: the school must keep it"}
    if name == "import_upload" and method == "post":
        data = {"file": csv_file("001001,O'Brien,Aoife,Year 3,3B,Mary,O'Brien,Mother,Yes,m@example.org,1")}
    events_before = AuditEvent.objects.count()

    response = getattr(client, method)(url(name, school, **kwargs), data)

    if role == "anonymous":
        assert response.status_code == 302 and response.url.startswith(reverse("staff:login"))
    elif role in allowed:
        assert response.status_code in {200, 302}
        if response.status_code == 302:
            assert not response.url.startswith(reverse("staff:login"))
    else:
        assert response.status_code == 404
        assert AuditEvent.objects.count() == events_before
        carer.refresh_from_db()
        assert carer.erased_at is None
        assert not stored_uploads(default_storage.location)


def test_office_staff_of_another_school_get_404_for_a_carer(client, verified_client, school, other_school, family):
    _, carer = family
    outsider = StaffRoleFactory(organisation=other_school, role=StaffRole.Role.OFFICE).user
    verified_client(client, outsider)
    # Neither under the carer's own school, nor smuggled in under the outsider's school.
    assert client.get(url("carer", school, carer_id=carer.pk)).status_code == 404
    assert client.get(url("carer", other_school, carer_id=carer.pk)).status_code == 404
    assert client.post(url("exports:carer_subject_access", other_school, carer_id=carer.pk)).status_code == 404
    assert not AuditEvent.objects.exists()


def test_a_pupil_of_another_school_is_404_under_your_own_schools_address(as_office, school, other_school):
    theirs = PupilFactory(school=other_school)
    assert as_office.get(url("pupil", school, pupil_id=theirs.pk)).status_code == 404


def test_staff_without_a_second_factor_are_sent_to_verify_before_seeing_families(client, headteacher, school, family):
    client.force_login(headteacher)  # password only
    response = client.get(url("pupils", school))
    assert response.status_code == 302 and "/staff/account/" in response.url


def test_dashboard_links_school_staff_to_their_families_but_not_association_admins(
    client, verified_client, school, association, headteacher
):
    verified_client(client, headteacher)
    assert url("pupils", school) in client.get(reverse("staff:dashboard")).content.decode()

    school.association = association
    school.save()
    admin = StaffRoleFactory(organisation=association, role=StaffRole.Role.ASSOCIATION_ADMIN).user
    verified_client(client, admin)
    page = client.get(reverse("staff:dashboard")).content.decode()
    assert school.name in page and url("pupils", school) not in page


# ---------------------------------------------------------------------------------------------
# Import from the web


def test_upload_previews_without_importing_then_confirm_imports_and_is_audited(as_office, school, office, media):
    response = upload(as_office, school)
    assert response.url == url("import_preview", school)
    (stored,) = stored_uploads(media)
    assert "export" not in stored.name and len(stored.name) == 32  # a random name, not the user's

    preview = page_text(as_office.get(url("import_preview", school)))
    assert "Check what export.csv will change" in preview
    assert "Aoife O'Brien" in preview and "Ciarán O'Brien" in preview
    assert "Pupils to be added (2)" in preview and "Carers to be added (2)" in preview
    assert "Import these changes" in preview
    assert not Pupil.objects.exists()

    response = confirm(as_office, school)
    assert response.url == url("import_result", school)
    assert Pupil.objects.filter(school=school).count() == 2
    assert Carer.objects.filter(school=school).count() == 2
    assert not stored_uploads(media)

    result = page_text(as_office.get(response.url))
    assert "export.csv has been imported" in result and "Pupils added" in result

    event = AuditEvent.objects.get(action=AuditEvent.Action.IMPORT)
    assert event.actor == office and event.school == school
    assert event.detail["filename"] == "export.csv" and event.detail["source"] == "web"
    assert len(event.detail["sha256"]) == 64 and event.detail["counts"]["pupils added"] == 2


def test_upload_with_a_bad_row_previews_every_problem_and_imports_nothing(as_head, school, media):
    upload(as_head, school, (FILES / "bad_rows.csv").read_bytes(), name="bad_rows.csv")
    response = as_head.get(url("import_preview", school))
    page = page_text(response)
    assert "bad_rows.csv cannot be imported" in page and 'role="alert"' in page
    for line, reason in [
        (3, "Adno is blank."),
        (4, "Contact Surname is blank."),
        (5, "is not a valid email address"),
        (6, "is not a year group we know"),
        (7, "has different details on different rows"),
        (8, "twice: here and on line 2"),
        (9, "should be Yes or No"),
    ]:
        assert f'<th scope="row">{line}</th><td>' in page and reason in page
    assert "Import these changes" not in page and reverse("families:import_confirm", args=[school.slug]) not in page
    assert not stored_uploads(media)  # nothing can be imported from it, so it is not kept

    response = as_head.post(url("import_confirm", school), {"changes_sha256": "x" * 64})
    assert response.status_code == 302
    assert not Pupil.objects.exists() and not Carer.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.IMPORT).exists()


def test_a_file_missing_a_required_column_says_which_and_what_headers_it_has(as_head, school):
    upload(as_head, school, (FILES / "missing_surname_column.csv").read_bytes(), name="missing.csv")
    page = page_text(as_head.get(url("import_preview", school)))
    assert "The file has no column for the pupil surname" in page
    assert "The file's headers are: Adno, Forename, Year" in page
    assert "Import these changes" not in page


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("families.pdf", b"%PDF-1.4", "The selected file must be a CSV or an Excel (.xlsx) file."),
        ("families.xls", b"\xd0\xcf\x11\xe0", "old-style Excel .xls workbook"),
        ("families.csv", b"", "The selected file is empty."),
    ],
)
def test_wrong_type_or_empty_upload_is_refused_with_a_clear_error(as_office, school, media, name, data, message):
    file = io.BytesIO(data)
    file.name = name
    response = as_office.post(url("import_upload", school), {"file": file})
    assert response.status_code == 200
    page = page_text(response)
    assert message in page and 'role="alert"' in page and "There is a problem" in page
    assert not stored_uploads(media)


def test_uploading_nothing_asks_for_a_file(as_office, school):
    response = as_office.post(url("import_upload", school), {})
    assert "Choose the file to import." in page_text(response)


def test_an_upload_over_10_mb_is_refused(as_office, school, media):
    big = ONE_FAMILY + b"," * (10 * 1024 * 1024)
    response = upload(as_office, school, big)
    assert response.status_code == 200
    assert "The selected file must be smaller than 10.0 MB" in page_text(response).replace("\xa0", " ")
    assert not stored_uploads(media)


@pytest.mark.parametrize(("build", "name", "message"), [
    (hostile_files.zip_bomb, "bomb.xlsx", "is an Excel workbook that unzips to 1.1 GB, more than the 100.0 MB"),
    (lambda: b"\xff\xfe" + ONE_FAMILY + b"\n", "utf16.csv", "starts with a UTF-16 byte-order mark but is not UTF-16"),
], ids=["zip bomb", "UTF-16 byte-order mark on a file that is not UTF-16"])
def test_a_file_that_cannot_be_read_is_refused_on_the_preview_page_and_nothing_is_imported(
    as_office, school, media, build, name, message
):
    upload(as_office, school, build(), name=name)
    response = as_office.get(url("import_preview", school))

    assert response.status_code == 200
    page = page_text(response)
    assert f"{name} cannot be imported" in page and message in page and 'role="alert"' in page
    assert "Import these changes" not in page
    assert not stored_uploads(media)
    assert not Pupil.objects.exists() and not AuditEvent.objects.exists()


def test_an_excel_upload_is_previewed_and_imported(as_office, school):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER.split(","))
    sheet.append(["001001", "Nowak", "Kacper", "Year 7", "7N", "Anna", "Nowak", "Mother", "Yes", "anna@example.org", 1])
    buffer = io.BytesIO()
    workbook.save(buffer)
    upload(as_office, school, buffer.getvalue(), name="Bromcom export.xlsx")
    assert "Kacper Nowak" in page_text(as_office.get(url("import_preview", school)))
    confirm(as_office, school)
    assert Pupil.objects.get(school=school).full_name == "Kacper Nowak"


def test_confirming_twice_imports_once(as_office, school, media):
    upload(as_office, school)
    changes = as_office.get(url("import_preview", school)).context["plan"].changes_sha256
    first = as_office.post(url("import_confirm", school), {"changes_sha256": changes})
    second = as_office.post(url("import_confirm", school), {"changes_sha256": changes}, follow=True)

    assert first.url == url("import_result", school)
    assert "already been confirmed or cancelled, so nothing more was imported" in page_text(second)
    assert Pupil.objects.filter(school=school).count() == 2
    assert AuditEvent.objects.filter(action=AuditEvent.Action.IMPORT).count() == 1


def test_confirming_a_file_someone_else_already_imported_changes_nothing_and_says_so(as_office, school, headteacher):
    upload(as_office, school)
    changes = as_office.get(url("import_preview", school)).context["plan"].changes_sha256
    # Meanwhile the headteacher imports the same export (or the first confirm of a double-click lands).
    services.families_import(school=school, filename="export.csv", data=ONE_FAMILY, user=headteacher)

    response = as_office.post(url("import_confirm", school), {"changes_sha256": changes}, follow=True)
    assert "These changes have already been imported, so nothing more was changed." in page_text(response)
    assert Pupil.objects.filter(school=school).count() == 2
    assert AuditEvent.objects.filter(action=AuditEvent.Action.IMPORT).count() == 1


def test_confirming_after_the_families_changed_since_the_preview_asks_for_a_new_preview(as_office, school, headteacher):
    upload(as_office, school)
    changes = as_office.get(url("import_preview", school)).context["plan"].changes_sha256
    other = csv_file("009999,Patel,Priya,Year 1,1P,Raj,Patel,Father,Yes,raj@example.org,1").getvalue()
    services.families_import(school=school, filename="other.csv", data=other, user=headteacher)

    response = as_office.post(url("import_confirm", school), {"changes_sha256": changes}, follow=True)
    assert "have changed since your preview" in page_text(response)
    assert response.redirect_chain[-1][0] == url("import_preview", school)
    assert not Pupil.objects.filter(mis_id="001001").exists()
    # The new preview shows what the file would do now: Priya Patel is marked as left.
    assert "Pupils to be marked as left (1)" in page_text(response)


def test_cancel_deletes_the_upload_and_imports_nothing(as_office, school, media):
    upload(as_office, school)
    assert stored_uploads(media)
    response = as_office.post(url("import_cancel", school), follow=True)
    assert "Import cancelled. Nothing was imported" in page_text(response)
    assert not stored_uploads(media)
    as_office.post(url("import_confirm", school), {"changes_sha256": "0" * 64})
    assert not Pupil.objects.exists()


def test_a_new_upload_replaces_the_one_waiting(as_office, school, media):
    upload(as_office, school)
    upload(as_office, school, ONE_FAMILY.replace(b"Aoife", b"Niamh"), name="second.csv")
    assert len(stored_uploads(media)) == 1
    assert "second.csv" in page_text(as_office.get(url("import_preview", school)))


def test_an_upload_waits_for_the_user_who_made_it_only(client, verified_client, school, office, headteacher, media):
    verified_client(client, office)
    upload(client, school)
    verified_client(client, headteacher)  # another user on the same browser gets a fresh session
    response = client.post(url("import_confirm", school), {"changes_sha256": "0" * 64})
    assert response.status_code == 302 and not Pupil.objects.exists()


def test_preview_shows_changes_old_to_new_and_pupils_marked_as_left(as_office, school, headteacher):
    services.families_import(school=school, filename="autumn.csv", data=ONE_FAMILY, user=headteacher)
    spring = csv_file(
        "001001,O'Brien,Aoife,Year 4,4B,Mary,O'Brien,Mother,Yes,mary.obrien@example.org,1",
    ).getvalue()
    upload(as_office, school, spring, name="spring.csv")
    page = page_text(as_office.get(url("import_preview", school)))
    assert "Pupils to be changed (1)" in page and "Year group: 3 → 4" in page and "Registration group: 3B → 4B" in page
    assert "Pupils to be marked as left (1)" in page and "Ciarán O'Brien" in page
    assert "Carers to be changed (1)" in page and "Email: mary@example.org → mary.obrien@example.org" in page
    confirm(as_office, school)
    ciaran = Pupil.objects.get(mis_id="001002")
    assert not ciaran.on_roll and ciaran.left_on is not None  # kept, marked as left


# ---------------------------------------------------------------------------------------------
# Browsing


@pytest.fixture
def pupils(school):
    return {
        name: PupilFactory(school=school, forename=name.split()[0], surname=name.split()[1], year_group=year, reg_group=reg)
        for name, year, reg in [
            ("Zoë Adams", "10", "10A"),
            ("Amelia Brown", "2", "2B"),
            ("Oliver Clarke", "N", "Nursery"),
            ("Kacper Nowak", "R", "RB"),
            ("Aoife O'Brien", "2", "2A"),
            ("Ciarán Byrne", "1", "1C"),
        ]
    }


def names_in_table(response) -> list[str]:
    return [f"{p.forename} {p.surname}" for p in response.context["page"].object_list]


def test_pupils_are_listed_nursery_reception_then_years_1_to_13_by_group_and_surname(as_office, school, pupils):
    response = as_office.get(url("pupils", school))
    assert names_in_table(response) == [
        "Oliver Clarke", "Kacper Nowak", "Ciarán Byrne", "Aoife O'Brien", "Amelia Brown", "Zoë Adams"
    ]
    assert response.context["form"].fields["reg"].choices[1:] == [
        ("Nursery", "Nursery"), ("RB", "RB"), ("1C", "1C"), ("2A", "2A"), ("2B", "2B"), ("10A", "10A")
    ]


def test_pupils_can_be_searched_by_name_and_filtered_by_year_and_group(as_office, school, pupils):
    assert names_in_table(as_office.get(url("pupils", school), {"q": "o'brien"})) == ["Aoife O'Brien"]
    assert names_in_table(as_office.get(url("pupils", school), {"q": "amelia brown"})) == ["Amelia Brown"]
    assert names_in_table(as_office.get(url("pupils", school), {"year": "2"})) == ["Aoife O'Brien", "Amelia Brown"]
    assert names_in_table(as_office.get(url("pupils", school), {"reg": "2B"})) == ["Amelia Brown"]
    # A filter value that is not one of the choices is ignored, not an error.
    ignored = as_office.get(url("pupils", school), {"year": "99"})
    assert len(names_in_table(ignored)) == 6
    assert "valid choice" not in page_text(ignored) and 'aria-invalid="true"' not in ignored.content.decode()


def test_pupils_who_have_left_are_hidden_by_default_and_shown_as_left(as_office, school, pupils):
    gone = pupils["Zoë Adams"]
    Pupil.objects.filter(pk=gone.pk).update(on_roll=False, left_on=datetime.date(2026, 7, 22))
    assert "Zoë Adams" not in names_in_table(as_office.get(url("pupils", school)))
    left = as_office.get(url("pupils", school), {"status": "left"})
    assert names_in_table(left) == ["Zoë Adams"] and "Left 22 July 2026" in page_text(left)
    assert len(names_in_table(as_office.get(url("pupils", school), {"status": "all"}))) == 6
    assert "This pupil has left the school" in page_text(as_office.get(url("pupil", school, pupil_id=gone.pk)))


def test_pupils_are_paginated_50_to_a_page(as_office, school):
    PupilFactory.create_batch(51, school=school)
    first = as_office.get(url("pupils", school))
    assert len(first.context["page"].object_list) == 50 and "Page 1 of 2" in page_text(first)
    assert len(as_office.get(url("pupils", school), {"page": 2}).context["page"].object_list) == 1


def test_pupils_list_does_the_same_number_of_queries_for_10_or_100_pupils(as_office, school):
    def queries_for(count):
        Pupil.objects.all().delete()
        for pupil in PupilFactory.create_batch(count, school=school):
            PupilCarerFactory(pupil=pupil)
            PupilCarerFactory(pupil=pupil, priority=2, relationship="Father")
        with CaptureQueriesContext(connection) as queries:
            assert as_office.get(url("pupils", school)).status_code == 200
        return len(queries)

    assert queries_for(10) == queries_for(100)


def test_carers_list_does_the_same_number_of_queries_for_10_or_100_carers(as_office, school):
    def queries_for(count):
        PupilCarer.objects.all().delete()
        Carer.objects.all().delete()
        for carer in CarerFactory.create_batch(count, school=school):
            PupilCarerFactory(carer=carer, pupil__school=school)
        with CaptureQueriesContext(connection) as queries:
            assert as_office.get(url("carers", school)).status_code == 200
        return len(queries)

    assert queries_for(10) == queries_for(100)


@pytest.fixture
def three_kinds_of_carer(school):
    child = PupilFactory(school=school, forename="Aoife", surname="O'Brien")
    eligible = PupilCarerFactory(
        pupil=child, carer__forename="Mary", carer__surname="O'Brien", carer__email="mary@example.org",
        relationship="Mother", parental_responsibility=True, priority=1,
    ).carer
    paper = PupilCarerFactory(
        pupil=child, carer__forename="Patrick", carer__surname="O'Brien", carer__email="",
        relationship="Father", parental_responsibility=True, priority=2,
    ).carer
    not_eligible = PupilCarerFactory(
        pupil=child, carer__forename="Siobhán", carer__surname="Kelly", carer__email="siobhan@example.org",
        relationship="Aunt", parental_responsibility=False, priority=3,
    ).carer
    return child, eligible, paper, not_eligible


def test_a_pupils_page_lists_their_carers_and_whether_each_can_sign(as_office, school, three_kinds_of_carer):
    child, *_ = three_kinds_of_carer
    page = page_text(as_office.get(url("pupil", school, pupil_id=child.pk)))
    for row in [
        "<td>1</td>", "Mary O'Brien", "Mother", "mary@example.org", "Eligible to sign online",
        "Patrick O'Brien", "Father", "Needs a paper form (no e-mail address)",
        "Siobhán Kelly", "Aunt", "Not eligible to sign",
    ]:
        assert row in page
    assert page.index("Mary O'Brien") < page.index("Patrick O'Brien") < page.index("Siobhán Kelly")


def test_a_missing_email_address_is_said_in_words_never_none(as_office, school, three_kinds_of_carer):
    child, _, paper, _ = three_kinds_of_carer
    for page in (
        page_text(as_office.get(url("pupil", school, pupil_id=child.pk))),
        page_text(as_office.get(url("carers", school))),
        page_text(as_office.get(url("carer", school, carer_id=paper.pk))),
    ):
        assert "No e-mail address (needs a paper form)" in page and ">None<" not in page


def test_carers_can_be_searched_and_filtered_by_whether_they_can_sign(as_office, school, three_kinds_of_carer):
    _, eligible, paper, not_eligible = three_kinds_of_carer

    def listed(**params):
        return [c.pk for c in as_office.get(url("carers", school), params).context["page"].object_list]

    assert listed(status="eligible") == [eligible.pk]
    assert listed(status="paper") == [paper.pk]
    assert listed(status="not_eligible") == [not_eligible.pk]
    assert listed(q="siobhan@example") == [not_eligible.pk]
    assert set(listed(q="O'Brien")) == {eligible.pk, paper.pk}
    assert len(listed()) == 3


def test_a_carers_page_lists_their_children_with_relationship_and_responsibility(as_office, school):
    mary = CarerFactory(school=school, forename="Mary", surname="O'Brien")
    PupilCarerFactory(carer=mary, pupil__school=school, pupil__forename="Aoife", pupil__surname="O'Brien",
                      relationship="Mother", parental_responsibility=True)
    PupilCarerFactory(carer=mary, pupil__school=school, pupil__forename="Ciarán", pupil__surname="O'Brien",
                      pupil__year_group="5", relationship="Step-mother", parental_responsibility=False)
    page = page_text(as_office.get(url("carer", school, carer_id=mary.pk)))
    assert "Aoife O'Brien" in page and "Ciarán O'Brien" in page and "Step-mother" in page and "Year 5" in page
    assert "Export everything held about this carer" in page
    assert "Erase this carer's personal data" not in page  # office staff cannot erase
