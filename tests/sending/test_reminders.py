"""Reminders on each school's cadence, and new families invited after an import: run by the
scheduler (sending/scheduler.py) with the clock frozen, and run twice to show that every step
is taken once."""

import datetime

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from declarations.models import SigningRequest
from schools.models import AuditEvent, Organisation, Pupil
from schools.services import families_import
from sending import invitations, scheduler
from sending.models import OutboxMessage, ScheduledStep, SendBatch
from tests.declarations.cycle import (
    emails_to,
    families,
    next_version,
    outbox,
    run_scheduled,
    send_everything,
)
from tests.declarations.factories import NOW, add_child
from tests.factories import SchoolFactory
from tests.schools.test_imports import export, pair
from tests.sending.test_sending import parent, record_decline, record_signature

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tasks")]

DAY = datetime.timedelta(days=1)
Kind = OutboxMessage.Kind


@pytest.fixture
def version(school_code):
    return school_code.versions.get()


def invite_and_send(school):
    """Invite everyone who has not signed, and send it, now (as staff and the worker would)."""
    invitations.invitations_send(school=school, audience="all-unsigned", user=None)
    send_everything()


def reminders(**filters) -> list[tuple[int, str]]:
    """(carer id, kind) of every reminder in the outbox, in order."""
    return list(
        OutboxMessage.objects.filter(kind__startswith="reminder", **filters)
        .order_by("carer_id", "kind")
        .values_list("carer_id", "kind")
    )


def run_at(now, moment, times=1):
    now.move_to(moment)
    for _ in range(times):
        run_scheduled()


def run_daily(now, until_days, *, hour=1):
    """The scheduler running through each day (as cron would), up to NOW + until_days."""
    for days in range(1, until_days + 1):
        run_at(now, NOW + days * DAY + hour * datetime.timedelta(hours=1))


# The cadence.


def test_reminders_go_3_7_and_14_days_after_the_invitation_then_stop(school, version, now):
    carer = parent(school)
    invite_and_send(school)

    run_at(now, NOW + 2 * DAY + 23 * datetime.timedelta(hours=1), times=2)
    assert reminders() == []
    assert list(ScheduledStep.objects.filter(carer=carer).values_list("kind", "due_at")) == [
        ("reminder-1", NOW + 3 * DAY), ("reminder-2", NOW + 7 * DAY), ("reminder-3", NOW + 14 * DAY)
    ]  # the schedule is data: what is due for whom, and when

    run_at(now, NOW + 3 * DAY, times=2)
    assert reminders() == [(carer.pk, "reminder-1")]
    run_at(now, NOW + 7 * DAY + datetime.timedelta(minutes=15), times=2)
    run_at(now, NOW + 14 * DAY, times=2)
    run_at(now, NOW + 60 * DAY, times=2)
    assert reminders() == [(carer.pk, "reminder-1"), (carer.pk, "reminder-2"), (carer.pk, "reminder-3")]


def test_running_the_scheduler_twice_sends_each_reminder_once_and_the_worker_sends_it(school, version, now):
    carer = parent(school)
    invite_and_send(school)
    mail.outbox = []
    run_at(now, NOW + 3 * DAY, times=2)
    send_everything()
    run_at(now, NOW + 3 * DAY + datetime.timedelta(minutes=15), times=2)
    send_everything()

    [email] = emails_to(carer.email)
    assert email.subject.startswith(f"Reminder: please read and sign Whitefield Primary School's social media code of conduct – for {carer.full_name} (")
    assert "/sign/t/" in email.body
    request = SigningRequest.objects.get(carer=carer)
    assert (request.reminders_sent, request.last_reminded_at) == (1, NOW + 3 * DAY)
    batch = SendBatch.objects.get(kind="reminder")
    assert batch.audience_description == "Reminders to carers who have not signed" and batch.finished_at is not None
    assert AuditEvent.objects.filter(action="send_invitations", detail__batch=batch.pk).count() == 1


