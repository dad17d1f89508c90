"""The re-prompt across a whole association, committed for real: 14 member schools, a worker that
crashes part-way through and a rerun, and (on PostgreSQL) two schedulers racing. Every carer is
invited exactly once. Runs on SQLite and PostgreSQL (CI runs the suite on both); the races need
PostgreSQL's row locks and are skipped on SQLite."""

import threading
from collections import Counter

import pytest
from django.core import mail
from django.db import connection, connections
from django_tasks_db.models import DBTaskResult

from sending import invitations, scheduler
from sending.models import OutboxMessage, ScheduledStep, SendBatch
from tests.declarations.cycle import (
    association_with_schools,
    families,
    invited,
    next_version,
    run_command,
)
from tests.sending.test_sending import addresses_sent
from tests.worker import run_worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("database_tasks", "locmem_mail")]

SCHOOLS = 14
CARERS_PER_SCHOOL = 25
CRASH_IN_SCHOOL = 6  # the sixth school's invitations are being queued when the worker dies



@pytest.fixture
def association():
    association, schools, code = association_with_schools(SCHOOLS)
    carers = [carer for school in schools for carer in families(school, CARERS_PER_SCHOOL)]
    return schools, code, carers


def test_a_reprompt_of_14_schools_that_crashes_part_way_then_reruns_invites_every_carer_exactly_once(
    association, monkeypatch
):
    schools, code, carers = association
    DBTaskResult.objects.all().delete()  # version 1's task, queued before there were any families
    original, calls = invitations.invitations_send, {"n": 0}

    def dies_in_the_sixth_school(**kwargs):
        calls["n"] += 1
        batch = original(**kwargs)
        if calls["n"] == CRASH_IN_SCHOOL:
            raise RuntimeError("worker killed part-way through a school")
        return batch

    newer = next_version(code)  # commits: the task is queued, nothing else written for carers
    [queued] = DBTaskResult.objects.all()
    assert queued.task_path == "sending.scheduler.invite_to_new_version" and not OutboxMessage.objects.exists()

    monkeypatch.setattr(invitations, "invitations_send", dies_in_the_sixth_school)
    run_worker()
    assert DBTaskResult.objects.get(pk=queued.pk).status == "FAILED"
    done = CRASH_IN_SCHOOL - 1
    assert ScheduledStep.objects.filter(version=newer, done_at__isnull=False).count() == done
    assert ScheduledStep.objects.filter(version=newer, done_at__isnull=True).count() == SCHOOLS - done
    assert SendBatch.objects.filter(version=newer).count() == done  # the sixth school's was rolled back
    assert sum(invited(newer).values()) == done * CARERS_PER_SCHOOL
    run_worker()  # the batches queued before the crash are sent meanwhile
    assert len(mail.outbox) == done * CARERS_PER_SCHOOL

    monkeypatch.setattr(invitations, "invitations_send", original)
    output = run_command()  # cron's next run
    assert f"versions coming into force: {SCHOOLS - done} schools, {(SCHOOLS - done) * CARERS_PER_SCHOOL} carers invited" in output
    run_command()
    run_worker()

    assert invited(newer) == {carer.pk: 1 for carer in carers}
    assert SendBatch.objects.filter(version=newer).count() == SCHOOLS
    sent_to = Counter(addresses_sent())
    assert sent_to.keys() == {carer.email for carer in carers} and set(sent_to.values()) == {1}

    # And again, for good measure: nothing is due, nobody hears twice.
    run_command()
    run_worker()
    assert len(mail.outbox) == len(carers)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's row locks to race for real")
def test_two_schedulers_racing_over_14_schools_invite_every_carer_once(association):
    schools, code, carers = association
    newer = next_version(code)
    scheduler.invite_steps_write(newer)  # as the publish task does, without taking the steps
    errors, results = [], []
    start = threading.Barrier(2)

    def run():
        try:
            start.wait()
            results.append(scheduler.invitations_run_due())
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert invited(newer) == {carer.pk: 1 for carer in carers}
    assert SendBatch.objects.filter(version=newer).count() == SCHOOLS
    assert sum(result.get("schools", 0) for result in results) == SCHOOLS


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's row locks to race for real")
def test_two_schedulers_racing_over_due_reminders_remind_each_carer_once(association, now):
    import datetime

    from tests.declarations.cycle import mark_invitation_sent
    from tests.declarations.factories import NOW

    schools, code, carers = association
    version = code.versions.get()
    for carer in carers:
        mark_invitation_sent(carer, version, sent_at=NOW)
    now.move_to(NOW + datetime.timedelta(days=3, minutes=5))
    errors = []
    start = threading.Barrier(2)

    def run():
        try:
            start.wait()
            scheduler.reminders_run()
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    reminded = Counter(OutboxMessage.objects.filter(kind="reminder-1").values_list("carer_id", flat=True))
    assert reminded == {carer.pk: 1 for carer in carers}
    assert ScheduledStep.objects.filter(kind="reminder-1", done_at__isnull=True).count() == 0
