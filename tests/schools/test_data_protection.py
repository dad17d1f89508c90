"""Data protection basics: a subject access export of one carer, erasing a carer's data, and
recording a refused erasure request. (What the export's ZIP holds besides the data, the PDFs
and the link events, is tests/evidence/test_subject_access.py.)"""

import datetime
import html
import io
import json
import zipfile

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from schools import selectors, services
from schools.models import AuditEvent, Carer, Pupil, PupilCarer, StaffRole
from tests.factories import StaffRoleFactory
from tests.schools.factories import CarerFactory, PupilCarerFactory

pytestmark = pytest.mark.django_db


def url(name, school, **kwargs):
    return reverse(f"families:{name}", kwargs={"school_slug": school.slug, **kwargs})


def export_url(school, carer):
    return reverse("exports:carer_subject_access", kwargs={"school_slug": school.slug, "carer_id": carer.pk})


def exported(response) -> str:
    """The JSON file in a subject access ZIP, as text."""
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        return archive.read("subject-access.json").decode()


@pytest.fixture
def office(school):
    return StaffRoleFactory(organisation=school, role=StaffRole.Role.OFFICE).user


@pytest.fixture
def mary(school):
    """Mary O'Brien: mother of Aoife and Ciarán, with an e-mail address: eligible to sign."""
    mary = CarerFactory(
        school=school, mis_id="C1001", title="Mrs", forename="Mary", surname="O'Brien", email="mary@example.org"
    )
    PupilCarerFactory(carer=mary, pupil__school=school, pupil__forename="Aoife", pupil__surname="O'Brien",
                      pupil__mis_id="001001", relationship="Mother", priority=1)
    PupilCarerFactory(carer=mary, pupil__school=school, pupil__forename="Ciarán", pupil__surname="O'Brien",
                      pupil__mis_id="001002", relationship="Mother", priority=1)
    return mary


@pytest.fixture
def as_head(client, verified_client, headteacher):
    verified_client(client, headteacher)
    return client


# ---------------------------------------------------------------------------------------------
# Subject access export


def test_export_downloads_everything_held_about_the_carer_and_is_audited(client, verified_client, school, office, mary):
    verified_client(client, office)
    client.get(url("carer", school, carer_id=mary.pk), REMOTE_ADDR="203.0.113.9")  # a view, to appear in it

    response = client.post(export_url(school, mary), REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == f'attachment; filename="carer-{mary.pk}-subject-access-2026-11-22.zip"'
    assert "no-store" in response["Cache-Control"]

    export = json.loads(exported(response))
    assert export["school"]["name"] == school.name
    assert export["carer"].items() >= {
        "mis_id": "C1001", "title": "Mrs", "forename": "Mary", "surname": "O'Brien",
        "email": "mary@example.org", "erased_at": None, "asked_to_sign": "eligible",
    }.items()
    assert [(c["forename"], c["relationship"], c["parental_responsibility"]) for c in export["children"]] == [
        ("Aoife", "Mother", True), ("Ciarán", "Mother", True)
    ]
    assert [e["action"] for e in export["audit_events"]] == ["Viewed a carer's record"]
    assert "203.0.113.9" not in exported(response)  # staff addresses are the staff's data

    event = AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT_CARER_DATA).get()
    assert (event.actor, event.carer, event.ip_address) == (office, mary, "203.0.113.9")


def test_export_is_a_post_so_a_link_or_prefetch_cannot_trigger_it(as_head, school, mary):
    assert as_head.get(export_url(school, mary)).status_code == 405
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT_CARER_DATA).exists()


def test_export_service_refuses_staff_of_another_school(other_school, mary):
    outsider = StaffRoleFactory(organisation=other_school, role=StaffRole.Role.HEADTEACHER).user
    with pytest.raises(PermissionDenied):
        services.carer_subject_access_export(carer=mary, user=outsider)
    assert not AuditEvent.objects.exists()


# ---------------------------------------------------------------------------------------------
# Erasure


