"""Invitation e-mails per second to a local SMTP sink, and how fast the publish request returns.

1. emails-<db>: invitation e-mails delivered per second by the portal's real send path. Each run
   is a fresh school with --carers (1,000) carers who have not been invited: staff's send queues
   the batch (sending.invitations.invitations_send, which enqueues the send_batch task on
   commit; not timed), then what timed is django-tasks-db's own worker (`manage.py db_worker`,
   run in this process until the queue is empty) doing that task: claiming the outbox rows,
   issuing each carer's link, writing each e-mail and sending it to the sink, marking it sent.
   Floor: Django sending the very same multipart messages (rendered beforehand by the portal's
   own sending.emails.email_for, with links of the same length) over one SMTP connection
   opened once (get_connection(), send_messages). The sink is a process of its own
   (bench/smtp_sink.py), the same for both. At the sink, every carer of a run must have got
   exactly one message from it (a Check counts the carers who did not). Budget ≥ 0.7× the floor.

2. publish-request-<db>: the publish request itself, a POST to the real publish view
   (codes.staff_views.version_publish) by the association's admin with the second factor
   verified, for a new version of the association's code that requires signing, with --families
   (25,000) carers across 50 member schools. Each run publishes a fresh draft. The publish
   commits the version and enqueues the invitation task; nobody is e-mailed during the request.
   Check: median < 300 ms. Floor, for information: the 5 KB template page, fetched by the same
   client just before.

    .venv/bin/python -m bench.emails --db sqlite
    .venv/bin/python -m bench.emails --db postgres --carers 1000 --runs 3
"""

from __future__ import annotations

import datetime
import secrets
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import Check, arguments, families, figure_from_pairs, paired, record, start
from bench.smtp_sink import sink

SCHOOLS = 50


def _user(username: str):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(
        username=username, email=f"{username}@example.org", password="not-used", first_name="Pat", last_name="Head"
    )


def school_with_carers(number: int, carers: int):
    """A school with its own code in force, a headteacher, and `carers` carers with a child on
    roll each, none invited yet (inserted in bulk: the set-up is not what is measured)."""
    from django.utils import timezone

    from codes import services
    from codes.models import Code
    from schools.models import Organisation, StaffRole
    from sending.hours import AT_ANY_TIME

    school = Organisation.objects.create(
        kind="school", name=f"Bench Primary School {number}", slug=f"bench-primary-{number}",
        email=f"office@bench{number}.example.org", phone="01928 000000", **AT_ANY_TIME,
    )
    head = _user(f"head{number}")
    StaffRole.objects.create(user=head, organisation=school, role="headteacher", job_title="Headteacher")
    code = Code.objects.create(owner=school)
    first = services.version_create_first(code=code, user=None, body=CODE_BODY)
    version = services.version_publish(
        version=first, user=None, effective_from=timezone.localdate() - datetime.timedelta(days=1)
    )
    _, people = families(school, carers)
    _forget_queued_tasks()  # publishing queued the invitation task; this benchmark queues its own send
    return school, version, people


def _forget_queued_tasks() -> None:
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.all().delete()


CODE_BODY = "\n\n".join(
    f"## Part {i}\n\nParents and carers will keep conversations about the school, its staff and its pupils "
    f"respectful, and will raise concerns with the school directly rather than on social media."
    for i in range(1, 9)
)


def run_worker() -> None:
    """django-tasks-db's worker, as `make run` starts it, until the queue is empty."""
    from django.core.management import call_command

    call_command("db_worker", batch=True, reload=False, startup_delay=False, interval=0, verbosity=0)


def portal_messages(school, version, carers) -> list:
    """The e-mails the portal would send these carers (as email_for writes them), with links of
    the real length: what the floor sends."""
    from django.utils import timezone

    from sending import emails
    from sending.models import OutboxMessage

    letter = emails.covering_letter(school=school, version=version)
    expires = timezone.now() + datetime.timedelta(days=60)
    messages = []
    for carer in carers:
        carer.school = school
        row = OutboxMessage(school=school, carer=carer, version=version, kind="invitation")
        row.signed_before = False
        messages.append(emails.email_for(row, token=secrets.token_urlsafe(32), expires_at=expires, letter=letter))
    return messages