def test_each_school_sets_its_own_cadence_and_maximum(school, version, now):
    Organisation.objects.filter(pk=school.pk).update(reminder_days="2,5", max_reminders=2)
    quick = parent(school)
    other = SchoolFactory()
    from tests.factories import CodeFactory, published_version

    published_version(CodeFactory(owner=other))
    Organisation.objects.filter(pk=other.pk).update(reminder_days="10", max_reminders=3)
    slow = parent(other)
    invite_and_send(school)
    invite_and_send(other)

    for days in range(0, 40):
        run_at(now, NOW + days * DAY + datetime.timedelta(minutes=1))
    assert list(OutboxMessage.objects.filter(kind__startswith="reminder").values_list("carer_id", "kind", "created_at")) == [
        (quick.pk, "reminder-1", NOW + 2 * DAY + datetime.timedelta(minutes=1)),
        (quick.pk, "reminder-2", NOW + 5 * DAY + datetime.timedelta(minutes=1)),
        (slow.pk, "reminder-1", NOW + 10 * DAY + datetime.timedelta(minutes=1)),
    ]


def test_max_reminders_is_respected_even_when_lowered_after_the_invitation(school, version, now):
    carer = parent(school)
    invite_and_send(school)
    run_at(now, NOW + 3 * DAY)  # reminder 1 goes, reminders 2 and 3 are written
    Organisation.objects.filter(pk=school.pk).update(max_reminders=1)
    run_at(now, NOW + 30 * DAY, times=2)
    assert reminders() == [(carer.pk, "reminder-1")]
    assert set(ScheduledStep.objects.filter(kind__in=["reminder-2", "reminder-3"]).values_list("outcome", flat=True)) == {
        "Not needed: the school sends at most 1 reminder."
    }


def test_a_school_with_no_reminders_sends_none(school, version, now):
    Organisation.objects.filter(pk=school.pk).update(max_reminders=0)
    parent(school)
    invite_and_send(school)
    run_at(now, NOW + 30 * DAY)
    assert reminders() == [] and not ScheduledStep.objects.exclude(kind="invite").exists()


def test_after_a_long_pause_one_reminder_goes_not_three_at_once(school, version, now):
    carer = parent(school)
    invite_and_send(school)
    run_at(now, NOW + 20 * DAY, times=2)  # the scheduler did not run for 20 days
    assert reminders() == [(carer.pk, "reminder-3")]
    assert sorted(ScheduledStep.objects.exclude(kind="invite").values_list("kind", "outcome")) == [
        ("reminder-1", "Passed over: a later reminder was due at the same time."),
        ("reminder-2", "Passed over: a later reminder was due at the same time."),
        ("reminder-3", "Reminder queued."),
    ]


# Reminders stop.


def test_reminders_stop_the_moment_the_carer_signs(school, version, now):
    signer, other = parent(school, forename="Sid"), parent(school, forename="Oli")
    invite_and_send(school)
    run_at(now, NOW + 3 * DAY)
    now.move_to(NOW + 4 * DAY)
    record_signature(signer, version)
    run_daily(now, 30)
    assert reminders(carer=signer) == [(signer.pk, "reminder-1")]
    assert len(reminders(carer=other)) == 3
    assert set(ScheduledStep.objects.filter(carer=signer, kind__in=["reminder-2", "reminder-3"]).values_list(
        "outcome", flat=True)) == {"Not needed: signed."}


def test_a_reminder_queued_but_not_yet_sent_is_not_sent_once_the_carer_signs(school, version, now):
    carer = parent(school)
    invite_and_send(school)
    run_at(now, NOW + 3 * DAY)
    record_signature(carer, version)
    mail.outbox = []
    send_everything()
    assert mail.outbox == []
    assert OutboxMessage.objects.get(kind=Kind.REMINDER_1).status == "skipped"


