"""The retention job's other purges (evidence/purges.py): old audit events, addresses in the outbox,
expired signing requests, finished task rows and carers whose children all left long ago, each
counted in one audit event per school and run. Today is 22 November 2026 (tests/conftest.py);
the periods are the defaults: audit log 6 years, addresses 90 days, expired links 365 days,
task rows 30 days, the school's declarations and carers 6 years."""

import datetime
import json
from contextlib import contextmanager
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import ProtectedError
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from declarations.models import Declaration, Decline, SigningRequest
from evidence.pdf import evidence_trail
from evidence.retention import retention_run
from schools.audit import audit_record
from schools.audit import summary as log_line
from schools.models import AuditEvent, Carer, Pupil, PupilCarer
from sending.models import OutboxMessage, SendBatch
from tests.declarations.evidence import sign_online
from tests.declarations.factories import NOW, add_child, family, issued_link
from tests.factories import CodeFactory, published_version

pytestmark = pytest.mark.django_db

Action = AuditEvent.Action
UTC = datetime.UTC


def day(year, month, date, hour=12) -> datetime.datetime:
    return datetime.datetime(year, month, date, hour, 0, tzinfo=UTC)


@contextmanager
def clock_at(now, when: datetime.datetime):
    """Do something as if at `when`, then come back to today."""
    now.move_to(when)
    try:
        yield
    finally:
        now.move_to(NOW)


def old_event(now, school, when, action=Action.VIEW_CARER, **kwargs) -> AuditEvent:
    with clock_at(now, when):
        return audit_record(actor=None, school=school, action=action, **kwargs)


def run_events(school=None):
    events = AuditEvent.objects.filter(action=Action.RETENTION_RUN).order_by("pk")
    return list(events.filter(school=school) if school else events)


def erased(carer) -> bool:
    """The carer's personal data is gone: erased, or the whole record deleted."""
    return not Carer.objects.filter(pk=carer.pk, erased_at__isnull=True).exists()


def left(carer, on: datetime.date):
    Pupil.objects.filter(carer_links__carer=carer).update(on_roll=False, left_on=on)


def expire(signing_request, on: datetime.datetime):
    SigningRequest.objects.filter(pk=signing_request.pk).update(expires_at=on)


# ---------------------------------------------------------------------------------------------
# The audit log


def test_audit_events_older_than_the_period_go_and_one_event_says_how_many(now, school, headteacher):
    gone = old_event(now, school, day(2019, 3, 1))
    kept_deletion_record = old_event(now, school, day(2019, 3, 1), Action.RETENTION_DELETE, detail={"pdf_sha256": "ab"})
    recent = old_event(now, school, day(2021, 3, 1))

    summary = retention_run()

    assert not AuditEvent.objects.filter(pk=gone.pk).exists()
    assert AuditEvent.objects.filter(pk__in=[kept_deletion_record.pk, recent.pk]).count() == 2
    assert summary.purged["audit events deleted"] == 1
    (event,) = run_events(school)
    assert (event.actor, event.carer, event.target) == (None, None, "Retention")
    assert event.detail["counts"]["audit events deleted"] == 1 and event.detail["run_on"] == "2026-11-22"
    assert event.detail["periods"]["audit log (years)"] == 6


def test_the_audit_log_period_is_a_setting(now, school, settings):
    settings.PORTAL_AUDIT_LOG_KEEP_YEARS = 3
    recent = old_event(now, school, day(2021, 3, 1))
    newer = old_event(now, school, day(2024, 3, 1))
    retention_run()
    assert not AuditEvent.objects.filter(pk=recent.pk).exists() and AuditEvent.objects.filter(pk=newer.pk).exists()


def test_each_school_gets_one_event_per_run_and_a_second_run_adds_none(now, school, other_school):
    for organisation in (school, other_school):
        old_event(now, organisation, day(2019, 3, 1))
        old_event(now, organisation, day(2019, 4, 1))
    retention_run()
    assert [(e.school, e.detail["counts"]["audit events deleted"]) for e in run_events()] == [
        (school, 2), (other_school, 2)
    ]
    assert log_line(run_events(school)[0]) == "2 audit events deleted (run on 2026-11-22)"
    again = retention_run()
    assert not again.purged and len(run_events()) == 2