class Runs:
    """Paired runs of the portal's send and the floor's, each on a fresh school."""

    def __init__(self, server, carers: int):
        self.server, self.carers, self.number = server, carers, 0
        self.missing, self.duplicates = 0, 0

    def _check(self, mark: int, carers) -> None:
        counts, _ = self.server.log.read(mark)
        expected = {carer.email for carer in carers}
        self.missing += sum(1 for address in expected if counts[address] == 0)
        self.duplicates += sum(count - 1 for count in counts.values() if count > 1)
        self.duplicates += sum(count for address, count in counts.items() if address not in expected)

    def floor(self) -> float:
        from django.core.mail import get_connection

        self.number += 1
        school, version, carers = school_with_carers(self.number, self.carers)
        messages = portal_messages(school, version, carers)
        mark = self.server.log.mark()
        started = time.perf_counter()
        connection = get_connection()
        connection.open()
        connection.send_messages(messages)
        connection.close()
        elapsed = time.perf_counter() - started
        self._check(mark, carers)
        return len(messages) / elapsed

    def portal(self) -> float:
        from django.db import transaction

        from schools.models import StaffRole
        from sending import invitations

        self.number += 1
        school, version, carers = school_with_carers(self.number, self.carers)
        staff = _user(f"office{self.number}")
        StaffRole.objects.create(user=staff, organisation=school, role="office")  # the send checks who may send
        with transaction.atomic():  # as the send view does: the task is enqueued on commit
            batch = invitations.invitations_send(school=school, audience="all-unsigned", user=staff)
        assert batch.summary.to_send == len(carers), batch.summary
        mark = self.server.log.mark()
        started = time.perf_counter()
        run_worker()
        elapsed = time.perf_counter() - started
        self._check(mark, carers)
        return len(carers) / elapsed


def measure_sending(db: str, runs: int, carers: int, server) -> None:
    print(f"Invitation e-mails, {carers} carers a run, {db}:", flush=True)
    series = Runs(server, carers)
    measured, floors = paired(series.portal, series.floor, runs)
    record(
        figure_from_pairs(
            measured=measured,
            floors=floors,
            id=f"emails-{db}",
            title="Invitation e-mails to a local SMTP sink",
            db=db,
            unit="messages/s",
            floor_name="Django sending the same multipart messages over one reused SMTP connection",
            budget="≥ 0.7× floor",
            ratio_limit=0.7,
            checks=[
                Check("carers not e-mailed", series.missing, 1, "carers"),
                Check("e-mails beyond one per carer", series.duplicates, 1, "e-mails"),
            ],
            notes=f"{carers} carers a run; the worker's whole task timed (claim, link, render, send, mark sent).",
        )
    )


def association_with_families(how_many: int):
    """An association of SCHOOLS schools sharing its code (version 1 in force), `how_many` carers
    with a child on roll spread across them (in bulk), and its admin, signed in past the second
    factor on a test Client."""
    from django.test import Client
    from django.utils import timezone
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from codes import services
    from codes.models import Code
    from schools.models import Organisation, StaffRole
    from sending.hours import AT_ANY_TIME

    association = Organisation.objects.create(kind="association", name="Bench Schools Trust", slug="bench-trust")
    schools = Organisation.objects.bulk_create(
        Organisation(kind="school", name=f"Trust School {i}", slug=f"trust-school-{i}", association=association, **AT_ANY_TIME)
        for i in range(SCHOOLS)
    )
    per_school = how_many // SCHOOLS
    for school in schools:
        families(school, per_school)
    code = Code.objects.create(owner=association)
    first = services.version_create_first(code=code, user=None, body=CODE_BODY)
    in_force_since = timezone.localdate() - datetime.timedelta(days=30)
    services.version_publish(version=first, user=None, effective_from=in_force_since)
    admin = _user("trust-admin")
    StaffRole.objects.create(user=admin, organisation=association, role="association_admin")
    device = TOTPDevice.objects.create(user=admin, name="Bench authenticator", confirmed=True)
    client = Client()
    client.force_login(admin)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id  # as django_otp.login leaves it
    session.save()
    return code, admin, client, per_school * SCHOOLS