def test_reminders_stop_when_the_carer_declines(school, version, now):
    carer = parent(school)
    invite_and_send(school)
    record_decline(carer, version)
    run_at(now, NOW + 30 * DAY)
    assert reminders() == []


def test_no_reminders_to_carers_whose_only_children_have_left(school, version, now):
    leaver, stayer = parent(school, forename="Len"), parent(school, forename="Sal")
    add_child(stayer, forename="Old", surname="Leaver", on_roll=False)
    invite_and_send(school)
    run_at(now, NOW + 3 * DAY)
    Pupil.objects.filter(carer_links__carer=leaver).update(on_roll=False, left_on=datetime.date(2026, 11, 24))
    run_daily(now, 30)
    assert reminders(carer=leaver) == [(leaver.pk, "reminder-1")]
    assert len(reminders(carer=stayer)) == 3
    assert set(ScheduledStep.objects.filter(carer=leaver, done_at__isnull=False, kind__in=["reminder-2", "reminder-3"])
               .values_list("outcome", flat=True)) == {
        "Not needed: no longer asked to sign (children left, erased, or no e-mail address)."
    }


def test_carers_whose_only_children_have_left_drop_out_of_the_completion_figures(school, version):
    from declarations.selectors import school_status

    leaver, stayer = parent(school, forename="Len"), parent(school, forename="Sal")
    add_child(stayer, forename="Old", surname="Leaver", on_roll=False)
    assert (school_status(school, version).total, school_status(school, version).outstanding) == (2, 2)
    Pupil.objects.filter(carer_links__carer=leaver).update(on_roll=False, left_on=datetime.date(2026, 11, 24))
    status = school_status(school, version)
    assert (status.total, status.outstanding) == (1, 1) and [row.carer for row in status.rows] == [stayer]


def test_carers_whose_children_left_before_the_invitation_went_get_no_reminder_steps_at_all(school, version, now):
    carer = parent(school)
    invite_and_send(school)
    Pupil.objects.filter(carer_links__carer=carer).update(on_roll=False, left_on=datetime.date(2026, 11, 22))
    run_at(now, NOW + 30 * DAY)
    assert not ScheduledStep.objects.exclude(kind="invite").exists() and reminders() == []


def test_a_new_version_to_sign_replaces_the_old_reminders_with_its_own(school, school_code, version, now):
    carer = parent(school)
    invite_and_send(school)
    run_at(now, NOW + 3 * DAY)
    newer = next_version(school_code, effective_from=datetime.date(2026, 11, 26))
    scheduler.version_invitations_schedule(version_id=newer.pk)
    run_at(now, NOW + 4 * DAY + datetime.timedelta(hours=1))  # version 2 in force: its invitation goes
    send_everything()
    run_at(now, NOW + 7 * DAY + datetime.timedelta(hours=2), times=2)
    assert reminders(version=version) == [(carer.pk, "reminder-1")]  # not reminder-2 of version 1
    assert ScheduledStep.objects.get(version=version, kind="reminder-2").outcome == (
        "Not needed: there is a newer version to sign."
    )
    run_at(now, NOW + 7 * DAY + datetime.timedelta(hours=3))
    assert reminders(version=newer) == [(carer.pk, "reminder-1")]  # 3 days after its own invitation


def test_a_minor_correction_keeps_the_reminders_going(school, school_code, version, now):
    carer = parent(school)
    invite_and_send(school)
    next_version(school_code, requires_signing=False, effective_from=datetime.date(2026, 11, 23))
    run_daily(now, 30)
    assert len(reminders(carer=carer)) == 3


# Never twice, even after a crash.


