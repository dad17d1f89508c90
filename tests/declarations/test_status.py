"""The school's status page: who has signed, declined or is outstanding and why; and that only
the school's own office staff and headteacher can see it or act on it."""

import datetime
import html
import re

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from declarations import services
from declarations.models import SigningRequest
from schools.models import AuditEvent, StaffRole
from sending import outbox
from sending.models import OutboxMessage
from tests.declarations.factories import NOW, PDF, add_child, family, issued_link, sent_link
from tests.factories import StaffRoleFactory, published_version
from tests.schools.factories import PupilCarerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tasks")]


def page(response) -> str:
    return html.unescape(response.content.decode())


def status_url(school, **filters):
    query = "&".join(f"{key}={value}" for key, value in filters.items())
    return f"/staff/declarations/{school.slug}/" + (f"?{query}" if query else "")


def row(text, name) -> str:
    """The status table's row for one carer, as text."""
    match = re.search(r"<tr id=\"carer-\d+\"[^>]*>\s*<th scope=\"row\">" + re.escape(name) + r".*?</tr>", text, re.S)
    assert match, f"no row for {name}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(0)))


def parent(school, name, child, year_group, reg_group, *, email=True):
    """A carer called `name` ("Forename Surname") with one child, `child`, of the same surname."""
    forename, surname = name.split()
    address = f"{forename.lower()}@example.org" if email else ""
    return family(
        school, forename=forename, surname=surname, email=address, children=((child, surname, year_group, reg_group),)
    )


@pytest.fixture
def everyone(school, version, office, media):
    """One carer in each state the status page knows, and two it must leave out."""
    online = parent(school, "Olivia Online", "Amy", "3", "3B")
    services.declaration_sign(
        signing_request=issued_link(online, version)[0],
        version_id_shown=version.pk,
        typed_name="Olivia Online",
        agreed=True,
        ip=None,
        user_agent="",
    )
    paper = parent(school, "Peter Paper", "Ben", "5", "5A", email=False)
    services.declaration_record_paper(
        carer=paper,
        version=version,
        signed_on=datetime.date(2026, 11, 22),
        name_as_written="P Paper",
        children=list(paper.children.all()),
        scan=SimpleUploadedFile("f.pdf", PDF),
        recorded_by=office,
    )
    declined = parent(school, "Dee Declined", "Cal", "3", "3A")
    services.declaration_decline(
        signing_request=issued_link(declined, version)[0],
        version_id_shown=version.pk,
        message="We have no social media accounts.",
        ip=None,
        user_agent="",
    )
    parent(school, "Nora Noemail", "Dot", "3", "3B", email=False)
    parent(school, "Nat Notsent", "Eve", "3", "3B")
    sent_link(parent(school, "Sam Sent", "Fay", "5", "5A"), version, sent_at=NOW - datetime.timedelta(days=3))
    opened, _ = sent_link(parent(school, "Opal Opened", "Gus", "5", "5A"), version, sent_at=NOW - datetime.timedelta(days=3))
    services.link_opened(signing_request=opened)
    expired, _ = sent_link(parent(school, "Ed Expired", "Hal", "5", "5B"), version, sent_at=NOW - datetime.timedelta(days=70))
    SigningRequest.objects.filter(pk=expired.pk).update(expires_at=NOW - datetime.timedelta(days=10))
    failed = parent(school, "Fiona Failed", "Ida", "3", "3B")
    # What the sender records when the mail server refuses the invitation (sending/outbox.py).
    SigningRequest.objects.create(school=school, carer=failed, version=version, delivery_failed_at=NOW)
    # Not asked: no parental responsibility, and a carer whose only child has left.
    PupilCarerFactory(
        pupil__school=school, carer__forename="Uma", carer__surname="Uncle", parental_responsibility=False
    )
    left = family(school, forename="Len", surname="Left", email="len@example.org", children=())
    add_child(left, forename="Jo", surname="Left", on_roll=False)


