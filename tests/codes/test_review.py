"""The annual review: headteachers (association admins, for a shared code) are e-mailed 30 days
before the review date and when it passes, once each, until a new version is published or the
review is recorded as "no change needed", which moves the date a year on and asks nobody to sign."""

import datetime
import html

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend

from codes import services
from codes.models import CodeReview, CodeVersion, ReviewReminder
from schools.models import StaffRole
from sending import scheduler
from sending.models import OutboxMessage, ScheduledStep
from tests.factories import (
    AssociationFactory,
    CodeFactory,
    SchoolFactory,
    StaffRoleFactory,
    UserFactory,
    invitations_taken,
    published_version,
)
from tests.schools.factories import CarerFactory, PupilCarerFactory

pytestmark = pytest.mark.django_db

REVIEW_DUE = datetime.date(2026, 12, 22)


def noon(day: datetime.date) -> datetime.datetime:
    return datetime.datetime(day.year, day.month, day.day, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture
def clock():
    with time_machine.travel(noon(datetime.date(2026, 11, 1)), tick=False) as traveller:
        yield traveller


@pytest.fixture
def code(school, clock):
    code = CodeFactory(owner=school)
    invitations_taken(published_version(code, effective_from=datetime.date(2025, 12, 22), review_due=REVIEW_DUE))
    return code


@pytest.fixture
def head(school):
    user = UserFactory(first_name="Hannah", last_name="Wright", email="head@whitefield.example.org")
    # The weekly completion e-mail turned off: these tests read the review e-mails alone.
    StaffRoleFactory(user=user, organisation=school, role=StaffRole.Role.HEADTEACHER, weekly_digest=False)
    return user


def run_on(clock, day: datetime.date, times=2):
    clock.move_to(noon(day))
    for _ in range(times):
        scheduler.run_scheduled()


def review_emails():
    """The review e-mails sent (not the weekly completion e-mails the same run may send)."""
    return [(message.to, message.subject) for message in mail.outbox if message.subject.startswith("Review")]


def page(response) -> str:
    return html.unescape(response.content.decode())


# The e-mails.


def test_the_headteacher_is_emailed_30_days_before_and_when_the_date_passes_once_each(code, head, clock):
    run_on(clock, datetime.date(2026, 11, 21))
    assert review_emails() == []

    run_on(clock, datetime.date(2026, 11, 22))  # 30 days before
    run_on(clock, datetime.date(2026, 12, 1))
    run_on(clock, REVIEW_DUE)  # the day itself: not yet passed
    assert review_emails() == [
        (["head@whitefield.example.org"],
         "Review due on 22 December 2026: Whitefield Primary School's social media code of conduct"),
    ]
    soon = " ".join(mail.outbox[0].body.split())
    assert all(len(line) <= 70 or "://" in line for line in mail.outbox[0].body.splitlines())
    assert "due for its annual review on 22 December 2026, in 30 days" in soon
    assert f"http://127.0.0.1:8000/staff/codes/{code.pk}/" in soon and "no change needed" in soon

    run_on(clock, datetime.date(2026, 12, 23))
    run_on(clock, datetime.date(2027, 3, 1))
    assert review_emails()[1:] == [
        (["head@whitefield.example.org"], "Review overdue: Whitefield Primary School's social media code of conduct"),
    ]
    assert "was due for review on 22 December 2026" in " ".join(mail.outbox[1].body.split())
    assert list(ReviewReminder.objects.values_list("kind", "review_due", "recipients")) == [
        ("review-due-passed", REVIEW_DUE, 1), ("review-due-30", REVIEW_DUE, 1),
    ]


def test_a_code_long_overdue_gets_one_overdue_email_not_a_due_soon_one(school, head, clock):
    alsop = CodeFactory(owner=school)
    published_version(alsop, effective_from=datetime.date(2019, 9, 1), review_due=datetime.date(2020, 12, 1))
    run_on(clock, datetime.date(2026, 11, 1))
    assert [subject for _, subject in review_emails()] == [
        "Review overdue: Whitefield Primary School's social media code of conduct"
    ]


def test_an_associations_code_is_reviewed_by_its_admins_not_the_member_headteachers(clock):
    association = AssociationFactory(name="Halton Association of Secondary Headteachers")
    member = SchoolFactory(association=association)
    StaffRoleFactory(organisation=member, role=StaffRole.Role.HEADTEACHER, user=UserFactory(email="member@example.org"))
    admin = UserFactory(email="admin@halton.example.org")
    StaffRoleFactory(organisation=association, role=StaffRole.Role.ASSOCIATION_ADMIN, user=admin)
    StaffRoleFactory(organisation=association, role=StaffRole.Role.ASSOCIATION_ADMIN,
                     user=UserFactory(email="gone@halton.example.org", is_active=False))
    shared = CodeFactory(owner=association)
    published_version(shared, effective_from=datetime.date(2025, 12, 22), review_due=REVIEW_DUE)
    run_on(clock, datetime.date(2026, 11, 25))
    assert review_emails() == [
        (["admin@halton.example.org"],
         "Review due on 22 December 2026: Halton Association of Secondary Headteachers' social media code of conduct"),
    ]


def test_a_code_with_nobody_to_email_is_noted_once_and_not_retried(code, clock):
    run_on(clock, datetime.date(2026, 11, 25))
    assert review_emails() == []
    reminder = ReviewReminder.objects.get()
    assert reminder.sent_at is None and reminder.outcome.startswith("Nobody to e-mail")


def test_when_the_mail_server_fails_the_next_run_tries_again(code, head, clock, monkeypatch):
    def refuse(self, messages):
        raise ConnectionRefusedError("no mail server")

    monkeypatch.setattr(LocmemBackend, "send_messages", refuse)
    clock.move_to(noon(datetime.date(2026, 11, 25)))
    scheduler.run_scheduled()  # the review step logs the failure; nothing else is lost
    assert not ReviewReminder.objects.exists()
    monkeypatch.undo()
    run_on(clock, datetime.date(2026, 11, 25))
    assert len(review_emails()) == 1


def test_publishing_a_new_version_stops_the_emails_for_the_old_date(code, head, clock):
    run_on(clock, datetime.date(2026, 11, 22))
    published_version(code, effective_from=datetime.date(2026, 12, 1), review_due=datetime.date(2027, 12, 1))
    run_on(clock, datetime.date(2026, 12, 23))
    run_on(clock, datetime.date(2027, 6, 1))
    assert len(review_emails()) == 1  # the "30 days" one for 22 December 2026, and no overdue one
    run_on(clock, datetime.date(2027, 11, 1))
    assert review_emails()[-1][1].startswith("Review due on 1 December 2027")


# "No change needed".


def test_recording_no_change_needed_moves_the_date_a_year_on_and_changes_nothing_else(
    client, verified_client, school, code, head, clock, tasks, django_capture_on_commit_callbacks
):
    carer = CarerFactory(school=school)
    PupilCarerFactory(carer=carer, pupil__school=school)
    version = code.versions.get()
    clock.move_to(noon(datetime.date(2026, 12, 10)))
    run_on(clock, datetime.date(2026, 12, 10))  # the "30 days" e-mail
    verified_client(client, head)
    code_page = page(client.get(f"/staff/codes/{code.pk}/"))
    assert "Review due soon" in code_page and "Record the review: no change needed" in code_page

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/staff/codes/{code.pk}/review/", {"note": "Governors agreed on 9 December.", "review_due": "2026-12-22"}
        )
    assert response.status_code == 302
    after = page(client.get(response["Location"]))
    assert "Review recorded: no change needed. The next review is due on 22 December 2027." in after
    assert "Review due soon" not in after
    assert "Governors agreed on 9 December." in after

    review = CodeReview.objects.get()
    assert (review.version, review.reviewed_by, review.reviewed_on, review.previous_review_due, review.next_review_due) == (
        version, head, datetime.date(2026, 12, 10), REVIEW_DUE, datetime.date(2027, 12, 22)
    )
    assert services.code_review_due(code) == datetime.date(2027, 12, 22)
    # The frozen version stays exactly as it was; nobody is asked to sign.
    assert list(CodeVersion.objects.values_list("pk", "review_due")) == [(version.pk, REVIEW_DUE)]
    stored = CodeVersion.objects.get()
    assert stored.fingerprint == services.version_fingerprint(stored)
    assert tasks.results == []
    run_on(clock, datetime.date(2026, 12, 23))
    run_on(clock, datetime.date(2027, 6, 1))
    assert not OutboxMessage.objects.exists() and not ScheduledStep.objects.filter(done_at__isnull=True).exists()
    assert len(review_emails()) == 1  # no overdue e-mail for 22 December 2026

    run_on(clock, datetime.date(2027, 11, 22))
    assert review_emails()[-1][1].startswith("Review due on 22 December 2027")
    verified_client(client, head)  # a year on: signed in afresh
    dashboard = page(client.get("/staff/"))
    assert "Review due soon" in dashboard and "22 December 2027" in dashboard