def test_a_crash_part_way_through_the_reminders_then_a_rerun_reminds_each_carer_once(school, version, now, monkeypatch):
    carers = families(school, 12)
    invite_and_send(school)
    monkeypatch.setattr(scheduler, "CHUNK_SIZE", 5)
    original, calls = invitations.outbox_queue, {"n": 0}

    def crash_on_the_second_chunk(**kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker killed")
        return original(**kwargs)

    monkeypatch.setattr(invitations, "outbox_queue", crash_on_the_second_chunk)
    now.move_to(NOW + 3 * DAY)
    with pytest.raises(scheduler.StepsFailed):
        run_scheduled()
    assert len(reminders()) == 5  # the first chunk, committed; the second rolled back
    monkeypatch.setattr(invitations, "outbox_queue", original)
    run_scheduled()
    run_scheduled()
    assert outbox(kind=Kind.REMINDER_1) == {carer.pk: 1 for carer in carers}
    assert ScheduledStep.objects.filter(kind="reminder-1", done_at__isnull=True).count() == 0


def test_a_failing_step_does_not_stop_the_others_and_the_command_fails(school, version, now, monkeypatch):
    from django.core.management import CommandError, call_command

    parent(school)
    invite_and_send(school)
    now.move_to(NOW + 3 * DAY)
    ran = []

    def broken(moment):
        raise RuntimeError("broken")

    monkeypatch.setattr(scheduler, "STEPS", [("broken", broken), ("reminders", scheduler.reminders_run),
                                             ("last", lambda moment: ran.append(moment) or {})])
    with pytest.raises(CommandError, match="1 scheduled step\\(s\\) failed: broken"):
        call_command("run_scheduled")
    assert len(reminders()) == 1 and ran == [NOW + 3 * DAY]


# The school's settings.


@pytest.mark.parametrize("value", ["3,7,14", "1", "5, 10", "2,30,365"])
def test_reminder_days_accepts_up_to_three_increasing_numbers(school, value):
    school.reminder_days = value
    school.full_clean()


@pytest.mark.parametrize("value", ["", "0", "7,3", "3,3", "1,2,3,4", "a", "3;7", "400", "-1"])
def test_reminder_days_refuses_anything_else(school, value):
    school.reminder_days = value
    with pytest.raises(ValidationError) as error:
        school.full_clean()
    assert "reminder_days" in error.value.message_dict


def test_the_defaults_are_3_7_14_at_most_3_and_new_families_invited(school):
    school.refresh_from_db()
    assert (school.reminder_days, school.max_reminders, school.invite_starters_automatically) == ("3,7,14", 3, True)
    assert school.reminder_cadence == [3, 7, 14]


# New families after an import.


FIRST_EXPORT = export(
    pair(adno="001", forename="Amy", surname="Able", year="Year 5", reg="5B", contact_forename="Ann",
         contact_surname="Able", email="ann@example.org"),
    pair(adno="002", forename="Ben", surname="Baker", year="Year 3", reg="3A", contact_forename="Bob",
         contact_surname="Baker", email="bob@example.org"),
)
SECOND_EXPORT = export(
    pair(adno="001", forename="Amy", surname="Able", year="Year 5", reg="5B", contact_forename="Ann",
         contact_surname="Able", email="ann@example.org"),
    pair(adno="002", forename="Ben", surname="Baker", year="Year 3", reg="3A", contact_forename="Bob",
         contact_surname="Baker", email="bob@example.org"),
    pair(adno="003", forename="Cal", surname="Cole", year="Year 1", reg="1C", contact_forename="Cat",
         contact_surname="Cole", email="cat@example.org"),
)


def _import(school, data, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        families_import(school=school, filename="export.csv", data=data)


def _carer(email):
    from schools.models import Carer

    return Carer.objects.get(email=email)


def test_carers_of_new_pupils_are_invited_automatically_after_an_import(
    school, version, now, tasks, django_capture_on_commit_callbacks
):
    _import(school, FIRST_EXPORT, django_capture_on_commit_callbacks)
    scheduler.starters_invite(school_id=school.pk)
    assert not OutboxMessage.objects.exists()  # the first import invites nobody: the school chooses when

    invitations.invitations_send(school=school, audience=("year", "5"), user=None)  # only year 5 so far
    now.move_to(NOW + 10 * DAY)
    tasks.clear()
    _import(school, SECOND_EXPORT, django_capture_on_commit_callbacks)
    assert [(result.task.name, result.args) for result in tasks.results] == [("invite_starters", [school.pk])]

    assert scheduler.starters_invite(school_id=school.pk) == {"schools": 1, "new carers invited": 1}
    assert scheduler.starters_invite(school_id=school.pk) == {}
    run_scheduled()
    assert outbox(kind=Kind.INVITATION) == {_carer("ann@example.org").pk: 1, _carer("cat@example.org").pk: 1}
    batch = SendBatch.objects.get(audience_kind=SendBatch.AudienceKind.STARTERS)
    assert batch.version == version


def test_new_families_are_not_invited_when_the_school_turned_it_off(
    school, version, now, tasks, django_capture_on_commit_callbacks
):
    Organisation.objects.filter(pk=school.pk).update(invite_starters_automatically=False)
    school.refresh_from_db()
    _import(school, FIRST_EXPORT, django_capture_on_commit_callbacks)
    invite_and_send(school)
    now.move_to(NOW + 10 * DAY)
    tasks.clear()
    _import(school, SECOND_EXPORT, django_capture_on_commit_callbacks)
    assert tasks.results == []
    assert scheduler.starters_invite(school_id=school.pk) == {}
    run_scheduled()
    assert _carer("cat@example.org").pk not in outbox(kind=Kind.INVITATION)


def test_the_scheduler_invites_new_families_whose_task_never_ran(school, version, now, django_capture_on_commit_callbacks):
    _import(school, FIRST_EXPORT, django_capture_on_commit_callbacks)
    invite_and_send(school)
    now.move_to(NOW + DAY)
    families_import(school=school, filename="export.csv", data=SECOND_EXPORT)  # its on-commit task is lost
    run_scheduled()
    run_scheduled()
    assert outbox(kind=Kind.INVITATION)[_carer("cat@example.org").pk] == 1


def test_a_new_carer_of_a_pupil_already_at_the_school_is_invited_too(school, version, now):
    amy = parent(school, forename="Ann")
    invite_and_send(school)
    now.move_to(NOW + DAY)
    from tests.schools.factories import CarerFactory, PupilCarerFactory

    stepdad = CarerFactory(school=school, forename="Steve", email="steve@example.org")
    PupilCarerFactory(pupil=amy.children.get(), carer=stepdad, parental_responsibility=True)
    scheduler.starters_invite(school_id=school.pk)
    assert outbox(kind=Kind.INVITATION) == {amy.pk: 1, stepdad.pk: 1}


def test_new_families_are_invited_to_the_version_in_force_and_reminded_like_everyone(school, school_code, version, now):
    ann = parent(school, forename="Ann")
    invite_and_send(school)
    now.move_to(NOW + DAY)
    cat = parent(school, forename="Cat")
    scheduler.starters_invite(school_id=school.pk)
    send_everything()
    run_at(now, NOW + 4 * DAY)
    assert reminders() == [(ann.pk, "reminder-1"), (cat.pk, "reminder-1")]


def test_staff_see_the_reminders_with_their_progress_on_the_sending_pages(
    school, version, now, client, verified_client, office
):
    parent(school, forename="Ann", surname="Able")
    invite_and_send(school)
    run_at(now, NOW + 3 * DAY)
    batch = SendBatch.objects.get(kind="reminder")
    verified_client(client, office)
    listing = client.get(f"/staff/sending/{school.slug}/").content.decode()
    assert "Reminders to carers who have not signed" in listing
    detail = client.get(f"/staff/sending/{school.slug}/batches/{batch.pk}/").content.decode()
    assert "<h1>Reminders of 25 November 2026, 12:00</h1>" in detail
    assert "the portal itself (the schedule, or the command line)" in detail and "First reminder" in detail
