"""Sending hours: invitations and reminders go only within the school's sending hours (by
default 08:00 to 19:00 UK time, Monday to Saturday) and wait until then, whichever way they were
queued; a link the carer asked for goes at once."""

import datetime
import html

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from schools.models import Organisation
from sending import invitations, links, outbox
from sending.hours import sending_opens, within_sending_hours
from sending.models import OutboxMessage, SendBatch
from sending.scheduler import run_scheduled
from tests.declarations.cycle import at, families, next_version
from tests.sending.test_sending import LOCMEM, run_worker, use_database_tasks

pytestmark = pytest.mark.django_db

SUNDAY_NOON = at(2026, 11, 22, 12)
MONDAY_8 = at(2026, 11, 23, 8)
Status = OutboxMessage.Status


@pytest.fixture(autouse=True)
def database_tasks(settings):
    use_database_tasks(settings)
    settings.MAILERS = LOCMEM
    mail.outbox = []


@pytest.fixture
def school(school):
    """The school with the sending hours every school starts with."""
    for name in ("sending_hours_from", "sending_hours_until", "sending_days"):
        setattr(school, name, Organisation._meta.get_field(name).default)
    school.save()
    return school


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run what a call queues on commit (its tasks), as the portal's own transaction would."""

    def run(function, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return function(*args, **kwargs)

    return run


def send_invitations(school):
    return invitations.invitations_send(
        school=school, audience=SendBatch.AudienceKind.ALL, user=None
    )


def london(*args):
    return timezone.make_aware(datetime.datetime(*args))


@pytest.mark.parametrize(
    ("moment", "opens"),
    [
        (london(2026, 11, 24, 12, 0), london(2026, 11, 24, 12, 0)),  # Tuesday noon: at once
        (london(2026, 11, 24, 7, 0), london(2026, 11, 24, 8, 0)),  # before eight: at eight
        (
            london(2026, 11, 24, 19, 0),
            london(2026, 11, 25, 8, 0),
        ),  # at seven in the evening: tomorrow
        (london(2026, 11, 28, 18, 59), london(2026, 11, 28, 18, 59)),  # Saturday evening: still
        (london(2026, 11, 28, 19, 30), london(2026, 11, 30, 8, 0)),  # Saturday night: Monday
        (london(2026, 11, 22, 12, 0), london(2026, 11, 23, 8, 0)),  # Sunday: Monday
        (london(2027, 6, 15, 7, 30), london(2027, 6, 15, 8, 0)),  # summer time: eight in London
    ],
)
def test_the_default_sending_hours_are_eight_to_seven_uk_time_monday_to_saturday(
    school, moment, opens
):
    assert sending_opens(school, moment) == opens
    assert within_sending_hours(school, moment) == (moment == opens)


def test_a_school_may_choose_its_own_hours_and_days_and_bad_ones_are_refused(school):
    school.sending_hours_from, school.sending_hours_until, school.sending_days = (
        datetime.time(9, 30),
        datetime.time(15, 0),
        "12345",
    )
    school.save()
    assert sending_opens(school, london(2026, 11, 27, 16, 0)) == london(
        2026, 11, 30, 9, 30
    )  # Friday → Monday
    school.sending_days = "1238"
    with pytest.raises(ValidationError, match="1 for Monday to 7 for Sunday"):
        school.full_clean()
    school.sending_days, school.sending_hours_from = "12345", datetime.time(16, 0)
    with pytest.raises(ValidationError, match="start before they end"):
        school.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        school.save()


def test_invitations_sent_on_a_sunday_wait_for_monday_morning_then_go_once(
    school, school_code, now, committed
):
    now.move_to(SUNDAY_NOON)
    carers = families(school, 3)
    committed(send_invitations, school)
    run_worker()
    assert mail.outbox == []
    waiting = OutboxMessage.objects.filter(kind=OutboxMessage.Kind.INVITATION)
    assert set(waiting.values_list("status", "not_before")) == {(Status.PENDING, MONDAY_8)}
    # The worker is asked again for Monday at eight, not before.
    assert DBTaskResult.objects.filter(status="READY", run_after=MONDAY_8).exists()

    now.move_to(at(2026, 11, 23, 7, 59))
    run_worker()
    run_scheduled()  # the sweep leaves e-mails waiting for sending hours alone
    assert mail.outbox == []

    now.move_to(MONDAY_8)
    run_worker()
    assert sorted(address for message in mail.outbox for address in message.to) == sorted(
        c.email for c in carers
    )
    run_worker()
    assert len(mail.outbox) == 3


def test_the_batch_page_says_when_held_emails_will_go_rather_than_that_the_worker_stopped(
    school, school_code, now, committed, client, verified_client, office
):
    now.move_to(SUNDAY_NOON)
    families(school, 3)
    batch = committed(send_invitations, school)
    run_worker()
    verified_client(client, office)
    page = html.unescape(client.get(f"/staff/sending/{school.slug}/batches/{batch.pk}/").content.decode())
    assert (
        f"3 e-mails wait for {school.name}'s sending hours and will go from 08:00 on Monday 23 November." in page
    )
    assert "the background worker may have stopped" not in page
    assert "Send the waiting e-mails now" not in page

    now.move_to(MONDAY_8)
    run_worker()
    verified_client(client, office)  # signed in again: it is the next day
    page = html.unescape(client.get(f"/staff/sending/{school.slug}/batches/{batch.pk}/").content.decode())
    assert "sending hours" not in page and "Finished" in page


def test_a_version_in_force_from_midnight_reprompts_when_sending_hours_begin(
    school, school_code, now, committed
):
    families(school, 2)
    now.move_to(at(2026, 11, 30, 12))
    newer = committed(next_version, school_code, effective_from=datetime.date(2026, 12, 1))
    run_worker()
    now.move_to(at(2026, 12, 1, 0, 5))  # a Tuesday: the version comes into force at midnight
    committed(run_scheduled)
    run_worker()
    assert OutboxMessage.objects.filter(version=newer).count() == 2
    assert mail.outbox == []

    now.move_to(at(2026, 12, 1, 8, 0))
    run_worker()
    assert len(mail.outbox) == 2
    assert set(OutboxMessage.objects.filter(version=newer).values_list("status", flat=True)) == {
        Status.SENT
    }


def test_a_link_the_carer_asks_for_goes_at_once_whatever_the_hour(
    school, school_code, now, committed
):
    now.move_to(at(2026, 11, 21, 12))  # invited on Saturday
    (carer,) = families(school, 1)
    committed(send_invitations, school)
    run_worker()
    mail.outbox = []
    now.move_to(SUNDAY_NOON)  # asks for a new link on Sunday
    assert committed(links.new_link_request, email=carer.email) == 1
    run_worker()
    assert [message.to for message in mail.outbox] == [[carer.email]]
    assert OutboxMessage.objects.get(kind=OutboxMessage.Kind.NEW_LINK).status == Status.SENT


def test_a_lost_task_is_asked_for_again_by_the_sweep_once_sending_hours_have_begun(
    school, school_code, now, committed
):
    now.move_to(SUNDAY_NOON)
    families(school, 2)
    committed(send_invitations, school)
    run_worker()
    DBTaskResult.objects.all().delete()  # the task for Monday morning is lost

    now.move_to(MONDAY_8 + datetime.timedelta(minutes=10))
    assert outbox.outbox_recover()["batches asked for again"] == 1
    run_worker()
    assert len(mail.outbox) == 2
