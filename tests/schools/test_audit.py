"""The audit log: what is recorded, that it can never be changed, and who may read it."""

import html

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from schools.audit import audit_record
from schools.models import AuditEvent, StaffRole
from tests.factories import StaffRoleFactory
from tests.schools.factories import CarerFactory, PupilCarerFactory, PupilFactory

pytestmark = pytest.mark.django_db

EXPORT = (
    "\ufeffAdno,Legal Surname,Legal Forename,Year,Reg,Contact Forename,Contact Surname,Relationship,"
    "Parental Responsibility,Primary Email,Priority\r\n"
    "001001,O'Brien,Aoife,Year 3,3B,Mary,O'Brien,Mother,Yes,mary@example.org,1\r\n"
)


def url(name, school, **kwargs):
    return reverse(f"families:{name}", kwargs={"school_slug": school.slug, **kwargs})


@pytest.fixture
def office(school):
    return StaffRoleFactory(organisation=school, role=StaffRole.Role.OFFICE).user


@pytest.fixture
def carer(school):
    return PupilCarerFactory(pupil__school=school, carer__forename="Mary", carer__surname="O'Brien").carer


def test_viewing_a_carer_is_audited_with_ip_from_remote_addr_only(client, verified_client, school, office, carer):
    verified_client(client, office)
    client.get(
        url("carer", school, carer_id=carer.pk),
        REMOTE_ADDR="203.0.113.9",
        HTTP_X_FORWARDED_FOR="198.51.100.66",
        HTTP_USER_AGENT="Mozilla/5.0 (Windows NT 10.0) Edge/120",
    )
    event = AuditEvent.objects.get()
    assert event.action == AuditEvent.Action.VIEW_CARER
    assert (event.actor, event.school, event.carer) == (office, school, carer)
    assert event.ip_address == "203.0.113.9"
    assert event.user_agent == "Mozilla/5.0 (Windows NT 10.0) Edge/120"


def test_viewing_a_pupil_is_audited(client, verified_client, school, headteacher):
    pupil = PupilFactory(school=school)
    verified_client(client, headteacher)
    client.get(url("pupil", school, pupil_id=pupil.pk))
    event = AuditEvent.objects.get()
    assert (event.action, event.pupil, event.actor) == (AuditEvent.Action.VIEW_PUPIL, pupil, headteacher)


def test_lists_of_pupils_and_carers_are_not_each_a_view_of_a_record(client, verified_client, school, office, carer):
    verified_client(client, office)
    client.get(url("pupils", school))
    client.get(url("carers", school))
    assert not AuditEvent.objects.exists()


def test_the_log_names_no_one_so_it_outlives_an_erasure(client, verified_client, school, office, carer):
    verified_client(client, office)
    client.get(url("carer", school, carer_id=carer.pk))
    event = AuditEvent.objects.get()
    assert event.target == f"Carer #{carer.pk}"
    assert "Mary" not in str(event.detail) and "O'Brien" not in event.target


def test_a_garbled_remote_addr_is_recorded_as_unknown(rf, school, headteacher):
    request = rf.get("/", REMOTE_ADDR="not-an-address")
    event = audit_record(actor=headteacher, school=school, action=AuditEvent.Action.CHANGE, request=request)
    assert event.ip_address is None


def test_audit_events_cannot_be_changed_or_deleted(school, headteacher):
    event = audit_record(actor=headteacher, school=school, action=AuditEvent.Action.CHANGE, detail={"n": 1})

    event.detail = {"n": 2}
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(ValueError, match="append-only"):
        event.delete()
    # Past the model too: the database refuses.
    for attempt in (
        lambda: AuditEvent.objects.filter(pk=event.pk).update(detail={"n": 3}),
        lambda: AuditEvent.objects.filter(pk=event.pk).delete(),
    ):
        with pytest.raises(DatabaseError), transaction.atomic():
            attempt()
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE schools_auditevent SET action = 'import' WHERE id = %s", [event.pk])

    event.refresh_from_db()
    assert event.detail == {"n": 1} and event.action == AuditEvent.Action.CHANGE


def test_a_command_line_import_is_audited_as_the_system(school, tmp_path, capsys):
    file = tmp_path / "arbor.csv"
    file.write_text(EXPORT, encoding="utf-8")
    call_command("import_families", school.slug, str(file))
    event = AuditEvent.objects.get()
    assert event.action == AuditEvent.Action.IMPORT and event.actor is None and event.ip_address is None
    assert event.detail["source"] == "command line" and event.detail["filename"] == "arbor.csv"
    assert event.detail["counts"]["pupils added"] == 1 and len(event.detail["sha256"]) == 64


def test_a_dry_run_is_not_an_import_and_is_not_audited(school, tmp_path):
    file = tmp_path / "arbor.csv"
    file.write_text(EXPORT, encoding="utf-8")
    call_command("import_families", school.slug, str(file), "--dry-run")
    assert not AuditEvent.objects.exists()


def test_headteacher_reads_the_schools_log_newest_first_and_filters_by_action(
    client, verified_client, school, other_school, headteacher, office, carer
):
    pupil = carer.children.get()
    audit_record(actor=office, school=school, action=AuditEvent.Action.VIEW_PUPIL, pupil=pupil)
    audit_record(actor=office, school=school, action=AuditEvent.Action.VIEW_CARER, carer=carer,
                 request=None)
    audit_record(actor=None, school=other_school, action=AuditEvent.Action.IMPORT, detail={"filename": "theirs.csv"})

    verified_client(client, headteacher)
    response = client.get(url("audit_log", school))
    page = html.unescape(response.content.decode())
    events = list(response.context["page"].object_list)
    assert [e.action for e in events] == [AuditEvent.Action.VIEW_CARER, AuditEvent.Action.VIEW_PUPIL]
    assert "Mary O'Brien" in page and pupil.full_name in page and "theirs.csv" not in page

    filtered = client.get(url("audit_log", school), {"action": "view_pupil"})
    assert [e.action for e in filtered.context["page"].object_list] == [AuditEvent.Action.VIEW_PUPIL]


def test_the_log_describes_an_import(client, verified_client, school, headteacher):
    audit_record(
        actor=None, school=school, action=AuditEvent.Action.IMPORT,
        detail={"source": "command line", "filename": "sims.csv", "sha256": "ab" * 32, "rows": 12,
                "counts": {"pupils added": 5, "carers added": 7, "pupils changed": 0}},
    )
    verified_client(client, headteacher)
    page = html.unescape(client.get(url("audit_log", school)).content.decode())
    assert "sims.csv, 12 rows: 5 pupils added, 7 carers added (command line)" in page
    assert "The portal (command line)" in page


def test_office_staff_cannot_read_the_audit_log(client, verified_client, school, office):
    verified_client(client, office)
    assert client.get(url("audit_log", school)).status_code == 404
    page = client.get(url("pupils", school)).content.decode()
    assert url("audit_log", school) not in page


def test_the_audit_log_is_paginated(client, verified_client, school, headteacher):
    carer = CarerFactory(school=school)
    AuditEvent.objects.bulk_create(
        AuditEvent(school=school, actor=headteacher, action=AuditEvent.Action.VIEW_CARER, carer=carer)
        for _ in range(51)
    )
    verified_client(client, headteacher)
    assert len(client.get(url("audit_log", school)).context["page"].object_list) == 50
    assert len(client.get(url("audit_log", school), {"page": 2}).context["page"].object_list) == 1
