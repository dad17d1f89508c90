"""Sending at scale, committed for real: a worker that fails part-way through 500 e-mails, and
workers racing over one batch. Runs on SQLite and PostgreSQL (CI runs the suite on both); the
race between threads needs PostgreSQL's row locks and is skipped on SQLite."""

import smtplib
import threading
from collections import Counter

import pytest
from django.core import mail
from django.db import connection, connections
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from declarations.models import SigningRequest
from sending import invitations, outbox
from sending.models import OutboxMessage
from tests.sending.test_sending import addresses_sent, failing_after, many_parents
from tests.worker import run_worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("database_tasks", "locmem_mail")]

CARERS = 500
CRASH_AFTER = 180



@pytest.fixture
def parents(school, school_code):
    return many_parents(school, CARERS)


def test_a_crash_part_way_through_500_then_a_rerun_emails_every_carer_exactly_once(school, parents, monkeypatch):
    monkeypatch.setattr(outbox, "CHUNK_SIZE", 64)  # several chunks either side of the crash
    batch = invitations.invitations_send(school=school, audience="all-unsigned", user=None)  # commits: task queued
    assert DBTaskResult.objects.filter(task_path="sending.outbox.send_batch").count() == 1

    with failing_after(CRASH_AFTER, smtplib.SMTPServerDisconnected("Connection unexpectedly closed")):
        run_worker()
    assert len(mail.outbox) == CRASH_AFTER
    [retry] = DBTaskResult.objects.filter(status="READY")
    assert retry.run_after > timezone.now()  # the automatic retry, a minute later
    statuses = Counter(batch.messages.values_list("status", flat=True))
    assert statuses == {"sent": CRASH_AFTER, "pending": CARERS - CRASH_AFTER}
    assert DBTaskResult.objects.filter(status="FAILED").count() == 1

    # Run the task again (a retry is also queued for a minute later; this does not wait for it).
    outbox.enqueue_batch(batch.pk)
    run_worker()

    sent_to = Counter(addresses_sent())
    assert len(sent_to) == CARERS and set(sent_to.values()) == {1}
    assert sent_to.keys() == {carer.email for carer in parents}
    assert Counter(batch.messages.values_list("status", flat=True)) == {"sent": CARERS}
    assert OutboxMessage.objects.count() == CARERS
    assert SigningRequest.objects.filter(sent_at__isnull=False).count() == CARERS

    # And again, for good measure: the batch is done, nobody hears from it twice.
    outbox.enqueue_batch(batch.pk)
    run_worker()
    assert len(mail.outbox) == CARERS


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's row locks for concurrent workers")
def test_workers_racing_over_one_batch_send_each_email_once(school, parents):
    batch = invitations.invitations_send(school=school, audience="all-unsigned", user=None, enqueue=False)
    results, errors = [], []
    start = threading.Barrier(4)

    def worker():
        try:
            start.wait()
            results.append(outbox.outbox_send_pending(batch_id=batch.pk))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(result["sent"] for result in results) == CARERS
    sent_to = Counter(addresses_sent())
    assert len(sent_to) == CARERS and set(sent_to.values()) == {1}
