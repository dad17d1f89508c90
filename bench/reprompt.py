"""How long a re-prompt of a whole association takes: 14 member schools × N carers each.

Publishes version 2 of the association's shared code, then times, separately:
- queueing: the task publishing enqueues (sending.scheduler.invite_to_new_version), run here:
  one invitation step and one batch of outbox rows per school;
- sending: what the worker then does (every batch, to Django's in-memory mail backend): a new
  link per carer, the letter and what changed, one e-mail each.
Each run builds its own association in a throwaway test database (test_<name>, created and
dropped here, like the test suite's), and the median of the runs is reported.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal .venv/bin/python -m bench.reprompt --carers 300

(As a module: run as a file, bench/http.py would stand in for the standard library's http.)
Not part of make bench: it has no floor, and bench/scale_out.py measures sending at scale.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import setup_databases, setup_test_environment, teardown_databases  # noqa: E402

SCHOOLS = 14


def one_run(run: int, carers_per_school: int, signed: bool) -> tuple[float, float, int]:
    from codes import services
    from codes.models import Code
    from declarations.models import Declaration
    from schools.models import Carer, Organisation, Pupil, PupilCarer
    from sending import outbox, scheduler
    from sending.hours import AT_ANY_TIME
    from sending.models import OutboxMessage

    association = Organisation.objects.create(kind="association", name=f"Association {run}", slug=f"assoc-{run}")
    schools = [
        Organisation.objects.create(
            kind="school", name=f"School {run}-{i}", slug=f"school-{run}-{i}", association=association, **AT_ANY_TIME
        )
        for i in range(SCHOOLS)
    ]
    for school in schools:
        pupils = Pupil.objects.bulk_create(
            Pupil(school=school, mis_id=f"P{i}", forename="Child", surname=f"N{i}", year_group="5")
            for i in range(carers_per_school)
        )
        carers = Carer.objects.bulk_create(
            Carer(school=school, mis_id=f"C{i}", forename="Parent", surname=f"N{i}", email=f"p{i}@{school.slug}.example.org")
            for i in range(carers_per_school)
        )
        PupilCarer.objects.bulk_create(
            PupilCarer(pupil=p, carer=c, parental_responsibility=True) for p, c in zip(pupils, carers)
        )
    code = Code.objects.create(owner=association)
    first = services.version_create_first(code=code, user=None, body="## Code\n\nBe kind online.")
    first = services.version_publish(version=first, user=None, effective_from=django.utils.timezone.localdate())
    if signed:  # everyone signed version 1: every invitation says what changed since
        Declaration.objects.bulk_create(
            Declaration(
                school_id=carer.school_id, carer=carer, version=first, version_fingerprint=first.fingerprint,
                carer_name=carer.full_name, children_named=[], statement="I agree.", typed_name=carer.full_name,
                agreed=True, signed_at=django.utils.timezone.now(), method="online",
            )
            for carer in Carer.objects.filter(school__association=association)
        )
    draft = services.draft_start(code=code, user=None)
    services.draft_update(version=draft, user=None, body="## Code\n\nBe kind online and offline.", revision_note="Offline too.")
    newer = services.version_publish(version=draft, user=None, effective_from=django.utils.timezone.localdate())

    started = time.perf_counter()
    result = scheduler.version_invitations_schedule(version_id=newer.pk)
    queued = time.perf_counter() - started
    assert result["carers invited"] == SCHOOLS * carers_per_school, result

    started = time.perf_counter()
    outbox.outbox_send_pending()
    sent = time.perf_counter() - started
    assert OutboxMessage.objects.filter(version=newer, status="sent").count() == SCHOOLS * carers_per_school
    return queued, sent, SCHOOLS * carers_per_school


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--carers", type=int, default=300, help="carers per school (default 300)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--signed", action="store_true", help="every carer signed version 1 (the e-mails say what changed)")
    args = parser.parse_args()
    setup_test_environment()  # e-mail to memory, never out
    old_config = setup_databases(verbosity=0, interactive=False)
    try:
        queue_times, send_times = [], []
        for run in range(args.runs):
            queued, sent, total = one_run(run, args.carers, args.signed)
            queue_times.append(queued)
            send_times.append(sent)
            print(f"run {run + 1}: {total} carers, queued in {queued:.2f} s, sent in {sent:.2f} s", flush=True)
        print(
            f"{connection.vendor}, {SCHOOLS} schools x {args.carers} carers"
            f"{' who signed version 1' if args.signed else ''}: median queueing "
            f"{statistics.median(queue_times):.2f} s, median sending {statistics.median(send_times):.2f} s "
            f"(of {args.runs} runs)"
        )
    finally:
        teardown_databases(old_config, verbosity=0)


if __name__ == "__main__":
    main()
