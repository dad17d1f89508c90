"""Staff are told: the office gets the declines that came with a message (at most one e-mail an
hour per school, listing them), and headteachers and association admins a weekly completion
e-mail, which each can turn off; both taken by the scheduler's steps, once."""


import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from declarations.models import Decline
from declarations.selectors import signing_target
from evidence.dashboard import school_completion
from schools.models import StaffRole
from sending.scheduler import run_scheduled
from sending.staff_notices import completion
from tests.declarations.cycle import at
from tests.factories import (
    CodeFactory,
    SchoolFactory,
    StaffRoleFactory,
    UserFactory,
    published_version,
)
from tests.sending.test_sending import parent, record_signature

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("locmem_mail")]


def decline(carer, version, message="", when=None):
    return Decline.objects.create(
        school=carer.school, carer=carer, version=version, message=message, declined_at=when or timezone.now()
    )


def sent(subject_part: str) -> list:
    return [message for message in mail.outbox if subject_part in message.subject]


@pytest.fixture
def office_staff(school):
    user = UserFactory(email="office@whitefield.example.org")
    StaffRoleFactory(user=user, organisation=school, role=StaffRole.Role.OFFICE)
    return user


def test_the_office_hears_of_declines_with_a_message_at_most_once_an_hour(school, school_code, office_staff, now):
    version = school_code.versions.get()
    now.move_to(at(2026, 11, 24, 10, 0))
    decline(parent(school, forename="Dee", surname="One"), version, "We do not use social media.")
    decline(parent(school, forename="Dan", surname="Two"), version, "")  # no message: not listed
    decline(parent(school, forename="Del", surname="Three"), version, "Please call me.")

    run_scheduled()
    (email,) = sent("declined to sign")
    assert email.to == ["office@whitefield.example.org"]
    assert email.subject == "2 parents declined to sign, with a message: Whitefield Primary School"
    assert "Dee One" in email.body and "We do not use social media." in email.body
    assert "Del Three" in email.body and "Please call me." in email.body and "Dan Two" not in email.body

    now.move_to(at(2026, 11, 24, 10, 20))
    decline(parent(school, forename="Dot", surname="Four"), version, "Not for us.")
    run_scheduled()
    assert len(sent("declined to sign")) == 1  # within the hour: waits

    now.move_to(at(2026, 11, 24, 11, 1))
    run_scheduled()
    run_scheduled()
    assert len(sent("declined to sign")) == 2
    later = sent("declined to sign")[1]
    assert "Dot Four" in later.body and "Dee One" not in later.body


def test_a_school_without_office_staff_is_told_at_its_own_address(school, school_code, now):
    school.email = "office@school.example.org"
    school.save()
    decline(parent(school), school_code.versions.get(), "No thank you.")
    run_scheduled()
    assert [message.to for message in sent("declined to sign")] == [["office@school.example.org"]]


def test_headteachers_get_the_weekly_completion_email_once_a_week_from_monday_morning(
    school, school_code, headteacher, now
):
    version = school_code.versions.get()
    signed = parent(school)
    parent(school)
    parent(school, email="")
    record_signature(signed, version)

    now.move_to(at(2026, 11, 23, 7, 59))  # Monday, before eight
    run_scheduled()
    assert sent("This week") == []
    now.move_to(at(2026, 11, 23, 8, 0))
    run_scheduled()
    now.move_to(at(2026, 11, 25, 9, 0))
    run_scheduled()
    (email,) = sent("This week")
    assert email.to == [headteacher.email]
    assert "Whitefield Primary School: 1 of 3 signed (33%) version 1; 0 declined." in email.body
    assert "No e-mail address: needs a paper form: 1" in email.body
    assert reverse("account:weekly_digest") in email.body

    now.move_to(at(2026, 11, 30, 8, 30))  # the next Monday
    run_scheduled()
    assert len(sent("This week")) == 2


def test_each_headteacher_can_turn_the_weekly_email_off(client, verified_client, school, school_code, headteacher, now):
    other = StaffRoleFactory(organisation=school, role=StaffRole.Role.HEADTEACHER).user
    verified_client(client, headteacher)
    page = client.get(reverse("account:weekly_digest"))
    assert "Whitefield Primary School (headteacher)" in page.content.decode()
    response = client.post(reverse("account:weekly_digest"), {})  # nothing ticked
    assert response.status_code == 302

    now.move_to(at(2026, 11, 23, 8, 0))
    run_scheduled()
    (email,) = sent("This week")
    assert email.to == [other.email]

    verified_client(client, headteacher)  # signed in again: a day has passed
    response = client.post(reverse("account:weekly_digest"), {f"role-{headteacher.staff_roles.get().pk}": "on"})
    assert response.status_code == 302
    now.move_to(at(2026, 11, 30, 8, 0))
    run_scheduled()
    assert sent("This week")[1].to == sorted([headteacher.email, other.email])


def test_association_admins_get_each_member_schools_figures(association, now):
    admin = StaffRoleFactory(organisation=association, role=StaffRole.Role.ASSOCIATION_ADMIN).user
    SchoolFactory(name="Member One", association=association)
    SchoolFactory(name="Member Two", association=association)
    now.move_to(at(2026, 11, 23, 8, 0))
    run_scheduled()
    (email,) = [message for message in sent("This week") if admin.email in message.to]
    assert "Member One: no code of conduct in force." in email.body
    assert "Member Two: no code of conduct in force." in email.body


def test_the_weekly_email_gives_the_dashboards_percentage(school, school_code, headteacher, now):
    """One in eight is 12.5 %: the e-mail says 13 %, as the school's dashboard does."""
    version = school_code.versions.get()
    carers = [parent(school) for _ in range(8)]
    record_signature(carers[0], version)
    now.move_to(at(2026, 11, 23, 8, 0))
    run_scheduled()
    (email,) = sent("This week")
    assert "Whitefield Primary School: 1 of 8 signed (13%) version 1; 0 declined." in email.body
    assert school_completion(school, signing_target(school)).figures.signed_percent == 13


def test_the_weekly_email_counts_an_associations_schools_in_the_same_queries_however_many(association, now):
    published_version(CodeFactory(owner=association))
    schools = [SchoolFactory(association=association) for _ in range(4)]
    for school in schools:
        parent(school)

    def queries(members):
        with CaptureQueriesContext(connection) as captured:
            rows = completion(members)
        assert [row["figures"].asked for row in rows] == [1] * len(members)
        return len(captured)

    assert queries(schools[:1]) == queries(schools)
