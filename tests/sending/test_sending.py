"""Sending invitations: who is chosen, the outbox that never e-mails anyone twice, the worker that
sends it, the command, and the staff pages (with who may use them)."""

import datetime
import html
import re
import smtplib
from collections import Counter
from contextlib import contextmanager

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from declarations import services
from declarations.models import Declaration, Decline, SigningRequest
from schools.models import AuditEvent, Carer, Pupil, PupilCarer, StaffRole
from sending import claims, invitations, outbox
from sending import progress as batch_progress
from sending.models import OutboxMessage, SendBatch
from sending.scheduler import run_scheduled
from tests.declarations.factories import NOW, issued_link  # noqa: F401 (shared)
from tests.factories import SchoolFactory, StaffRoleFactory, UserFactory
from tests.schools.factories import CarerFactory, PupilCarerFactory, PupilFactory
from tests.worker import LOCMEM_MAIL, run_worker, use_database_tasks  # noqa: F401 (shared)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("database_tasks", "locmem_mail")]


# Shared with other modules: the worker and settings of tests/worker.py.
LOCMEM = LOCMEM_MAIL
def parent(school, *, year="5", reg="5B", email="auto", responsible=True, on_roll=True, **carer_fields) -> Carer:
    """A carer of one child at the school."""
    pupil = PupilFactory(
        school=school,
        year_group=year,
        reg_group=reg,
        on_roll=on_roll,
        left_on=None if on_roll else datetime.date(2026, 7, 20),
    )
    if email != "auto":
        carer_fields["email"] = email
    carer = CarerFactory(school=school, **carer_fields)
    PupilCarerFactory(pupil=pupil, carer=carer, parental_responsibility=responsible)
    return carer


def many_parents(school, n, *, year="5", reg="5B") -> list[Carer]:
    """n carers, each with parental responsibility for one child on roll: inserted in bulk."""
    pupils = Pupil.objects.bulk_create(
        Pupil(school=school, mis_id=f"P{i:06d}", forename="Child", surname=f"Number{i}", year_group=year, reg_group=reg)
        for i in range(n)
    )
    carers = Carer.objects.bulk_create(
        Carer(school=school, mis_id=f"C{i:06d}", forename="Parent", surname=f"Number{i}", email=f"parent{i}@example.org")
        for i in range(n)
    )
    PupilCarer.objects.bulk_create(
        PupilCarer(pupil=pupil, carer=carer, parental_responsibility=True, priority=1)
        for pupil, carer in zip(pupils, carers)
    )
    return carers


def record_signature(carer, version, *, method=Declaration.Method.ONLINE, recorded_by=None) -> Declaration:
    return Declaration.objects.create(
        school=carer.school,
        carer=carer,
        version=version,
        version_fingerprint=version.fingerprint,
        carer_name=carer.full_name,
        children_named=[],
        statement="I agree.",
        typed_name=carer.full_name,
        agreed=True,
        signed_at=timezone.now(),
        method=method,
        recorded_by=recorded_by,
    )


def record_decline(carer, version) -> Decline:
    return Decline.objects.create(
        school=carer.school, carer=carer, version=version, message="No thank you.", declined_at=timezone.now()
    )


def addresses_sent() -> list[str]:
    return [address for message in mail.outbox for address in message.to]


@contextmanager
def failing_after(n, error):
    """The mail connection takes n e-mails, then raises `error` for every one after."""
    original = LocmemBackend.send_messages
    calls = {"n": 0}

    def send_messages(self, messages):
        calls["n"] += 1
        if calls["n"] > n:
            raise error
        return original(self, messages)

    LocmemBackend.send_messages = send_messages
    try:
        yield calls
    finally:
        LocmemBackend.send_messages = original


# Fixtures.