def test_erasure_removes_personal_data_and_records_reason(as_head, school, headteacher, mary):
    page = html.unescape(as_head.get(url("carer_erase", school, carer_id=mary.pk)).content.decode())
    assert "<h1>Erase Mary O'Brien's personal data</h1>" in page and "This cannot be undone" in page

    response = as_head.post(
        url("carer_erase", school, carer_id=mary.pk),
        {"reason": "Erasure request ref DP-2026-014, received 3 November 2026", "confirm": "on"},
        REMOTE_ADDR="203.0.113.9",
        follow=True,
    )
    assert "The carer's personal data has been erased" in html.unescape(response.content.decode())

    mary.refresh_from_db()
    assert (mary.title, mary.forename, mary.surname, mary.email) == ("", "Erased", f"carer #{mary.pk}", "")
    assert mary.mis_id == f"erased-{mary.pk}" and mary.erased_at is not None
    assert not PupilCarer.objects.filter(carer=mary).exists()
    assert Pupil.objects.filter(school=school).count() == 2  # the children are untouched
    assert not selectors.eligible_carers(school).filter(pk=mary.pk).exists()

    event = AuditEvent.objects.get(action=AuditEvent.Action.ERASE_CARER)
    assert (event.actor, event.carer, event.ip_address) == (headteacher, mary, "203.0.113.9")
    assert event.detail == {"reason": "Erasure request ref DP-2026-014, received 3 November 2026", "links_removed": 2}

    # Nowhere on the carer's page, the log or an export does the old name or e-mail appear.
    pages = [
        as_head.get(url("carer", school, carer_id=mary.pk)).content.decode(),
        as_head.get(url("audit_log", school)).content.decode(),
        exported(as_head.post(export_url(school, mary))),
    ]
    for text in map(html.unescape, pages):
        assert "Mary" not in text and "mary@example.org" not in text and "C1001" not in text
    assert "DP-2026-014" in html.unescape(pages[1])


def test_erasure_needs_a_reason_and_a_confirmation(as_head, school, mary):
    response = as_head.post(url("carer_erase", school, carer_id=mary.pk), {"reason": "   "})
    page = html.unescape(response.content.decode())
    assert 'role="alert"' in page and "There is a problem" in page
    assert "Give the reason for erasing this carer's data." in page
    assert "Confirm that you understand this cannot be undone." in page
    mary.refresh_from_db()
    assert mary.forename == "Mary" and mary.erased_at is None
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.ERASE_CARER).exists()


def test_office_staff_cannot_erase_a_carer(client, verified_client, school, office, mary):
    verified_client(client, office)
    assert client.get(url("carer_erase", school, carer_id=mary.pk)).status_code == 404
    response = client.post(url("carer_erase", school, carer_id=mary.pk), {"reason": "asked", "confirm": "on"})
    assert response.status_code == 404
    mary.refresh_from_db()
    assert mary.erased_at is None
    with pytest.raises(PermissionDenied):
        services.carer_erase(carer=mary, user=office, reason="asked")


def test_a_carer_is_erased_once(as_head, school, headteacher, mary):
    services.carer_erase(carer=mary, user=headteacher, reason="DP-1")
    with pytest.raises(ValidationError, match="already been erased"):
        services.carer_erase(carer=mary, user=headteacher, reason="DP-2")
    response = as_head.get(url("carer_erase", school, carer_id=mary.pk), follow=True)
    assert "already been erased" in html.unescape(response.content.decode())
    assert AuditEvent.objects.filter(action=AuditEvent.Action.ERASE_CARER).count() == 1


def test_erasure_and_its_audit_event_are_stored_together_or_not_at_all(monkeypatch, headteacher, mary):
    def broken_log(**kwargs):
        raise RuntimeError("the audit log is unavailable")

    monkeypatch.setattr(services, "audit_record", broken_log)
    with pytest.raises(RuntimeError):
        services.carer_erase(carer=mary, user=headteacher, reason="DP-1")
    mary.refresh_from_db()
    assert mary.forename == "Mary" and mary.erased_at is None
    assert PupilCarer.objects.filter(carer=mary).count() == 2


def test_an_erased_carer_is_kept_so_evidence_pointing_at_them_survives(headteacher, mary):
    services.carer_erase(carer=mary, user=headteacher, reason="DP-1")
    assert Carer.objects.filter(pk=mary.pk).exists()


def test_a_later_import_does_not_bring_the_erased_data_back_into_the_erased_row(headteacher, school, mary):
    from schools.imports import import_apply

    services.carer_erase(carer=mary, user=headteacher, reason="DP-1")
    export = (
        "Adno,Legal Surname,Legal Forename,Year,Reg,Contact ID,Contact Forename,Contact Surname,Relationship,"
        "Parental Responsibility,Primary Email,Priority\r\n"
        "001001,O'Brien,Aoife,Year 3,3B,C1001,Mary,O'Brien,Mother,Yes,mary@example.org,1\r\n"
    ).encode()
    import_apply(school=school, filename="sims.csv", data=export)
    mary.refresh_from_db()
    assert mary.forename == "Erased" and mary.email == ""
    # The MIS still lists her, so she comes back as a new carer: the school must remove her there too.
    assert Carer.objects.filter(school=school, mis_id="C1001", erased_at__isnull=True).count() == 1
    assert Pupil.objects.filter(school=school).count() == 2