def test_status_page_counts_everyone_and_says_why_each_is_outstanding(staff, school, version, everyone):
    response = staff.get(status_url(school))
    assert response.status_code == 200
    text = page(response)
    summary = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text[text.index("Summary") : text.index("<table")]))
    assert "9 asked to sign" in summary
    assert "2 signed (1 online, 1 on paper)" in summary
    assert "1 declined" in summary
    assert "6 outstanding" in summary
    for reason in (
        "No e-mail address: needs a paper form: 1",
        "Not sent yet: 1",
        "E-mail could not be sent: 1",
        "Sent, not opened: 1",
        "Opened, not signed: 1",
        "Link expired: 1",
    ):
        assert reason in summary

    assert "Signed 22 Nov 2026 online" in row(text, "Olivia Online")
    assert "Signed 22 Nov 2026 on paper, recorded by Olive Okafor" in row(text, "Peter Paper")
    assert "Declined 22 Nov 2026" in row(text, "Dee Declined")
    assert "We have no social media accounts." in row(text, "Dee Declined")
    assert "Outstanding : No e-mail address" in row(text, "Nora Noemail")
    assert "Outstanding : Not sent yet" in row(text, "Nat Notsent")
    assert "Outstanding : E-mail could not be sent" in row(text, "Fiona Failed")
    assert "Outstanding : Sent, not opened sent 19 Nov 2026" in row(text, "Sam Sent")
    assert "Outstanding : Opened, not signed opened 22 Nov 2026" in row(text, "Opal Opened")
    assert "Outstanding : Link expired expired 12 Nov 2026" in row(text, "Ed Expired")
    assert "Uma Uncle" not in text and "Len Left" not in text


def test_status_page_filters_by_year_group_and_registration_group(staff, school, version, everyone):
    year_5 = page(staff.get(status_url(school, year="5")))
    assert "4 asked to sign" in re.sub(r"<[^>]+>", "", year_5)
    assert "Peter Paper" in year_5 and "Olivia Online" not in year_5

    reg_5b = page(staff.get(status_url(school, reg="5B")))
    assert "Ed Expired" in reg_5b and "Sam Sent" not in reg_5b
    assert '<option value="5B" selected>5B</option>' in reg_5b
    assert '<option value="5" selected>Year 5</option>' in year_5


def test_a_group_the_school_does_not_have_shows_everyone_rather_than_nobody(staff, school, version, everyone):
    # A link kept from last year, for a group that is no longer on roll.
    text = re.sub(r"<[^>]+>", "", page(staff.get(status_url(school, year="13", reg="13Z"))))
    assert "Peter Paper" in text and "Olivia Online" in text
    assert "Show everyone" not in text


def test_status_page_takes_the_same_number_of_queries_for_5_or_50_carers(staff, school, version):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert staff.get(status_url(school)).status_code == 200
        return len(captured)

    for n in range(5):
        family(school, forename=f"A{n}", surname="Few", email=f"few{n}@example.org")
    few = queries()
    for n in range(45):
        carer = family(school, forename=f"B{n}", surname="Many", email=f"many{n}@example.org")
        sent_link(carer, version, sent_at=NOW)
    assert queries() == few <= 20


def test_a_carer_who_signed_the_version_before_a_typo_fix_counts_as_signed(staff, school, school_code, version):
    carer = family(school)
    services.declaration_sign(
        signing_request=issued_link(carer, version)[0], version_id_shown=version.pk, typed_name="Mary Smith",
        agreed=True, ip=None, user_agent="",
    )
    published_version(school_code, body="## Expectations\n\nParents will be kind on-line.", requires_signing=False,
                      effective_from=datetime.date(2026, 11, 22))
    text = page(staff.get(status_url(school)))
    assert "version 1, still current" in row(text, "Mary Smith")


def test_after_a_typo_fix_an_outstanding_carers_latest_link_says_where_they_stand(staff, school, school_code, version):
    """Both versions count after a correction; the request for the later one decides."""
    carer = family(school)
    first, _ = sent_link(carer, version, sent_at=NOW)
    SigningRequest.objects.filter(pk=first.pk).update(opened_at=NOW)
    correction = published_version(
        school_code, body="## Expectations\n\nParents will be kind on-line.", requires_signing=False,
        effective_from=datetime.date(2026, 11, 22),
    )
    assert "Opened, not signed" in row(page(staff.get(status_url(school))), "Mary Smith")
    issued_link(carer, correction)  # a new link for the correction, not sent yet
    assert "Not sent yet" in row(page(staff.get(status_url(school))), "Mary Smith")


# Re-issuing a link.