def test_cut_offs_are_at_midnight_so_runs_every_few_minutes_purge_and_record_once_a_day(now, school):
    old_event(now, school, day(2020, 11, 21, 9))
    morning = old_event(now, school, day(2020, 11, 22, 9))  # 6 years ago this morning
    retention_run()
    now.move_to(day(2026, 11, 22, 18))
    retention_run()
    assert AuditEvent.objects.filter(pk=morning.pk).exists() and len(run_events(school)) == 1
    now.move_to(day(2026, 11, 23, 0) + datetime.timedelta(minutes=15))
    retention_run()
    assert not AuditEvent.objects.filter(pk=morning.pk).exists() and len(run_events(school)) == 2


# ---------------------------------------------------------------------------------------------
# Addresses in the outbox


def outbox_row(carer, version, kind, *, status, created, sent=None, error=""):
    message = OutboxMessage.objects.create(
        school=carer.school, carer=carer, version=version, kind=kind, status=status,
        to_address=carer.email, sent_at=sent, error=error,
    )
    OutboxMessage.objects.filter(pk=message.pk).update(created_at=created)
    return message


def test_addresses_in_old_outbox_rows_are_blanked_and_the_rows_kept(school, version, carer):
    Kind, Status = OutboxMessage.Kind, OutboxMessage.Status
    old_sent = outbox_row(carer, version, Kind.INVITATION, status=Status.SENT, created=day(2026, 8, 1), sent=day(2026, 8, 1))
    recent_sent = outbox_row(carer, version, Kind.REMINDER_1, status=Status.SENT, created=day(2026, 9, 1), sent=day(2026, 9, 1))
    old_failed = outbox_row(
        carer, version, Kind.REMINDER_2, status=Status.FAILED, created=day(2026, 8, 1),
        error=f"550 5.1.1 <{carer.email}>: mailbox unavailable",
    )
    old_waiting = outbox_row(carer, version, Kind.REMINDER_3, status=Status.PENDING, created=day(2026, 8, 1))

    summary = retention_run()

    for message in (old_sent, recent_sent, old_failed, old_waiting):
        message.refresh_from_db()
    assert (old_sent.to_address, old_sent.status, old_sent.sent_at) == ("", Status.SENT, day(2026, 8, 1))
    assert (old_failed.to_address, old_failed.error) == ("", "")
    assert recent_sent.to_address == carer.email, "sent 82 days ago: kept for now"
    assert old_waiting.to_address == carer.email, "still to be sent"
    assert summary.purged["e-mail addresses removed"] == 2
    assert "e-mail addresses removed" not in retention_run().purged


def test_the_address_period_is_a_setting(school, version, carer, settings):
    settings.PORTAL_EMAIL_ADDRESS_KEEP_DAYS = 30
    sent = outbox_row(
        carer, version, OutboxMessage.Kind.INVITATION, status=OutboxMessage.Status.SENT,
        created=day(2026, 10, 1), sent=day(2026, 10, 1),
    )
    retention_run()
    sent.refresh_from_db()
    assert sent.to_address == ""


def test_the_batch_page_says_an_address_was_not_kept_rather_than_show_the_current_one(
    client, verified_client, school, version, carer, office
):
    batch = SendBatch.objects.create(school=school, version=version, audience_kind=SendBatch.AudienceKind.ALL)
    message = outbox_row(
        carer, version, OutboxMessage.Kind.INVITATION, status=OutboxMessage.Status.SENT,
        created=day(2026, 8, 1), sent=day(2026, 8, 1),
    )
    OutboxMessage.objects.filter(pk=message.pk).update(batch=batch)
    Carer.objects.filter(pk=carer.pk).update(email="new.address@example.org")
    retention_run()
    verified_client(client, office)
    page = client.get(reverse("sending:batch", args=[school.slug, batch.pk])).content.decode()
    assert "Not kept" in page and "new.address@example.org" not in page and carer.email not in page


# ---------------------------------------------------------------------------------------------
# Expired signing requests


@pytest.fixture
def two_versions(school):
    """Version 1 in force from September 2023, version 2 (to sign again) from September 2024."""
    code = CodeFactory(owner=school)
    first = published_version(code, effective_from=datetime.date(2023, 9, 1))
    second = published_version(code, body="## Expectations\n\nBe kinder.", effective_from=datetime.date(2024, 9, 1))
    return first, second