@pytest.fixture(autouse=True)
def now():
    """22 November 2026, noon, and still: dates in e-mails, and the lease moved past by hand."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def version(school_code):
    return school_code.versions.get()


@pytest.fixture
def everyone(school, version):
    """Carers of each kind: two to invite, and one of each who must not get an e-mail."""
    return {
        "ann": parent(school, year="5", reg="5B", forename="Ann", surname="Able"),
        "bob": parent(school, year="3", reg="3A", forename="Bob", surname="Baker"),
        "signed": parent(school, forename="Sid", surname="Signed"),
        "declined": parent(school, forename="Dee", surname="Declined"),
        "no_email": parent(school, email="", forename="Nora", surname="Noemail"),
        "left": parent(school, on_roll=False, forename="Len", surname="Left"),
        "no_pr": parent(school, responsible=False, forename="Nat", surname="Notresponsible"),
        "erased": parent(school, forename="Erin", surname="Erased"),
        "elsewhere": parent(SchoolFactory(), forename="Olga", surname="Otherschool"),
    }


@pytest.fixture
def answered(everyone, version):
    record_signature(everyone["signed"], version)
    record_decline(everyone["declined"], version)
    Carer.objects.filter(pk=everyone["erased"].pk).update(erased_at=timezone.now())
    return everyone


def invited_carers(**filters):
    return set(OutboxMessage.objects.filter(**filters).values_list("carer_id", flat=True))


# Choosing who to invite.


def test_inviting_everyone_unsigned_queues_one_email_per_eligible_carer_and_skips_the_rest(
    school, version, headteacher, answered
):
    batch = invitations.invitations_send(school=school, audience="all-unsigned", user=headteacher)

    assert invited_carers() == {answered["ann"].pk, answered["bob"].pk}
    assert set(batch.messages.values_list("kind", "sequence", "status", "version_id")) == {
        ("invitation", 0, "pending", version.pk)
    }
    assert batch.summary.to_send == 2 and batch.summary.already_invited == 0
    assert [c.pk for c in batch.summary.needs_paper_form] == [answered["no_email"].pk]
    assert batch.version == version and batch.created_by == headteacher
    assert batch.audience_description == "Everyone who has not signed"


def test_repeating_the_send_adds_nothing(school, version, headteacher, answered):
    invitations.invitations_send(school=school, audience="all-unsigned", user=headteacher)
    again = invitations.invitations_send(school=school, audience="all-unsigned", user=headteacher)

    assert OutboxMessage.objects.count() == 2
    assert again.messages.count() == 0
    assert again.summary.to_send == 0 and again.summary.already_invited == 2
    assert again.finished_at is not None  # nothing to wait for


def test_a_carer_invited_with_their_year_group_is_not_invited_again_with_everyone(school, version, answered):
    year = invitations.invitations_send(school=school, audience=("year", "5"), user=None)
    reg = invitations.invitations_send(school=school, audience=("reg", "3A"), user=None)
    everyone = invitations.invitations_send(school=school, audience="all-unsigned", user=None)

    assert invited_carers(batch=year) == {answered["ann"].pk}
    assert invited_carers(batch=reg) == {answered["bob"].pk}
    assert everyone.messages.count() == 0 and everyone.summary.already_invited == 2


def test_one_carer_can_be_invited_but_not_one_from_another_school(school, version, answered):
    one = invitations.invitations_send(school=school, audience=("carer", answered["bob"].pk), user=None)
    other = invitations.invitations_send(school=school, audience=("carer", answered["elsewhere"].pk), user=None)
    assert invited_carers(batch=one) == {answered["bob"].pk}
    assert other.messages.count() == 0
    assert (one.audience_kind, one.audience_value) == ("carer", str(answered["bob"].pk))
    assert one.audience_description == f"One carer: #{answered['bob'].pk}"


def test_the_preview_says_what_a_send_would_do_and_does_nothing(school, version, answered):
    invitations.invitations_send(school=school, audience=("year", "5"), user=None)
    preview = invitations.invitations_preview(school=school, audience="all-unsigned")
    assert (preview.to_send, preview.already_invited, len(preview.needs_paper_form)) == (1, 1, 1)
    assert OutboxMessage.objects.count() == 1


def test_a_school_without_a_version_in_force_cannot_send(school):
    with pytest.raises(Exception, match="no code of conduct"):
        invitations.invitations_send(school=school, audience="all-unsigned", user=None)


def test_a_send_is_recorded_in_the_audit_log_without_names(school, version, headteacher, answered):
    batch = invitations.invitations_send(school=school, audience=("carer", answered["ann"].pk), user=headteacher)
    event = AuditEvent.objects.get(action="send_invitations")
    assert event.actor == headteacher and event.school == school and event.carer == answered["ann"]
    assert event.detail == {
        "batch": batch.pk,
        "version": version.number,
        "audience": f"One carer: #{answered['ann'].pk}",
        "queued": 1,
        "already_invited": 0,
        "needs_paper_form": 0,
    }
    assert "Ann" not in str(event.detail) and "@" not in str(event.detail)


@pytest.mark.parametrize(
    "audience, words",
    [
        ("all-unsigned", "Everyone who has not signed"),
        (("year", "R"), "Year group: R"),
        (("reg", "5B"), "Registration group: 5B"),
        (("carer", 12), "One carer: #12"),
    ],
)
def test_a_batch_keeps_who_it_was_for_and_says_it_in_words(school, version, audience, words):
    batch = invitations.invitations_send(school=school, audience=audience, user=None)
    batch.refresh_from_db()
    assert invitations.audience_parse(audience) == invitations.Audience(batch.audience_kind, batch.audience_value)
    assert batch.audience_description == words


@pytest.mark.parametrize("audience", ["everyone", ("year", ""), ("carer", "Ann"), ("starters", "5")])
def test_an_audience_that_is_not_one_is_refused_and_nothing_is_written(school, version, audience):
    with pytest.raises(ValidationError, match="Not an audience to send to"):
        invitations.invitations_send(school=school, audience=audience, user=None)
    assert not SendBatch.objects.exists()


def test_staff_of_another_school_cannot_send_resume_or_send_again(school, version, answered, headteacher):
    batch = invitations.invitations_send(school=school, audience="all-unsigned", user=headteacher, enqueue=False)
    with failing_after(0, smtplib.SMTPRecipientsRefused({})):
        outbox.outbox_send_pending(batch_id=batch.pk)
    failed = batch.messages.first()
    stranger = StaffRoleFactory(organisation=SchoolFactory(), role=StaffRole.Role.HEADTEACHER).user
    events = AuditEvent.objects.count()

    with pytest.raises(PermissionDenied):
        invitations.invitations_send(school=school, audience="all-unsigned", user=stranger)
    with pytest.raises(PermissionDenied):
        invitations.batch_resume(batch=batch, user=stranger)
    with pytest.raises(PermissionDenied):
        invitations.outbox_message_resend(message=failed, user=stranger)
    with pytest.raises(PermissionDenied):
        invitations.batch_resend_problems(batch=batch, user=stranger)

    assert SendBatch.objects.count() == 1 and not OutboxMessage.objects.filter(sequence__gt=0).exists()
    assert AuditEvent.objects.count() == events


def test_sending_the_waiting_emails_again_is_recorded_in_the_audit_log(
    school, version, answered, headteacher, django_capture_on_commit_callbacks
):
    batch = invitations.invitations_send(school=school, audience="all-unsigned", user=headteacher, enqueue=False)
    with django_capture_on_commit_callbacks(execute=True):
        invitations.batch_resume(batch=batch, user=headteacher)
    event = AuditEvent.objects.filter(action="send_invitations", detail__has_key="resumed").get()
    assert event.actor == headteacher and event.detail == {"batch": batch.pk, "version": version.number, "resumed": 2}
    assert DBTaskResult.objects.filter(task_path="sending.outbox.send_batch").count() == 1


# Sending.


def test_the_send_is_queued_on_commit_and_the_database_worker_sends_it(
    school, version, answered, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        batch = invitations.invitations_send(school=school, audience="all-unsigned", user=None)
    assert len(callbacks) == 1
    task = DBTaskResult.objects.get()
    assert task.task_path == "sending.outbox.send_batch" and task.args_kwargs["args"] == [batch.pk]
    assert mail.outbox == []  # nothing goes before the worker runs

    run_worker()

    assert sorted(addresses_sent()) == sorted([answered["ann"].email, answered["bob"].email])
    assert set(batch.messages.values_list("status", flat=True)) == {"sent"}
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"
    batch.refresh_from_db()
    assert batch.finished_at is not None
    request = SigningRequest.objects.get(carer=answered["ann"], version=version)
    assert request.sent_at is not None and request.token_hash and request.expires_at is not None


def test_nothing_is_queued_when_the_send_is_rolled_back(school, version, answered, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        invitations.invitations_send(school=school, audience="all-unsigned", user=None)
    assert len(callbacks) == 1 and not DBTaskResult.objects.exists()


def test_a_claimed_row_is_not_sent_by_a_second_worker(school, version, answered):
    batch = invitations.invitations_send(school=school, audience="all-unsigned", user=None, enqueue=False)
    ann_row = batch.messages.get(carer=answered["ann"])
    # Another worker claims Ann's row first.
    assert OutboxMessage.objects.filter(pk=ann_row.pk, status="pending").update(
        status="sending", claimed_at=timezone.now()
    )

    assert outbox.outbox_message_send(ann_row.pk) == "taken"
    result = outbox.outbox_send_pending(batch_id=batch.pk)

    assert result == {"sent": 1, "failed": 0, "skipped": 0, "taken": 0}
    assert addresses_sent() == [answered["bob"].email]
    ann_row.refresh_from_db()
    assert ann_row.status == "sending"


def test_sending_uses_one_mail_connection_for_the_whole_batch(school, version, monkeypatch):
    many_parents(school, 30)
    opened = []
    original_open = LocmemBackend.open

    def counting_open(self):
        opened.append(self)
        return original_open(self)

    monkeypatch.setattr(LocmemBackend, "open", counting_open)
    monkeypatch.setattr(outbox, "CHUNK_SIZE", 7)  # several chunks, still one connection
    batch = invitations.invitations_send(school=school, audience="all-unsigned", user=None, enqueue=False)
    assert outbox.outbox_send_pending(batch_id=batch.pk)["sent"] == 30
    assert len(opened) == 1 and len(mail.outbox) == 30


def test_a_carer_who_signs_before_the_email_goes_is_not_sent_it(school, version, answered):
    batch = invitations.invitations_send(school=school, audience="all-unsigned", user=None, enqueue=False)
    record_signature(answered["ann"], version)
    Pupil.objects.filter(carer_links__carer=answered["bob"]).update(on_roll=False, left_on=datetime.date(2026, 11, 1))

    assert outbox.outbox_send_pending(batch_id=batch.pk) == {"sent": 0, "failed": 0, "skipped": 2, "taken": 0}
    assert mail.outbox == []
    reasons = {message.carer_id: message.get_skip_reason_display() for message in batch.messages.all()}
    assert reasons[answered["ann"].pk] == "Not sent: signed before the e-mail went."
    assert reasons[answered["bob"].pk] == "Not sent: no longer a parent or carer of a pupil on roll."


def test_an_address_the_server_refuses_fails_alone_and_the_rest_go(school, version, answered):
    batch = invitations.invitations_send(school=school, audience="all-unsigned", user=None, enqueue=False)
    refused = smtplib.SMTPRecipientsRefused({answered["ann"].email: (550, b"No such mailbox")})
    original = LocmemBackend.send_messages

    def send_messages(self, messages):
        if messages[0].to == [answered["ann"].email]:
            raise refused
        return original(self, messages)

    LocmemBackend.send_messages = send_messages
    try:
        result = outbox.outbox_send_pending(batch_id=batch.pk)
    finally:
        LocmemBackend.send_messages = original

    assert result == {"sent": 1, "failed": 1, "skipped": 0, "taken": 0}
    ann_row = batch.messages.get(carer=answered["ann"])
    assert ann_row.status == "failed" and "No such mailbox" in ann_row.error
    batch.refresh_from_db()
    assert batch.finished_at is not None


def test_when_the_mail_server_is_down_the_email_waits_and_a_retry_is_queued(school, version, answered, now):
    batch = invitations.invitations_send(school=school, audience="all-unsigned", user=None, enqueue=False)
    with failing_after(0, smtplib.SMTPServerDisconnected("Connection unexpectedly closed")):
        with pytest.raises(outbox.MailServerUnavailable):
            outbox.outbox_send_pending(batch_id=batch.pk)

    first = batch.messages.order_by("pk").first()
    assert first.status == "pending" and first.attempts == 1 and "Connection unexpectedly closed" in first.error
    retry = DBTaskResult.objects.get()
    assert retry.task_path == "sending.outbox.send_batch" and retry.run_after > timezone.now()
    assert mail.outbox == []

    now.shift(outbox.RETRY_AFTER + datetime.timedelta(seconds=1))
    run_worker()
    assert sorted(addresses_sent()) == sorted([answered["ann"].email, answered["bob"].email])


def test_when_the_mail_server_cannot_be_reached_no_email_is_touched_and_a_retry_is_queued(
    school, version, answered, monkeypatch
):
    batch = invitations.invitations_send(school=school, audience="all-unsigned", user=None, enqueue=False)

    def refuse(self):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(LocmemBackend, "open", refuse)
    with pytest.raises(outbox.MailServerUnavailable, match="Could not connect to the mail server"):
        outbox.outbox_send_pending(batch_id=batch.pk)

    assert set(batch.messages.values_list("status", "attempts")) == {("pending", 0)}
    assert not SigningRequest.objects.filter(token_hash__isnull=False).exists()  # no link replaced
    assert DBTaskResult.objects.get().run_after > timezone.now()


def test_an_email_the_server_keeps_failing_gives_up_after_a_few_tries(school, version, answered):
    batch = invitations.invitations_send(school=school, audience=("carer", answered["ann"].pk), user=None, enqueue=False)
    with failing_after(0, OSError("Network is unreachable")):
        for _ in range(claims.MAX_ATTEMPTS):
            with pytest.raises(outbox.MailServerUnavailable):
                outbox.outbox_send_pending(batch_id=batch.pk)
    row = batch.messages.get()
    assert row.status == "failed" and row.attempts == claims.MAX_ATTEMPTS
    assert row.error.startswith(f"Gave up after {claims.MAX_ATTEMPTS} tries.")


def die_after_the_server_took_it(item):
    raise SystemExit("worker killed")  # after the mail server took the e-mail, before it was marked


def links_in_emails() -> dict[str, list[str]]:
    """The links each address was sent, in order."""
    sent = {}
    for email in mail.outbox:
        sent.setdefault(email.to[0], []).extend(re.findall(r"/sign/t/([A-Za-z0-9_-]+)/", email.body))
    return sent


def test_each_email_is_marked_sent_the_moment_the_server_takes_it(school, version, monkeypatch):
    parents = many_parents(school, 5)
    batch = invitations.invitations_send(school=school, audience="all-unsigned", user=None, enqueue=False)
    original, marked = claims.mark_sent, []

    def mark_and_look(item):
        original(item)
        marked.append(Counter(batch.messages.values_list("status", flat=True)))

    monkeypatch.setattr(claims, "mark_sent", mark_and_look)
    outbox.outbox_send_pending(batch_id=batch.pk)
    # The whole batch is claimed at once, yet each is sent before the next goes.
    assert marked == [Counter(sent=n, sending=5 - n) for n in range(1, 6)]
    assert sorted(addresses_sent()) == sorted(carer.email for carer in parents)


def test_a_worker_that_dies_mid_send_leaves_its_row_to_be_taken_up_after_the_lease_with_the_same_link(
    school, version, answered, now, monkeypatch, headteacher
):
    batch = invitations.invitations_send(school=school, audience="all-unsigned", user=None, enqueue=False)
    monkeypatch.setattr(outbox, "CHUNK_SIZE", 1)  # rows are claimed one at a time
    monkeypatch.setattr(claims, "mark_sent", die_after_the_server_took_it)
    with pytest.raises(SystemExit):
        outbox.outbox_send_pending(batch_id=batch.pk)
    monkeypatch.undo()
    [first] = mail.outbox
    stuck = batch.messages.get(status="sending")

    # Another worker, within the lease: the row is still the dead worker's, the rest go.
    outbox.outbox_send_pending(batch_id=batch.pk)
    assert sorted(addresses_sent()) == sorted([answered["ann"].email, answered["bob"].email])
    assert batch.messages.get(pk=stuck.pk).status == "sending"
    progress = batch_progress.batch_progress(batch)
    assert (progress.sending, progress.sent, progress.in_progress) == (1, 1, True)
    batch.refresh_from_db()
    assert batch.finished_at is None  # not finished while a row may yet go
    with pytest.raises(Exception, match="Only an e-mail that failed can be sent again"):
        invitations.outbox_message_resend(message=stuck, user=headteacher)

    # After the lease the sweep takes it back and asks a worker to send the batch.
    now.shift(claims.lease() + datetime.timedelta(seconds=1))
    assert outbox.outbox_recover()["e-mails taken back from stopped workers"] == 1
    assert batch.messages.get(pk=stuck.pk).status == "pending"
    run_worker()
    assert batch.messages.get(pk=stuck.pk).status == "sent"
    assert len(mail.outbox) == 3 and mail.outbox[-1].to == first.to  # the one in flight, twice
    [link, same] = links_in_emails()[first.to[0]]
    assert link == same and services.link_check(token=link).carer == stuck.carer
    with pytest.raises(Exception, match="Only an e-mail that failed can be sent again"):
        invitations.outbox_message_resend(message=stuck, user=headteacher)
    batch.refresh_from_db()
    assert batch.finished_at is not None


def test_a_worker_that_dies_leaves_the_rows_it_claimed_to_the_sweep_and_only_the_one_in_flight_goes_twice(
    school, version, now, monkeypatch
):
    parents = many_parents(school, 5)
    batch = invitations.invitations_send(school=school, audience="all-unsigned", user=None, enqueue=False)
    monkeypatch.setattr(outbox, "CHUNK_SIZE", 2)  # claimed two at a time
    with monkeypatch.context() as patch:
        patch.setattr(claims, "mark_sent", die_after_the_server_took_it)
        with pytest.raises(SystemExit):
            outbox.outbox_send_pending(batch_id=batch.pk)  # the first went; the second was never tried
    assert len(mail.outbox) == 1

    assert outbox.outbox_send_pending(batch_id=batch.pk) == {"sent": 3, "failed": 0, "skipped": 0, "taken": 0}
    assert outbox.outbox_send_pending() == {"sent": 0, "failed": 0, "skipped": 0, "taken": 0}
    assert batch_progress.batch_progress(batch).sending == 2

    now.shift(claims.lease() + datetime.timedelta(seconds=1))
    outbox.outbox_send_pending()  # any sending run takes back what a dead worker held, first
    sent_to = Counter(addresses_sent())
    assert sent_to.keys() == {carer.email for carer in parents}
    assert sorted(sent_to.values()) == [1, 1, 1, 1, 2]
    assert all(len(set(links)) == 1 for links in links_in_emails().values())  # the same link each time
    assert Counter(batch.messages.values_list("status", flat=True)) == {"sent": 5}


def test_the_sweep_asks_again_for_a_batch_whose_task_died_with_its_worker_once_a_lease(
    school, version, answered, now
):
    batch = invitations.invitations_send(school=school, audience="all-unsigned", user=None, enqueue=False)
    assert outbox.outbox_recover()["batches asked for again"] == 0  # just queued: a worker may be on its way
    now.shift(claims.lease() + datetime.timedelta(seconds=1))
    assert outbox.outbox_recover()["batches asked for again"] == 1
    assert outbox.outbox_recover()["batches asked for again"] == 0  # asked already: not again so soon
    tasks = DBTaskResult.objects.filter(task_path="sending.outbox.send_batch")
    assert [task.args_kwargs["args"] for task in tasks] == [[batch.pk]]

    now.shift(claims.lease() + datetime.timedelta(seconds=1))
    assert run_scheduled()["e-mails left by stopped workers"]["batches asked for again"] == 1
    run_worker()
    assert sorted(addresses_sent()) == sorted([answered["ann"].email, answered["bob"].email])
    now.shift(claims.lease() * 3)
    assert not any(outbox.outbox_recover().values())  # sent: nothing more to ask for


def test_the_sweep_asks_again_for_an_email_sent_on_its_own_whose_task_was_lost(school, version, answered, now):
    ann = answered["ann"]
    message = OutboxMessage.objects.create(school=school, carer=ann, version=version, kind="new-link", sequence=1)
    now.shift(claims.lease() + datetime.timedelta(seconds=1))
    assert outbox.outbox_recover()["e-mails asked for again"] == 1
    assert outbox.outbox_recover()["e-mails asked for again"] == 0
    run_worker()
    assert OutboxMessage.objects.get(pk=message.pk).status == "sent" and addresses_sent() == [ann.email]


def test_a_worker_that_keeps_going_renews_its_hold_and_the_sweep_leaves_its_rows_alone(
    school, version, now, monkeypatch
):
    many_parents(school, 4)
    batch = invitations.invitations_send(school=school, audience="all-unsigned", user=None, enqueue=False)
    sweeps, original = [], LocmemBackend.send_messages

    def slow_send(self, messages):  # each e-mail takes half a lease; a sweep runs meanwhile
        now.shift(claims.lease() / 2)
        sweeps.append(outbox.outbox_recover()["e-mails taken back from stopped workers"])
        return original(self, messages)

    monkeypatch.setattr(LocmemBackend, "send_messages", slow_send)
    result = outbox.outbox_send_pending(batch_id=batch.pk)
    assert result["sent"] == 4 and sweeps == [0, 0, 0, 0] and len(mail.outbox) == 4


def test_a_worker_that_stalled_past_its_lease_leaves_the_rows_taken_back_to_another(school, version, now, monkeypatch):
    parents = many_parents(school, 3)
    batch = invitations.invitations_send(school=school, audience="all-unsigned", user=None, enqueue=False)
    original, stalled = LocmemBackend.send_messages, []

    def stall_once(self, messages):  # the first e-mail takes longer than a lease; the sweep runs
        if not stalled:
            now.shift(claims.lease() * 2)
            stalled.append(outbox.outbox_recover(sweep=False)["e-mails taken back from stopped workers"])
        return original(self, messages)

    monkeypatch.setattr(LocmemBackend, "send_messages", stall_once)
    result = outbox.outbox_send_pending(batch_id=batch.pk, limit=3)
    assert stalled == [3] and (result["sent"], result["taken"]) == (1, 2)  # the other two are not its own now
    assert outbox.outbox_send_pending(batch_id=batch.pk)["sent"] == 2
    assert sorted(addresses_sent()) == sorted(carer.email for carer in parents)  # each once


def test_rows_that_stopped_a_worker_every_time_fail_for_staff_to_see(school, version, answered, now, monkeypatch):
    batch = invitations.invitations_send(
        school=school, audience=("carer", answered["ann"].pk), user=None, enqueue=False
    )
    monkeypatch.setattr(claims, "mark_sent", die_after_the_server_took_it)
    for _ in range(claims.MAX_ATTEMPTS):
        with pytest.raises(SystemExit):
            outbox.outbox_send_pending(batch_id=batch.pk)
        now.shift(claims.lease() + datetime.timedelta(seconds=1))
        outbox.outbox_recover()
    row = batch.messages.get()
    assert row.status == "failed" and row.error.startswith(f"The worker sending this e-mail stopped {claims.MAX_ATTEMPTS} times")
    assert len(set(links_in_emails()[answered["ann"].email])) == 1  # every try carried the same link


def test_a_sent_email_cannot_be_sent_again_and_one_sent_again_not_twice(school, version, answered, headteacher):
    batch = invitations.invitations_send(school=school, audience="all-unsigned", user=None, enqueue=False)
    with failing_after(0, smtplib.SMTPRecipientsRefused({})):
        outbox.outbox_send_pending(batch_id=batch.pk)
    failed = batch.messages.get(carer=answered["ann"])
    assert failed.status == "failed"
    invitations.outbox_message_resend(message=failed, user=headteacher)
    with pytest.raises(Exception, match="already been sent again"):
        invitations.outbox_message_resend(message=failed, user=headteacher)
    outbox.outbox_send_pending(batch_id=batch.pk)
    sent = batch.messages.get(carer=answered["ann"], sequence=1)
    with pytest.raises(Exception, match="Only an e-mail that failed"):
        invitations.outbox_message_resend(message=sent, user=headteacher)


def failed(school, n) -> tuple[SendBatch, list[Carer]]:
    """A batch to n carers whose every e-mail the mail server refused."""
    parents = many_parents(school, n)
    batch = invitations.invitations_send(school=school, audience="all-unsigned", user=None, enqueue=False)
    with failing_after(0, smtplib.SMTPRecipientsRefused({})):
        outbox.outbox_send_pending(batch_id=batch.pk)
    assert batch_progress.batch_progress(batch).failed == n
    return batch, parents


def test_sending_again_to_everyone_whose_email_failed_adds_one_row_each_once(
    school, version, now, monkeypatch, headteacher
):
    batch, parents = failed(school, 5)
    record_signature(parents[2], version)  # signed since: not e-mailed again

    result = invitations.batch_resend_problems(batch=batch, user=headteacher)

    assert result == {"sent_again": 4, "refused": {OutboxMessage.SkipReason.SIGNED: 1}}
    again = batch.messages.filter(sequence=1)
    assert sorted(again.values_list("carer_id", flat=True)) == sorted(c.pk for c in parents if c != parents[2])
    assert set(again.values_list("status", flat=True)) == {"pending"}
    events = AuditEvent.objects.filter(action="send_invitations", actor=headteacher, detail__has_key="sent_again")
    assert sorted(events.values_list("carer_id", flat=True)) == sorted(again.values_list("carer_id", flat=True))

    second = invitations.batch_resend_problems(batch=batch, user=headteacher)  # pressed twice: nothing more
    assert second == {"sent_again": 0, "refused": {OutboxMessage.SkipReason.SIGNED: 1}}
    assert batch.messages.filter(sequence__gt=0).count() == 4
    mail.outbox = []
    outbox.outbox_send_pending(batch_id=batch.pk)
    assert sorted(addresses_sent()) == sorted(c.email for c in parents if c != parents[2])


def test_one_email_sent_again_by_someone_else_meanwhile_does_not_stop_the_rest(
    school, version, now, monkeypatch, headteacher
):
    batch, parents = failed(school, 3)
    original = invitations.outbox_message_resend
    raced = []

    def resend_after_a_colleague(*, message, user, request=None):
        if not raced:  # another member of staff pressed "Send again" on this row first
            raced.append(original(message=message, user=None))
        return original(message=message, user=user, request=request)

    monkeypatch.setattr(invitations, "outbox_message_resend", resend_after_a_colleague)
    result = invitations.batch_resend_problems(batch=batch, user=headteacher)

    assert result == {"sent_again": 2, "refused": {invitations.ResendRefusal.ALREADY_SENT_AGAIN: 1}}
    assert batch.messages.filter(sequence=1).count() == 3 and batch.messages.filter(sequence=2).count() == 0


def test_confirmation_and_new_link_emails_queued_by_signing_are_sent(school, version, answered):
    ann = answered["ann"]
    record_signature(ann, version)
    confirmation = OutboxMessage.objects.create(school=school, carer=ann, version=version, kind="confirmation")
    new_link = OutboxMessage.objects.create(school=school, carer=answered["bob"], version=version, kind="new-link", sequence=1)

    assert outbox.outbox_message_send(confirmation.pk) == "sent"
    assert outbox.outbox_message_send(new_link.pk) == "sent"
    assert outbox.outbox_message_send(new_link.pk) == "taken"  # sent already: never twice
    assert [m.subject.split(" – for ")[0] for m in mail.outbox] == [
        "Thank you for signing Whitefield Primary School's social media code of conduct",
        "Your link to sign Whitefield Primary School's social media code of conduct",
    ]
    assert not SigningRequest.objects.filter(carer=ann).exists()  # a confirmation issues no link


def test_the_send_outbox_message_task_runs_in_the_worker(school, version, answered):
    from sending.outbox import send_outbox_message

    message = OutboxMessage.objects.create(school=school, carer=answered["ann"], version=version, kind="new-link")
    send_outbox_message.enqueue(message.pk)
    run_worker()
    assert addresses_sent() == [answered["ann"].email]
    assert DBTaskResult.objects.get().return_value == "sent"


# The command.


def test_the_command_queues_invitations_and_says_what_it_did(
    school, version, answered, capsys, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("send_invitations", school.slug)
    out = capsys.readouterr().out
    assert "2 invitations queued" in out
    assert "0 carers already invited" in out
    assert "1 carer with no e-mail address that works needs a paper form" in out and "Nora Noemail" in out
    assert DBTaskResult.objects.filter(task_path="sending.outbox.send_batch").count() == 1
    assert mail.outbox == []

    call_command("send_invitations", school.slug)
    out = capsys.readouterr().out
    assert "0 invitations queued" in out and "2 carers already invited" in out
    assert OutboxMessage.objects.count() == 2


def test_the_command_with_wait_sends_without_a_worker(school, version, answered, capsys):
    call_command("send_invitations", school.slug, "--year", "5", "--wait")
    out = capsys.readouterr().out
    assert "1 invitation queued" in out and "Sent 1; failed 0" in out
    assert addresses_sent() == [answered["ann"].email]
    assert not DBTaskResult.objects.exists()


def test_the_command_sends_to_a_registration_group_or_one_carer(school, version, answered):
    call_command("send_invitations", school.slug, "--reg", "3A", "--wait")
    call_command("send_invitations", school.slug, "--carer", str(answered["ann"].pk), "--wait")
    assert addresses_sent() == [answered["bob"].email, answered["ann"].email]


def test_the_command_refuses_an_unknown_school(school, version):
    with pytest.raises(CommandError, match="There is no school with the slug “nowhere”"):
        call_command("send_invitations", "nowhere")
    assert not SendBatch.objects.exists()


def test_the_command_refuses_a_school_with_nothing_to_sign(school):
    with pytest.raises(CommandError, match="has no code of conduct yet"):
        call_command("send_invitations", school.slug)


# The staff pages.


def page_text(response) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def office(school):
    return StaffRoleFactory(organisation=school, role=StaffRole.Role.OFFICE).user


@pytest.fixture
def as_office(client, office, verified_client):
    verified_client(client, office)
    return client


@pytest.fixture
def batch(school, version, answered, office):
    return invitations.invitations_send(school=school, audience="all-unsigned", user=office, enqueue=False)


def urls_for(school, batch):
    message = batch.messages.first()
    return [
        ("get", reverse("sending:batches", args=[school.slug])),
        ("get", reverse("sending:send", args=[school.slug])),
        ("post", reverse("sending:send", args=[school.slug])),
        ("get", reverse("sending:batch", args=[school.slug, batch.pk])),
        ("post", reverse("sending:resume", args=[school.slug, batch.pk])),
        ("post", reverse("sending:resend", args=[school.slug, message.pk])),
        ("post", reverse("sending:batch_resend", args=[school.slug, batch.pk])),
    ]


@pytest.mark.parametrize("role", ["headteacher", "office"])
def test_the_schools_headteacher_and_office_staff_can_use_every_page(client, verified_client, school, batch, role):
    user = StaffRoleFactory(organisation=school, role=role).user
    verified_client(client, user)
    for method, url in urls_for(school, batch):
        response = getattr(client, method)(url)
        assert response.status_code in (200, 302), (url, response.status_code)
    assert client.get(reverse("sending:home")).status_code == 302


@pytest.mark.parametrize("who", ["other_school_head", "other_school_office", "association_admin", "superuser_no_role"])
def test_anyone_else_gets_a_404_on_every_page(client, verified_client, school, association, batch, who):
    if who == "superuser_no_role":
        user = UserFactory(is_superuser=True, is_staff=True)
    elif who == "association_admin":
        school.association = association
        school.save()
        user = StaffRoleFactory(organisation=association, role=StaffRole.Role.ASSOCIATION_ADMIN).user
    else:
        role = StaffRole.Role.HEADTEACHER if who == "other_school_head" else StaffRole.Role.OFFICE
        user = StaffRoleFactory(organisation=SchoolFactory(), role=role).user
    verified_client(client, user)
    for method, url in urls_for(school, batch):
        assert getattr(client, method)(url).status_code == 404, url
    assert SendBatch.objects.count() == 1 and OutboxMessage.objects.filter(sequence__gt=0).count() == 0


def test_pages_need_sign_in_and_the_second_factor(client, school, batch, office):
    url = reverse("sending:batch", args=[school.slug, batch.pk])
    response = client.get(url)
    assert response.status_code == 302 and reverse("staff:login") in response.url
    client.force_login(office)  # password only: no second factor yet
    response = client.get(url)
    assert response.status_code == 302 and "/staff/account/" in response.url


def test_office_staff_choose_confirm_and_send(as_office, school, version, everyone, office):
    send_url = reverse("sending:send", args=[school.slug])
    form = page_text(as_office.get(send_url))
    assert "Everyone who has not signed yet" in form and "Year 5" in form and "5B" in form

    confirm = page_text(as_office.post(send_url, {"audience": "all-unsigned"}))
    assert "Check and send" in confirm
    assert "Will be e-mailed now</dt><dd class=\"col-sm-8\"><strong>5</strong>" in confirm  # nothing answered yet: 5 with e-mail
    assert "Nora Noemail" in confirm  # needs a paper form
    assert not SendBatch.objects.exists()

    response = as_office.post(send_url, {"audience": "all-unsigned", "confirmed": "yes"})
    batch = SendBatch.objects.get()
    assert response.status_code == 302 and response.url == reverse("sending:batch", args=[school.slug, batch.pk])
    assert batch.messages.count() == 5 and batch.created_by == office
    assert AuditEvent.objects.filter(action="send_invitations", actor=office, school=school).count() == 1

    detail = page_text(as_office.get(response.url))
    assert "5 invitations queued to send." in detail
    assert "Waiting to send</th><td>5" in detail


def test_a_carer_whose_e_mail_bounced_is_listed_for_a_paper_form_not_e_mailed(as_office, school, version, everyone):
    ann = everyone["ann"]
    Carer.objects.filter(pk=ann.pk).update(email_bounced=ann.email)  # as sending.bounces records it
    send_url = reverse("sending:send", args=[school.slug])

    confirm = page_text(as_office.post(send_url, {"audience": "all-unsigned"}))
    assert "Will be e-mailed now</dt><dd class=\"col-sm-8\"><strong>4</strong>" in confirm
    assert "No e-mail address that works</dt><dd class=\"col-sm-8\">2 (need a paper form)" in confirm
    assert f"Ann Able (their e-mail to {ann.email} bounced)" in confirm and "<li>Nora Noemail</li>" in confirm

    batch_url = as_office.post(send_url, {"audience": "all-unsigned", "confirmed": "yes"}).url
    assert not OutboxMessage.objects.filter(carer=ann).exists()
    assert "2 carers have no e-mail address that works and need paper forms." in page_text(as_office.get(batch_url))


def test_choosing_a_year_group_without_saying_which_is_explained(as_office, school, version, everyone):
    response = as_office.post(reverse("sending:send", args=[school.slug]), {"audience": "year", "year": ""})
    assert "Choose a year group, or choose a different option above." in page_text(response)
    assert not SendBatch.objects.exists()


def test_one_carer_from_the_families_pages_is_preselected(as_office, school, version, everyone):
    ann = everyone["ann"]
    text = page_text(as_office.get(reverse("sending:send", args=[school.slug]) + f"?carer={ann.pk}"))
    assert f'<option value="{ann.pk}" selected>Able, Ann' in text
    confirm = page_text(as_office.post(reverse("sending:send", args=[school.slug]), {"audience": "carer", "carer": ann.pk}))
    assert "One parent or carer: Able, Ann" in confirm


def test_the_batch_page_shows_progress_failures_and_refreshes_only_when_asked(as_office, school, batch, answered, now):
    url = reverse("sending:batch", args=[school.slug, batch.pk])
    text = page_text(as_office.get(url))
    assert "Update this page every 5 seconds" in text and 'http-equiv="refresh"' not in text
    assert 'http-equiv="refresh" content="5"' in page_text(as_office.get(url + "?auto=1"))
    assert "<script" not in text

    refused = smtplib.SMTPRecipientsRefused({answered["ann"].email: (550, b"Mailbox unavailable")})
    with failing_after(1, refused):
        outbox.outbox_send_pending(batch_id=batch.pk)
    text = page_text(as_office.get(url + "?auto=1"))
    assert 'http-equiv="refresh"' not in text  # nothing waiting: it stops by itself
    assert "Sent</th><td>1" in text and "Failed</th><td>1" in text
    assert "Mailbox unavailable" in text and "Send again" in text
    assert "Need a paper form" in text and "Nora Noemail" in text


def test_send_again_from_the_batch_page(as_office, school, batch, answered, office):
    with failing_after(0, smtplib.SMTPRecipientsRefused({})):
        outbox.outbox_send_pending(batch_id=batch.pk)
    failed = batch.messages.get(carer=answered["ann"])
    response = as_office.post(reverse("sending:resend", args=[school.slug, failed.pk]))
    assert response.status_code == 302
    again = OutboxMessage.objects.get(carer=answered["ann"], sequence=1)
    assert again.status == "pending" and again.batch == batch
    assert AuditEvent.objects.filter(action="send_invitations", carer=answered["ann"], actor=office).exists()
    text = page_text(as_office.get(reverse("sending:batch", args=[school.slug, batch.pk])))
    assert "Sent again" in text


SEND_AGAIN_TO_EVERYONE = "Send again to everyone whose e-mail failed"


def test_the_send_again_to_everyone_button_shows_only_when_there_is_something_to_send_again(
    as_office, school, batch, answered, now
):
    url = reverse("sending:batch", args=[school.slug, batch.pk])
    assert SEND_AGAIN_TO_EVERYONE not in page_text(as_office.get(url))  # waiting, not failed

    with failing_after(0, smtplib.SMTPRecipientsRefused({})):
        outbox.outbox_send_pending(batch_id=batch.pk)
    text = page_text(as_office.get(url + "?page=2"))
    assert f"{SEND_AGAIN_TO_EVERYONE} (2)</button>" in text
    assert f"action=\"{reverse('sending:batch_resend', args=[school.slug, batch.pk])}\"" in text

    text = page_text(as_office.post(reverse("sending:batch_resend", args=[school.slug, batch.pk]), follow=True))
    assert "The e-mails to 2 carers will be sent again." in text
    assert SEND_AGAIN_TO_EVERYONE not in text  # both sent again: nothing left to send again
    text = page_text(as_office.post(reverse("sending:batch_resend", args=[school.slug, batch.pk]), follow=True))
    assert "There was nothing to send again." in text  # from a page left open: nothing happens


def test_send_again_to_everyone_from_the_batch_page_skips_carers_who_signed_since(
    as_office, school, version, now, monkeypatch, office, django_capture_on_commit_callbacks
):
    batch, parents = failed(school, 4)
    batch_url = reverse("sending:batch", args=[school.slug, batch.pk])
    assert f"{SEND_AGAIN_TO_EVERYONE} (4)</button>" in page_text(as_office.get(batch_url))
    for carer in parents[:2]:
        record_signature(carer, version)
    send_again = reverse("sending:batch_resend", args=[school.slug, batch.pk])

    assert as_office.get(send_again).status_code == 405
    with django_capture_on_commit_callbacks(execute=True):
        response = as_office.post(send_again, follow=True)

    assert response.redirect_chain == [(batch_url + "?show=problems", 302)]
    assert "The e-mails to 2 carers will be sent again. 2 were not: they have signed since." in page_text(response)
    again = OutboxMessage.objects.filter(batch=batch, sequence=1)
    assert sorted(again.values_list("carer_id", flat=True)) == sorted(c.pk for c in parents[2:])
    assert set(again.values_list("status", flat=True)) == {"pending"}
    for carer in parents[2:]:
        assert AuditEvent.objects.filter(action="send_invitations", carer=carer, actor=office).count() == 1
    assert DBTaskResult.objects.filter(task_path="sending.outbox.send_outbox_message").count() == 2

    with django_capture_on_commit_callbacks(execute=True):
        response = as_office.post(send_again, follow=True)  # pressed twice: nothing more
    assert "Nothing was sent again: they have signed since." in page_text(response)
    assert OutboxMessage.objects.filter(batch=batch, sequence__gt=0).count() == 2
    assert DBTaskResult.objects.filter(task_path="sending.outbox.send_outbox_message").count() == 2


@pytest.mark.parametrize("reason", [*OutboxMessage.SkipReason, *invitations.ResendRefusal])
def test_staff_are_told_in_words_why_each_email_was_not_sent_again(reason):
    from sending.views import _resent_message

    words = _resent_message({"sent_again": 0, "refused": {reason: 2}})
    assert words.startswith("Nothing was sent again: the") and words.endswith(".")
    assert "Not sent:" not in words and reason.label.rstrip(".") not in words


@pytest.mark.parametrize("role", [StaffRole.Role.HEADTEACHER, StaffRole.Role.OFFICE])
def test_staff_of_another_school_cannot_send_a_batch_again(
    client, verified_client, school, version, now, monkeypatch, role
):
    batch, parents = failed(school, 2)
    verified_client(client, StaffRoleFactory(organisation=SchoolFactory(), role=role).user)
    response = client.post(reverse("sending:batch_resend", args=[school.slug, batch.pk]))
    assert response.status_code == 404
    assert not OutboxMessage.objects.filter(sequence__gt=0).exists()


def test_the_batch_list_shows_each_send(as_office, school, batch):
    text = page_text(as_office.get(reverse("sending:batches", args=[school.slug])))
    assert "Everyone who has not signed" in text and "2 waiting" in text


def test_a_reminder_the_mail_server_failed_to_take_leaves_the_carers_link_working(school, version, answered):
    ann = answered["ann"]
    signing_request, token = issued_link(ann, version)
    batch = SendBatch.objects.create(school=school, version=version, kind="reminder", audience_kind="reminders")
    invitations.outbox_queue(batch=batch, kind="reminder-1", recipients=[(ann.pk, ann.email)])

    with failing_after(0, smtplib.SMTPServerDisconnected("Connection unexpectedly closed")):
        with pytest.raises(outbox.MailServerUnavailable):
            outbox.outbox_send_pending(batch_id=batch.pk)
    assert services.link_check(token=token).pk == signing_request.pk  # the link she has still works

    with failing_after(0, smtplib.SMTPRecipientsRefused({ann.email: (550, b"Mailbox full")})):
        outbox.outbox_send_pending(batch_id=batch.pk)
    assert batch.messages.get().status == "failed"
    assert services.link_check(token=token).pk == signing_request.pk


def test_a_large_send_is_queued_as_several_tasks_that_share_the_batch_and_email_each_carer_once(
    school, version, monkeypatch, django_capture_on_commit_callbacks
):
    parents = many_parents(school, 30)
    monkeypatch.setattr(outbox, "SENDER_SHARE", 10)  # one task per 10 e-mails: three workers may share it
    with django_capture_on_commit_callbacks(execute=True):
        batch = invitations.invitations_send(school=school, audience="all-unsigned", user=None)
    tasks = DBTaskResult.objects.filter(task_path="sending.outbox.send_batch")
    assert [task.args_kwargs["args"] for task in tasks] == [[batch.pk]] * 3

    run_worker()

    assert sorted(addresses_sent()) == sorted(carer.email for carer in parents)
    assert set(tasks.values_list("status", flat=True)) == {"SUCCESSFUL"}
    batch.refresh_from_db()
    assert batch.finished_at is not None
