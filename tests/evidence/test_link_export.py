"""Families without e-mail: mobile numbers from the information-system import, and the personal
links export for the school's messaging app (each carer's own working link, the old one kept
where it still works)."""

import csv
import io
from urllib.parse import urlsplit

import pytest
from django.urls import reverse

from declarations.models import SigningRequest
from schools.imports import ImportRejected, import_apply, import_preview
from schools.models import AuditEvent, Carer
from sending import invitations, outbox
from sending.models import SendBatch
from tests.factories import SchoolFactory, StaffRoleFactory
from tests.schools.test_imports import SIMS, export, pair
from tests.sending.test_sending import parent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("locmem_mail")]


def rows(response) -> list[dict]:
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


@pytest.mark.parametrize("header", ["Mobile", "Mobile Phone", "Telephone (Mobile)"])
def test_the_import_takes_the_carers_mobile_number(school, header):
    data = export(dict(pair(), **{header: "07700 900123"}), header=[*SIMS, header])
    import_apply(school=school, filename="export.csv", data=data)
    assert Carer.objects.get(school=school).mobile == "07700 900123"

    import_apply(school=school, filename="export.csv", data=export(dict(pair(), **{header: "+44 7700 900456"}), header=[*SIMS, header]))
    assert Carer.objects.get(school=school).mobile == "+44 7700 900456"


def test_an_export_without_a_mobile_column_keeps_the_numbers_already_held(school):
    import_apply(school=school, filename="export.csv", data=export(dict(pair(), Mobile="07700 900123"), header=[*SIMS, "Mobile"]))
    import_apply(school=school, filename="export.csv", data=export(pair()))
    assert Carer.objects.get(school=school).mobile == "07700 900123"


def test_a_mobile_that_is_not_a_phone_number_is_refused_and_changes_nothing(school):
    data = export(dict(pair(), Mobile="call Mary"), header=[*SIMS, "Mobile"])
    plan = import_preview(school=school, filename="export.csv", data=data)
    assert not plan.is_valid
    assert [e.message for e in plan.errors] == ["Mobile “call Mary” is not a phone number."]
    with pytest.raises(ImportRejected):
        import_apply(school=school, filename="export.csv", data=data)
    assert not Carer.objects.exists()


@pytest.fixture
def families(school, school_code):
    """One carer without e-mail, one whose e-mail bounced, one e-mailed as usual, one who signed."""
    no_email = parent(school, email="", forename="Nora", surname="Noemail", mobile="07700 900001")
    bounced = parent(school, forename="Bea", surname="Bounced", mobile="07700 900002")
    emailed = parent(school, forename="Ed", surname="Emailed", mobile="07700 900003")
    invitations.invitations_send(school=school, audience=SendBatch.AudienceKind.ALL, user=None, enqueue=False)
    outbox.outbox_send_pending()
    Carer.objects.filter(pk=bounced.pk).update(email_bounced=bounced.email)
    return {"no_email": no_email, "bounced": bounced, "emailed": emailed}


def test_the_export_lists_carers_an_email_does_not_reach_with_children_mobile_and_a_working_link(
    staff, school, families, client
):
    bounced_link_before = SigningRequest.objects.get(carer=families["bounced"]).link_number
    response = staff.post(reverse("exports:personal_links", args=[school.slug]), {"who": "unreached"})
    listed = rows(response)
    assert [row["Carer"] for row in listed] == ["Bea Bounced", "Nora Noemail"]
    assert [row["Mobile"] for row in listed] == ["07700 900002", "07700 900001"]
    assert [row["Why"] for row in listed] == ["E-mail bounced: needs another way", "No e-mail address: needs a paper form"]
    assert all(row["Children"] for row in listed)  # each carer's child on roll, by name
    # The bounced carer keeps the link they were e-mailed; the carer without e-mail gets their first.
    assert SigningRequest.objects.get(carer=families["bounced"]).link_number == bounced_link_before
    assert SigningRequest.objects.get(carer=families["no_email"]).link_number == 1
    client.logout()
    for row in listed:
        opened = client.get(urlsplit(row["Personal link"]).path, follow=True)
        assert opened.status_code == 200
    assert AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT_LINKS, school=school).get().detail["carers"] == 2


def test_everyone_outstanding_can_be_exported_too_and_the_same_links_come_again(staff, school, families):
    first = rows(staff.post(reverse("exports:personal_links", args=[school.slug]), {"who": "outstanding"}))
    assert sorted(row["Carer"] for row in first) == ["Bea Bounced", "Ed Emailed", "Nora Noemail"]
    again = rows(staff.post(reverse("exports:personal_links", args=[school.slug]), {"who": "outstanding"}))
    assert {row["Carer"]: row["Personal link"] for row in again} == {row["Carer"]: row["Personal link"] for row in first}


def test_the_page_tells_staff_what_happens_to_old_links(staff, school, families):
    text = staff.get(reverse("exports:home", args=[school.slug])).content.decode()
    assert "Personal links for your messaging app" in text
    assert "any old link of theirs stops working" in text


def test_staff_of_another_school_cannot_export_its_links(client, verified_client, school, families):
    verified_client(client, StaffRoleFactory(organisation=SchoolFactory()).user)
    response = client.post(reverse("exports:personal_links", args=[school.slug]), {"who": "unreached"})
    assert response.status_code == 404
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT_LINKS).exists()


def test_a_get_changes_nothing(staff, school, families):
    assert staff.get(reverse("exports:personal_links", args=[school.slug])).status_code == 405
    assert not SigningRequest.objects.filter(carer=families["no_email"]).exists()