def test_requests_expired_long_ago_are_deleted_unless_evidence_or_a_current_ask_needs_them(now, school, two_versions):
    first, second = two_versions
    unsigned = family(school, forename="Una", surname="Unsigned", email="una@example.org")
    signed = family(school, forename="Sig", surname="Signed", email="sig@example.org")
    recent = family(school, forename="Rae", surname="Recent", email="rae@example.org")
    outstanding = family(school, forename="Otto", surname="Outstanding", email="otto@example.org")
    moved_on = family(school, forename="Mo", surname="Moved", email="mo@example.org")

    old_unsigned, _ = issued_link(unsigned, first)
    with clock_at(now, day(2024, 3, 1)):  # while version 1 was in force
        declaration = sign_online(signed, first)
    recently_expired, _ = issued_link(recent, first)
    current_ask, _ = issued_link(outstanding, second)
    no_longer_asked, _ = issued_link(moved_on, second)
    left(moved_on, datetime.date(2025, 7, 20))  # not asked to sign any more (and not yet 6 years)
    for request in (old_unsigned, declaration.request, current_ask, no_longer_asked):
        expire(request, day(2025, 1, 1))
    expire(recently_expired, day(2026, 6, 1))

    summary = retention_run()

    assert set(SigningRequest.objects.values_list("pk", flat=True)) == {
        declaration.request_id, recently_expired.pk, current_ask.pk
    }
    assert summary.purged["expired links deleted"] == 2
    declaration.refresh_from_db()
    assert declaration.request.carer == signed, "the evidence link in the declaration still works"
    assert any(event.what.startswith("Asked to sign") for event in evidence_trail(declaration))


def test_a_request_a_declaration_points_at_cannot_be_deleted_by_any_route(school, version, carer):
    declaration = sign_online(carer, version)
    with pytest.raises(ProtectedError):
        SigningRequest.objects.filter(pk=declaration.request_id).delete()
    assert Declaration.objects.get(pk=declaration.pk).request_id is not None


# ---------------------------------------------------------------------------------------------
# Finished background tasks


def task_row(status, finished_at):
    return DBTaskResult.objects.create(
        status=status, finished_at=finished_at, args_kwargs={"args": [1], "kwargs": {}}, task_path="sending.outbox.send_batch",
        backend_name="default", run_after=day(2026, 9, 1), exception_class_path="", traceback="",
    )


def test_finished_task_rows_older_than_the_period_are_deleted(db):
    task_row("SUCCESSFUL", day(2026, 10, 1))
    task_row("FAILED", day(2026, 10, 1))
    recent = task_row("SUCCESSFUL", day(2026, 11, 1))
    waiting = task_row("READY", None)
    running = task_row("RUNNING", None)

    summary = retention_run()

    assert set(DBTaskResult.objects.values_list("pk", flat=True)) == {recent.pk, waiting.pk, running.pk}
    assert summary.task_results_deleted == 2


# ---------------------------------------------------------------------------------------------
# Carers whose children all left long ago


@pytest.fixture
def carers(now, school, version):
    """Carers in every situation the rule knows (the school keeps data 6 years after leaving)."""
    gone = family(school, forename="Gwen", surname="Gone", email="gwen@example.org", children=(("Gus", "Gone", "6", "6A"),))
    signer = family(school, forename="Sian", surname="Signer", email="sian@example.org", children=(("Sol", "Signer", "6", "6A"),))
    recent = family(school, forename="Rhys", surname="Recent", email="rhys@example.org", children=(("Ria", "Recent", "6", "6A"),))
    sibling = family(school, forename="Sara", surname="Sibling", email="sara@example.org", children=(("Seb", "Sibling", "6", "6A"),))
    on_roll = family(school, forename="Owen", surname="Onroll", email="owen@example.org", children=(("Ola", "Onroll", "2", "2A"),))

    # Gwen declined in 2019 (the decline and its record are older than the audit log's 6 years)…
    request, _ = issued_link(gone, version)
    decline = Decline.objects.create(
        school=school, carer=gone, version=version, request=request, message="I'd rather not, my daughter is leaving",
        declined_at=day(2019, 3, 1), ip_address="203.0.113.7",
    )
    old_event(now, school, day(2019, 3, 1), Action.DECLINE, carer=gone, detail={"decline": decline.pk})
    OutboxMessage.objects.create(
        school=school, carer=gone, version=version, kind="invitation", status="sent", to_address=gone.email,
        sent_at=day(2019, 2, 1),
    )
    # …Sian signed, which the audit log records (this year's record of it is kept 6 years).
    sign_online(signer, version)
    left(gone, datetime.date(2019, 7, 19))
    left(signer, datetime.date(2020, 7, 20))
    left(recent, datetime.date(2024, 7, 19))
    left(sibling, datetime.date(2018, 7, 20))
    add_child(sibling, forename="Sue", surname="Sibling", year_group="1", reg_group="1A")  # on roll
    return {"gone": gone, "signer": signer, "recent": recent, "sibling": sibling, "on_roll": on_roll}


