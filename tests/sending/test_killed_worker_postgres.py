"""A worker killed (SIGKILL) in the middle of a batch, for real: `manage.py db_worker` processes
on PostgreSQL sending to an SMTP server on this machine (aiosmtpd). The task the dead worker was
running stays "running" in the queue for ever (django-tasks-db cannot tell), so nothing but the
outbox's own sweep (run by `run_scheduled`, as cron would) brings the batch back to a live
worker. Every carer must be e-mailed, at most the one e-mail in flight when the worker died may
go twice, and every link in every e-mail must open the signing page.

PostgreSQL only (two processes sharing a database need its row locks); bounded in time: each
wait below gives up after a fixed number of seconds and fails the test.
"""

from __future__ import annotations

import datetime
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections import Counter
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django_tasks_db.models import DBTaskResult

from sending import invitations
from sending.models import OutboxMessage
from sending.scheduler import run_scheduled
from tests.sending.test_sending import many_parents
from tests.worker import LOCMEM_MAIL, stop, use_database_tasks, wait_until

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL: real worker processes share it"),
]

CARERS = 320
LEASE_SECONDS = 2  # short, so the test need not wait minutes for the sweep to take rows back
BASE_DIR = Path(__file__).resolve().parents[2]
LINK = re.compile(r"/sign/t/([A-Za-z0-9_-]+)/")


@pytest.fixture(autouse=True)
def now():
    """The real clock, not the suite's fixed one: the workers run on it, and so does the lease."""


@pytest.fixture(autouse=True)
def tasks(settings):
    use_database_tasks(settings)
    settings.MAILERS = LOCMEM_MAIL  # this process sends nothing itself; the workers use the SMTP server
    settings.PORTAL_OUTBOX_LEASE = datetime.timedelta(seconds=LEASE_SECONDS)
    # Every link is opened from this one test client: lift the per-address limits on link checks.
    settings.PORTAL_RATE_LIMITS = {**settings.PORTAL_RATE_LIMITS, "link": (10_000, 60), "link_miss": (10_000, 60)}


class MailServer:
    """An SMTP server on a thread of this process that keeps every message it accepts. With
    `kill` set, it SIGKILLs that process as message number `kill_at` arrives: before its 250
    reply ("before the reply": the server has the e-mail, the worker never hears so), or just
    after it ("after the reply": wherever the worker is by the time the signal lands)."""

    def __init__(self):
        self.messages: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.kill: subprocess.Popen | None = None
        self.kill_at = 0
        self.kill_before_reply = True

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's name for the hook
        with self.lock:
            for address in envelope.rcpt_tos:
                self.messages.append((address, envelope.original_content or envelope.content))
            count, victim = len(self.messages), self.kill
        if victim is not None and count == self.kill_at:
            if self.kill_before_reply:
                os.kill(victim.pid, signal.SIGKILL)
            else:
                threading.Timer(0, os.kill, (victim.pid, signal.SIGKILL)).start()
        return "250 OK"

    def __enter__(self):
        from aiosmtpd.controller import Controller

        with socket.socket() as probe:  # a free port (the controller checks it is up by connecting)
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, ready_timeout=10)
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()


def start_worker(mail_server: MailServer, log: Path) -> subprocess.Popen:
    """`manage.py db_worker` against the test database, sending through `mail_server`."""
    database = connection.settings_dict
    environment = {
        **os.environ,
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "DJANGO_SECRET_KEY": django_settings.SECRET_KEY,  # the same key: links are written again with it
        "DJANGO_DEBUG": "0",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(mail_server.port),
        "EMAIL_USE_TLS": "0",
        "PORTAL_OUTBOX_LEASE_SECONDS": str(LEASE_SECONDS),
        "PORTAL_VAR_DIR": str(log.parent),
    }
    with log.open("w") as output:
        return subprocess.Popen(
            [sys.executable, "manage.py", "db_worker", "--no-reload", "--no-startup-delay", "--interval", "0.1"],
            cwd=BASE_DIR,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def link_in(content: bytes) -> str:
    [token] = LINK.findall(message_from_bytes(content, policy=policy.default).get_body(("plain",)).get_content())
    return token


@pytest.mark.parametrize("kill_at, before_reply", [(87, True), (163, False)], ids=["before-the-reply", "after-the-reply"])
def test_a_worker_killed_mid_batch_is_taken_over_every_carer_is_emailed_once_but_the_one_in_flight(
    school, school_code, tmp_path, kill_at, before_reply
):
    parents = many_parents(school, CARERS)
    batch = invitations.invitations_send(school=school, audience="all-unsigned", user=None)  # commits: task queued
    [task] = DBTaskResult.objects.filter(task_path="sending.outbox.send_batch")
    logs = [tmp_path / "first-worker.log", tmp_path / "second-worker.log"]

    def statuses():
        return Counter(batch.messages.values_list("status", flat=True))

    with MailServer() as mail_server:
        first = start_worker(mail_server, logs[0])
        second = None
        try:
            mail_server.kill, mail_server.kill_at, mail_server.kill_before_reply = first, kill_at, before_reply
            wait_until(lambda: first.poll() is not None, seconds=120, what="the first worker to be killed", logs=logs)
            assert first.returncode == -signal.SIGKILL
            left = statuses()
            assert left["sending"] >= 1 and left["sent"] < CARERS  # the dead worker's claim, and the rest
            task.refresh_from_db()
            assert task.status == "RUNNING"  # and so it stays: the queue cannot tell its worker died

            second = start_worker(mail_server, logs[1])

            def swept_and_all_sent():
                run_scheduled()  # as cron runs it; the sweep takes back rows only once the lease has passed
                return statuses() == {"sent": CARERS}

            wait_until(swept_and_all_sent, seconds=120, every=0.5, what="every e-mail to be sent", logs=logs)
        finally:
            stop(first)
            if second is not None:
                stop(second)
        received = list(mail_server.messages)

    # Every carer e-mailed; at most the one in flight went twice, and with the same link.
    sent_to = Counter(address for address, _ in received)
    assert set(sent_to) == {carer.email for carer in parents}
    repeated = [address for address, times in sent_to.items() if times > 1]
    assert len(repeated) <= 1 and set(sent_to.values()) <= {1, 2}
    if before_reply:  # the server had the message the worker died waiting to hear about
        assert repeated == [received[kill_at - 1][0]]
    links = {}
    for address, content in received:
        links.setdefault(address, set()).add(link_in(content))
    assert all(len(tokens) == 1 for tokens in links.values())  # a repeat carried the same link
    assert OutboxMessage.objects.count() == CARERS  # nobody had to press "send again"
    task.refresh_from_db()
    assert task.status == "RUNNING"

    # Every link in every e-mail opens the signing page.
    client = Client()
    for address, tokens in links.items():
        [token] = tokens
        assert client.get(f"/sign/t/{token}/").status_code == 303, address
        page = client.get("/sign/")
        assert page.status_code == 200 and b"Sign the declaration" in page.content, address
    print(
        f"\nkilled worker ({'before' if before_reply else 'after'} reply {kill_at}): "
        f"{len(received)} e-mails to {len(sent_to)} carers, {len(repeated)} repeated"
    )
