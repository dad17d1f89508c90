"""1,000 signatures give 1,000 webhook deliveries, none lost when the worker delivering them is
killed (SIGKILL) mid-way and another started: real `manage.py db_worker` processes on
PostgreSQL posting to a real HTTP receiver in this process, which checks every signature.

The dead worker's task stays "running" in the queue for ever; the delivery it held is taken
back by the webhooks sweep (run by `run_scheduled`, as cron would) once its lease has lapsed.
Only the one delivery in flight when the worker died may arrive twice, with the same
webhook-id, so a receiver that keeps the ids it has seen does each event once.

PostgreSQL only; bounded in time: each wait gives up after a fixed number of seconds.
"""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django_tasks_db.models import DBTaskResult

from declarations import services as signing
from sending.scheduler import run_scheduled
from tests.declarations.factories import issued_link
from tests.sending.test_sending import many_parents, use_database_tasks
from tests.webhooks.receiver import Receiver
from tests.worker import stop, wait_until
from webhooks import services
from webhooks.models import Event, WebhookDelivery
from webhooks.receivers import webhooks_step

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL: real worker processes share it"),
]

SIGNATURES = 1000
KILL_AT = 317  # the worker dies as the receiver takes this delivery, before it answers
LEASE_SECONDS = 2
BASE_DIR = Path(__file__).resolve().parents[2]
TASK = "webhooks.delivery.deliver_webhook"


@pytest.fixture(autouse=True)
def now():
    """The real clock, not the suite's fixed one: the workers run on it, and so do the leases."""


@pytest.fixture(autouse=True)
def tasks(settings):
    use_database_tasks(settings)
    settings.PORTAL_WEBHOOK_LEASE = datetime.timedelta(seconds=LEASE_SECONDS)
    settings.PORTAL_WEBHOOKS_ALLOW_HTTP = True


def start_worker(log: Path) -> subprocess.Popen:
    database = connection.settings_dict
    environment = {
        **os.environ,
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "DJANGO_SECRET_KEY": django_settings.SECRET_KEY,
        "DJANGO_DEBUG": "0",
        "PORTAL_WEBHOOK_LEASE_SECONDS": str(LEASE_SECONDS),
        "PORTAL_WEBHOOKS_ALLOW_HTTP": "1",  # the receiver is on this machine, over http
        "PORTAL_VAR_DIR": str(log.parent),
    }
    with log.open("w") as output:
        return subprocess.Popen(
            [sys.executable, "manage.py", "db_worker", "--no-reload", "--no-startup-delay", "--interval", "0.1"],
            cwd=BASE_DIR, env=environment, stdout=output, stderr=subprocess.STDOUT,
        )


def test_a_thousand_signatures_give_a_thousand_deliveries_none_lost_when_the_worker_is_killed(
    school, school_code, headteacher, tmp_path
):
    version = school_code.versions.get()
    victim: list[subprocess.Popen] = []

    def kill(count):
        if count == KILL_AT and victim:
            os.kill(victim[0].pid, signal.SIGKILL)

    with Receiver(kill=kill) as receiver:
        endpoint = services.endpoint_create(
            user=headteacher, organisation=school, url=receiver.url, events=[Event.DECLARATION_SIGNED]
        )
        receiver.secret = endpoint.secret
        for carer in many_parents(school, SIGNATURES):
            signing_request, _ = issued_link(carer, version)
            signing.declaration_sign(
                signing_request=signing_request, version_id_shown=version.pk, typed_name=carer.full_name,
                agreed=True, ip=None, user_agent="test",
            )
        assert WebhookDelivery.objects.count() == SIGNATURES
        assert DBTaskResult.objects.filter(task_path=TASK).count() == SIGNATURES
        # The PDFs and confirmation e-mails the signatures also queued are other tests' business.
        DBTaskResult.objects.exclude(task_path=TASK).delete()

        logs = [tmp_path / "first-worker.log", tmp_path / "second-worker.log"]
        first = start_worker(logs[0])
        victim.append(first)
        second = None
        try:
            wait_until(lambda: first.poll() is not None, seconds=600, what="the first worker to be killed", logs=logs)
            assert first.returncode == -signal.SIGKILL
            statuses = Counter(WebhookDelivery.objects.values_list("status", flat=True))
            assert statuses["sending"] == 1 and statuses["delivered"] < SIGNATURES

            second = start_worker(logs[1])

            def swept_and_all_delivered():
                # As cron runs it (its webhooks step only: the others have nothing to do here and
                # would take the machine's time from the worker): the sweep takes back the dead
                # worker's delivery once its lease has lapsed.
                run_scheduled(steps=[("webhooks", webhooks_step)])
                return Counter(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered": SIGNATURES}

            wait_until(swept_and_all_delivered, seconds=900, every=2, what="every delivery to be made", logs=logs)
        finally:
            stop(first)
            if second is not None:
                stop(second)

    ids = Counter(receiver.ids())
    assert set(ids) == set(WebhookDelivery.objects.values_list("message_id", flat=True))
    assert len(ids) == SIGNATURES
    repeated = [message_id for message_id, times in ids.items() if times > 1]
    assert repeated == [receiver.received[KILL_AT - 1]["id"]]  # the one in flight, with the same id
    assert all(got["verified"] == [True] for got in receiver.received)