def measure_publish(db: str, runs: int, families: int) -> None:
    from django.urls import reverse
    from django.utils import timezone

    from codes import services
    from codes.models import CodeVersion

    print(f"Publish request, {families} carers across {SCHOOLS} schools, {db}:", flush=True)
    code, admin, client, carers = association_with_families(families)
    today = timezone.localdate()

    def floor() -> float:
        started = time.perf_counter()
        response = client.get("/bench-floor/page/")
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.status_code
        return elapsed * 1000

    def publish() -> float:
        draft = services.draft_start(code=code, user=admin)
        services.draft_update(version=draft, user=admin, body=CODE_BODY + "\n\nRevised.", revision_note="Revised.")
        data = {"effective_from": today.isoformat(), "review_due": services.add_one_year(today).isoformat(),
                "requires_signing": "yes"}
        url = reverse("staff:publish", args=[draft.pk])
        started = time.perf_counter()
        response = client.post(url, data)
        elapsed = time.perf_counter() - started
        assert response.status_code == 302, (response.status_code, response.content[:2000])
        assert CodeVersion.objects.get(pk=draft.pk).is_published
        _forget_queued_tasks()  # the invitation task it queued is not run here
        return elapsed * 1000

    measured, floors = paired(publish, floor, runs)
    median = statistics.median(measured)
    record(
        figure_from_pairs(
            measured=measured,
            floors=floors,
            id=f"publish-request-{db}",
            title="Publish request (new version requiring signing)",
            db=db,
            unit="ms",
            floor_name="the 5 KB template page, same client",
            budget="< 300 ms (ratio for information)",
            ratio_limit=None,
            higher_is_better=False,
            checks=[Check("publish request, median", median, 300, "ms")],
            notes=f"{carers} carers across {SCHOOLS} schools; each run publishes a fresh draft through the "
            "real view (association admin, second factor verified).",
        )
    )


def profile_sending(carers: int, server) -> None:
    """One run of each under pyinstrument: where the time of a send goes."""
    from pyinstrument import Profiler

    series = Runs(server, carers)
    for name, run in (("floor", series.floor), ("portal", series.portal)):  # as paired() does
        profiler = Profiler(interval=0.0005)
        profiler.start()
        rate = run()
        profiler.stop()
        print(f"== {name}: {rate:.0f} messages/s (under the profiler)")
        print(profiler.output_text(unicode=True, color=False, show_all=False))


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--carers", type=int, default=1000, help="carers e-mailed per run (default 1,000)")
    parser.add_argument("--families", type=int, default=25000, help="carers across 50 schools for the publish (25,000)")
    parser.add_argument("--skip-publish", action="store_true", help="only the e-mails figure")
    parser.add_argument("--profile", action="store_true", help="profile one portal send and one floor send "
                        "(pyinstrument), print them, and record nothing")
    args = parser.parse_args()
    log = Path(tempfile.mkdtemp(prefix="bench-sink-")) / "sink.log"
    with sink(log) as server:
        import os

        os.environ.update(server.environment)  # the portal's own mail settings, read at set-up
        start(args.db)
        if args.profile:
            return profile_sending(args.carers, server)
        measure_sending(args.db, args.runs, args.carers, server)
        if not args.skip_publish:
            measure_publish(args.db, args.runs, args.families)


if __name__ == "__main__":
    main()
