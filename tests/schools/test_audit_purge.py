"""The audit log's one way out: the retention job deletes a school's events older than its cut-off,
and the database still refuses every other deletion and every change. Runs on SQLite here and on
PostgreSQL in CI's second pass (the triggers differ: schools/migrations/0007_audit_purge.py)."""

import datetime

import pytest
from django.db import DatabaseError, connection, transaction

from schools.audit import audit_purge, audit_record
from schools.models import AuditEvent, AuditPurge

pytestmark = pytest.mark.django_db

CUT_OFF = datetime.datetime(2020, 11, 22, 0, 0, tzinfo=datetime.UTC)


def event_on(now, school, when: datetime.datetime, action=AuditEvent.Action.VIEW_CARER) -> AuditEvent:
    """An event recorded at `when` (the clock is moved there for it, and back)."""
    back = datetime.datetime(2026, 11, 22, 12, 0, tzinfo=datetime.UTC)
    now.move_to(when)
    event = audit_record(actor=None, school=school, action=action, detail={"n": 1})
    now.move_to(back)
    return event


@pytest.fixture
def events(now, school, other_school):
    return {
        "old": event_on(now, school, datetime.datetime(2019, 3, 1, 9, 0, tzinfo=datetime.UTC)),
        "just_before": event_on(now, school, CUT_OFF - datetime.timedelta(seconds=1)),
        "at_cut_off": event_on(now, school, CUT_OFF),
        "recent": event_on(now, school, datetime.datetime(2026, 11, 1, 9, 0, tzinfo=datetime.UTC)),
        "old_kept": event_on(
            now, school, datetime.datetime(2019, 3, 1, 9, 0, tzinfo=datetime.UTC), AuditEvent.Action.RETENTION_DELETE
        ),
        "other_school_old": event_on(now, other_school, datetime.datetime(2019, 3, 1, 9, 0, tzinfo=datetime.UTC)),
    }


def remaining():
    return set(AuditEvent.objects.values_list("pk", flat=True))


def test_the_purge_deletes_only_the_schools_events_older_than_the_cut_off(events, school):
    deleted = audit_purge(school=school, older_than=CUT_OFF, keep=(AuditEvent.Action.RETENTION_DELETE,))

    assert deleted == 2
    assert remaining() == {events[name].pk for name in ("at_cut_off", "recent", "old_kept", "other_school_old")}
    assert not AuditPurge.objects.exists(), "the permit does not outlive the purge"


def test_without_a_permit_the_database_refuses_to_delete_even_an_old_event(events):
    for attempt in (
        lambda: AuditEvent.objects.filter(pk=events["old"].pk).delete(),
        lambda: connection.cursor().execute("DELETE FROM schools_auditevent WHERE id = %s", [events["old"].pk]),
    ):
        with pytest.raises(DatabaseError), transaction.atomic():
            attempt()
    assert events["old"].pk in remaining()


def test_a_permit_lets_through_only_its_schools_events_before_its_cut_off(events, school):
    with transaction.atomic():
        AuditPurge.objects.create(school=school, older_than=CUT_OFF)
        for name in ("at_cut_off", "recent", "other_school_old"):  # too new, or another school's
            with pytest.raises(DatabaseError), transaction.atomic():
                AuditEvent.objects.filter(pk=events[name].pk).delete()
        with pytest.raises(DatabaseError), transaction.atomic():  # and no change, ever
            AuditEvent.objects.filter(pk=events["old"].pk).update(detail={"n": 2})
        AuditEvent.objects.filter(pk=events["old"].pk).delete()
        AuditPurge.objects.all().delete()
    assert remaining() == {events[name].pk for name in events if name != "old"}
    assert AuditEvent.objects.get(pk=events["just_before"].pk).detail == {"n": 1}


def test_a_purge_that_fails_part_way_deletes_nothing_and_leaves_no_permit(events, school, monkeypatch):
    def broken_delete(self):
        raise DatabaseError("the connection dropped")

    monkeypatch.setattr(AuditPurge, "delete", broken_delete)
    with pytest.raises(DatabaseError):
        audit_purge(school=school, older_than=CUT_OFF)
    monkeypatch.undo()
    assert remaining() == {event.pk for event in events.values()}
    assert not AuditPurge.objects.exists()