def test_carers_whose_children_all_left_long_ago_are_erased_and_deleted_when_nothing_points_at_them(carers, school):
    gone, signer = carers["gone"], carers["signer"]
    pupils = Pupil.objects.count()

    summary = retention_run()

    # Gwen: nothing points at her any more (her decline and the 2019 record are past their time).
    assert not Carer.objects.filter(pk=gone.pk).exists()
    assert not Decline.objects.exists()
    assert not OutboxMessage.objects.filter(carer_id=gone.pk).exists()
    assert not SigningRequest.objects.filter(carer_id=gone.pk).exists()
    # Sian: her declaration is deleted under its own rule; the record of her signing still points
    # at her, so her row stays, with no personal data, until that record goes.
    signer.refresh_from_db()
    assert (signer.forename, signer.surname, signer.email, signer.title) == ("Erased", f"carer #{signer.pk}", "", "")
    assert signer.erased_at is not None and not PupilCarer.objects.filter(carer=signer).exists()
    assert not Declaration.objects.filter(carer=signer).exists()
    # Everyone else is as they were, and every pupil is still there.
    for name in ("recent", "sibling", "on_roll"):
        carer = Carer.objects.get(pk=carers[name].pk)
        assert carer.erased_at is None and carer.email and carer.pupil_links.exists()
    assert Pupil.objects.count() == pupils

    assert (summary.purged["carers erased"], summary.purged["carer records deleted"], summary.purged["declines deleted"]) == (2, 1, 1)
    (event,) = run_events(school)
    counts = event.detail["counts"]
    assert (counts["carers erased"], counts["carer records deleted"], counts["declines deleted"]) == (2, 1, 1)
    assert counts["declarations deleted"] == 1
    logged = json.dumps(event.detail)
    assert "Gwen" not in logged and "Sian" not in logged and "gwen@example.org" not in logged


def test_an_erased_carers_record_goes_once_the_last_record_pointing_at_it_has(carers, now):
    signer = carers["signer"]
    retention_run()
    now.move_to(day(2032, 11, 23))  # the record of her signing (22 November 2026) is 6 years old
    retention_run()
    assert not Carer.objects.filter(pk=signer.pk).exists()


def test_the_schools_own_period_decides_for_carers(carers, school):
    school.declaration_retention_years = 2
    school.save()
    retention_run()
    assert erased(carers["recent"])  # left July 2024
    assert not erased(carers["sibling"])  # a child on roll


def test_a_carer_is_erased_when_their_time_comes_and_not_before(carers, now):
    recent = carers["recent"]  # child left 19 July 2024: kept until 19 July 2030
    now.move_to(day(2030, 7, 18))
    retention_run()
    assert not erased(recent)
    now.move_to(day(2030, 7, 19))
    retention_run()
    assert erased(recent)


# ---------------------------------------------------------------------------------------------
# Dry run, command, schedule


def test_a_dry_run_counts_and_changes_nothing(carers, now, school):
    old_event(now, school, day(2019, 5, 1))
    events = AuditEvent.objects.count()
    summary = retention_run(dry_run=True)
    assert summary.purged["carers erased"] == 2 and summary.purged["audit events deleted"] == 2
    assert AuditEvent.objects.count() == events and not run_events()
    assert Carer.objects.filter(erased_at__isnull=False).count() == 0
    assert "Also, if run: 2 audit events deleted; 1 e-mail addresses removed; 2 carers erased" in str(summary)


def test_the_command_and_the_scheduler_report_every_purge(carers):
    out = StringIO()
    call_command("apply_retention", "--dry-run", stdout=out)
    assert "2 carers erased" in out.getvalue() and Carer.objects.filter(erased_at__isnull=False).count() == 0
    call_command("run_scheduled", "--step", "retention", stdout=out)
    assert "2 carers erased" in out.getvalue() and "1 carer records deleted" in out.getvalue()
    assert Carer.objects.filter(erased_at__isnull=False).count() == 1


def test_another_school_is_not_touched_by_this_schools_run(carers, now, other_school):
    theirs = old_event(now, other_school, day(2024, 3, 1))
    their_carer = family(other_school, forename="Tom", surname="Theirs", email="tom@example.org")
    left(their_carer, datetime.date(2024, 7, 19))
    retention_run()
    assert AuditEvent.objects.filter(pk=theirs.pk).exists()
    assert Carer.objects.get(pk=their_carer.pk).erased_at is None
    assert not run_events(other_school)