def test_an_overdue_review_moves_to_a_year_from_today(school, head, clock):
    alsop = CodeFactory(owner=school)
    published_version(alsop, effective_from=datetime.date(2019, 9, 1), review_due=datetime.date(2020, 12, 1))
    review = services.code_review_record(code=alsop, user=head)
    assert review.next_review_due == datetime.date(2027, 11, 1)


def test_a_double_submit_moves_the_date_once(client, verified_client, code, head, clock):
    verified_client(client, head)
    form = {"note": "", "review_due": "2026-12-22"}
    client.post(f"/staff/codes/{code.pk}/review/", form)
    response = client.post(f"/staff/codes/{code.pk}/review/", form)
    assert "Nothing was changed" in page(client.get(response["Location"]))
    assert CodeReview.objects.count() == 1
    assert services.code_review_due(code) == datetime.date(2027, 12, 22)


def test_a_new_version_brings_its_own_review_date(code, head, clock):
    services.code_review_record(code=code, user=head)
    assert services.code_review_due(code) == datetime.date(2027, 12, 22)
    published_version(code, effective_from=datetime.date(2026, 11, 1), review_due=datetime.date(2027, 6, 1))
    assert services.code_review_due(code) == datetime.date(2027, 6, 1)


def test_only_the_codes_headteacher_or_association_admin_may_record_a_review(
    client, verified_client, school, code, head, clock
):
    office = StaffRoleFactory(organisation=school, role=StaffRole.Role.OFFICE).user
    other_head = StaffRoleFactory(organisation=SchoolFactory(), role=StaffRole.Role.HEADTEACHER).user
    form = {"note": "", "review_due": "2026-12-22"}
    for user in (office, other_head):
        verified_client(client, user)
        assert client.post(f"/staff/codes/{code.pk}/review/", form).status_code == 404
    verified_client(client, office)
    assert "Record the review" not in page(client.get(f"/staff/codes/{code.pk}/"))
    verified_client(client, head)
    assert client.get(f"/staff/codes/{code.pk}/review/").status_code == 405
    client.logout()
    assert client.post(f"/staff/codes/{code.pk}/review/", form).status_code == 302  # to sign in
    assert not CodeReview.objects.exists()

    association = AssociationFactory()
    member = SchoolFactory(association=association)
    member_head = StaffRoleFactory(organisation=member, role=StaffRole.Role.HEADTEACHER).user
    admin = StaffRoleFactory(organisation=association, role=StaffRole.Role.ASSOCIATION_ADMIN).user
    shared = CodeFactory(owner=association)
    published_version(shared, effective_from=datetime.date(2025, 12, 22), review_due=REVIEW_DUE)
    verified_client(client, member_head)
    assert client.post(f"/staff/codes/{shared.pk}/review/", form).status_code == 404
    verified_client(client, admin)
    assert client.post(f"/staff/codes/{shared.pk}/review/", form).status_code == 302
    assert CodeReview.objects.get().reviewed_by == admin


def test_a_recorded_review_is_never_changed(code, head, clock):
    review = services.code_review_record(code=code, user=head)
    review.note = "changed"
    with pytest.raises(ValueError):
        review.save()