@pytest.mark.usefixtures("locmem_mail")
def test_staff_reissue_a_link_the_old_one_stops_working_and_an_email_is_queued(
    staff, client, school, version, office, tasks, django_capture_on_commit_callbacks
):
    carer = family(school)
    signing_request, old_token = sent_link(carer, version, sent_at=NOW)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(f"/staff/sending/{school.slug}/carers/{carer.pk}/new-link/")
    assert response.status_code == 302
    assert "A new link is on its way to Mary Smith" in page(staff.get(response["Location"]))

    message = OutboxMessage.objects.get()
    assert (message.kind, message.sequence, message.carer) == (OutboxMessage.Kind.NEW_LINK, 1, carer)
    assert [result.args for result in tasks.results] == [[message.pk]]
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.carer) == ("reissue_link", office, carer)

    parent = client.__class__()
    assert parent.get(f"/sign/t/{old_token}/").status_code == 404
    assert outbox.outbox_message_send(message.pk) == "sent"
    [new_token] = re.findall(r"/sign/t/([A-Za-z0-9_-]+)/", mail.outbox[-1].body)
    assert new_token != old_token and parent.get(f"/sign/t/{new_token}/").status_code == 303
    assert parent.get(f"/sign/t/{old_token}/").status_code == 404  # sending it brought nothing back

    staff.post(f"/staff/sending/{school.slug}/carers/{carer.pk}/new-link/")
    assert sorted(OutboxMessage.objects.values_list("sequence", flat=True)) == [1, 2]


def test_a_carer_without_an_email_address_cannot_be_sent_a_link(staff, school, version):
    carer = family(school, email="")
    response = staff.post(f"/staff/sending/{school.slug}/carers/{carer.pk}/new-link/", follow=True)
    assert "record a paper form instead" in page(response)
    assert not OutboxMessage.objects.exists()


# Who may see and do what.


@pytest.fixture
def their_carer(school, version):
    return family(school)


def staff_views(school, carer):
    base = f"/staff/declarations/{school.slug}"
    return [
        ("get", f"{base}/"),
        ("get", f"{base}/carers/{carer.pk}/paper/"),
        ("post", f"{base}/carers/{carer.pk}/paper/"),
        ("post", f"/staff/sending/{school.slug}/carers/{carer.pk}/new-link/"),
    ]


@pytest.mark.parametrize("role", [StaffRole.Role.HEADTEACHER, StaffRole.Role.OFFICE])
def test_staff_of_another_school_get_404_on_every_staff_view(client, verified_client, school, other_school, their_carer, role):
    outsider = StaffRoleFactory(organisation=other_school, role=role).user
    verified_client(client, outsider)
    for method, url in staff_views(school, their_carer):
        assert getattr(client, method)(url).status_code == 404, url
    assert not OutboxMessage.objects.exists()


def test_an_association_admin_gets_404_on_every_staff_view(client, verified_client, school, association, their_carer):
    school.association = association
    school.save()
    admin = StaffRoleFactory(organisation=association, role=StaffRole.Role.ASSOCIATION_ADMIN).user
    verified_client(client, admin)
    for method, url in staff_views(school, their_carer):
        assert getattr(client, method)(url).status_code == 404, url


def test_a_carer_of_another_school_is_a_404_even_for_our_own_staff(staff, school, other_school, version):
    theirs = family(other_school, email="theirs@example.org")
    assert staff.get(f"/staff/declarations/{school.slug}/carers/{theirs.pk}/paper/").status_code == 404
    assert staff.post(f"/staff/sending/{school.slug}/carers/{theirs.pk}/new-link/").status_code == 404


def test_staff_views_need_a_signed_in_verified_member_of_staff(client, school, their_carer, headteacher):
    for method, url in staff_views(school, their_carer):
        response = getattr(client, method)(url)
        assert response.status_code == 302 and response["Location"].startswith("/staff/login/"), url
    client.force_login(headteacher)  # password only, no second factor yet
    for method, url in staff_views(school, their_carer):
        response = getattr(client, method)(url)
        assert response.status_code == 302 and "/staff/account/" in response["Location"], url


def test_the_headteacher_sees_the_status_page_and_the_index_leads_there(client, verified_client, school, version, headteacher):
    verified_client(client, headteacher)
    response = client.get("/staff/declarations/")
    assert response.status_code == 302 and response["Location"] == f"/staff/declarations/{school.slug}/"
    assert client.get(response["Location"]).status_code == 200