def test_erasure_forgets_the_address_in_the_outbox_and_stops_links_and_keeps_declarations(
    headteacher, school, school_code, mary
):
    from declarations import services as signing
    from declarations.models import Declaration
    from sending.models import OutboxMessage

    version = school_code.versions.get()
    request = signing.signing_request_for(carer=mary, version=version)
    token = signing.link_issue(signing_request=request)
    signing.declaration_sign(
        signing_request=request, version_id_shown=version.pk, typed_name="Mary Smith", agreed=True,
        ip="203.0.113.9", user_agent="Phone browser",
    )
    pending = OutboxMessage.objects.create(school=school, carer=mary, version=version, kind="reminder-1", to_address=mary.email)

    services.carer_erase(carer=mary, user=headteacher, reason="Parent's erasure request")

    pending.refresh_from_db()
    assert pending.to_address == "" and pending.status == "skipped"
    with pytest.raises(signing.LinkNotFound):
        signing.link_check(token=token)
    assert Declaration.objects.get(carer=mary).typed_name == "Mary Smith", "evidence is kept"


# ---------------------------------------------------------------------------------------------
# A refused erasure request


REFUSAL = {"received_on": "2026-11-03", "reason": "Ref DP-2026-020: kept while Aoife is on roll, as the school's policy says"}


def test_a_headteacher_records_a_refused_erasure_request_and_the_carer_page_shows_it(
    as_head, school, headteacher, mary
):
    page = html.unescape(as_head.get(url("carer", school, carer_id=mary.pk)).content.decode())
    assert "Erasure requests refused" in page and "None recorded." in page
    assert "Date the request was received" in page and "Record the refused request" in page

    response = as_head.post(url("carer_refuse_erasure", school, carer_id=mary.pk), REFUSAL, REMOTE_ADDR="203.0.113.9",
                            follow=True)

    page = html.unescape(response.content.decode())
    assert "The refused erasure request has been recorded in the audit log." in page
    assert "3 November 2026" in page and REFUSAL["reason"] in page and "None recorded." not in page
    assert f"22 November 2026 by {headteacher.get_full_name()}" in page
    event = AuditEvent.objects.get(action=AuditEvent.Action.REFUSE_ERASURE)
    assert (event.actor, event.carer, event.ip_address) == (headteacher, mary, "203.0.113.9")
    assert event.detail == {"received_on": "2026-11-03", "reason": REFUSAL["reason"]}
    mary.refresh_from_db()
    assert mary.forename == "Mary" and mary.erased_at is None and mary.pupil_links.count() == 2, "nothing erased"
    log = html.unescape(as_head.get(url("audit_log", school)).content.decode())
    assert f"Request received 2026-11-03. Reason: {REFUSAL['reason']}" in log


def test_a_refusal_needs_a_reason_and_a_received_date_not_in_the_future(as_head, school, headteacher, mary):
    response = as_head.post(
        url("carer_refuse_erasure", school, carer_id=mary.pk), {"received_on": "2026-11-23", "reason": "  "}
    )
    page = html.unescape(response.content.decode())
    assert response.status_code == 200 and 'role="alert"' in page
    assert "Give the reason for refusing the request." in page
    assert "The date the request was received must be today or in the past." in page
    response = as_head.post(url("carer_refuse_erasure", school, carer_id=mary.pk), {"received_on": "3/11", "reason": "x"})
    assert "Enter a real date, like 22/11/2026." in html.unescape(response.content.decode())
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.REFUSE_ERASURE).exists()
    with pytest.raises(ValidationError):
        services.carer_erasure_refuse(
            carer=mary, user=headteacher, received_on=datetime.date(2026, 11, 3), reason=" "
        )


def test_office_staff_see_refusals_but_only_the_headteacher_records_one(
    client, verified_client, school, office, headteacher, mary
):
    services.carer_erasure_refuse(carer=mary, user=headteacher, received_on=datetime.date(2026, 11, 3),
                                  reason=REFUSAL["reason"])
    verified_client(client, office)
    page = html.unescape(client.get(url("carer", school, carer_id=mary.pk)).content.decode())
    assert REFUSAL["reason"] in page and "Record the refused request" not in page
    with pytest.raises(PermissionDenied):
        services.carer_erasure_refuse(carer=mary, user=office, received_on=datetime.date(2026, 11, 3), reason="No")


def test_there_is_no_refusing_the_erasure_of_a_carer_already_erased(as_head, school, headteacher, mary):
    services.carer_erase(carer=mary, user=headteacher, reason="DP-1")
    page = html.unescape(as_head.get(url("carer", school, carer_id=mary.pk)).content.decode())
    assert "Record the refused request" not in page
    with pytest.raises(ValidationError, match="already been erased"):
        services.carer_erasure_refuse(carer=mary, user=headteacher, received_on=datetime.date(2026, 11, 3), reason="x")


def test_erasure_also_erases_the_home_language(headteacher, mary):
    mary.language = "pl"
    mary.save()
    services.carer_erase(carer=mary, user=headteacher, reason="DP-1")
    mary.refresh_from_db()
    assert mary.language == ""
