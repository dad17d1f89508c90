"""The portal's schedule: every step that falls due by itself, for every school, and the command
that takes them (`manage.py run_scheduled`, run from cron every few minutes, and by `make run`).

What is due for whom is data in the database:

- e-mails a stopped worker left unsent: taken up again (sending/outbox.py: outbox_recover);
- invitations to a newly published version: one ScheduledStep ("invite") per school using the
  code, written in the publishing transaction itself when a version that requires signing is
  published (sending/receivers.py), and due the day it comes into force; the task
  `invite_to_new_version`, queued with the publish, takes those due at once;
- reminders: one ScheduledStep ("reminder-1".."reminder-3") per carer and version, written once
  the carer's invitation has gone, due the school's chosen number of days after it;
- new families after an import: the carers of pupils who joined after the school's first
  invitation to sign the version (SendBatch.AudienceKind.STARTERS), derived from the families data;
- review reminders to headteachers: codes.models.ReviewReminder, one per code, review date and
  kind (sending/reviews.py);
- steps other apps register (register_step): evidence's retention job.

Why a step is never taken twice, however often this runs and wherever it stops
-----------------------------------------------------------------------------
A step's e-mails are queued (outbox rows) and the step marked done in ONE transaction, school by
school (reminders: up to CHUNK_SIZE steps at a time). A run that dies part-way leaves every step
either done, with its e-mails queued, or untouched; the next run takes the untouched ones. Two
runs at once: on PostgreSQL each skips the steps the other holds locked (SKIP LOCKED); on SQLite
writes are serialised. Underneath both, the outbox's unique constraint on (carer, version, kind
of e-mail, sequence) means that even a step taken twice could not queue a second e-mail for the
same purpose, and sending claims each outbox row once (sending/outbox.py).

Adding a step: append (name, function) to STEPS, or call register_step from an app built on this
one. The function takes `now` and returns a dict of counts; it must be safe to run again after a
crash.
"""

from __future__ import annotations

import datetime
import logging
from collections import Counter, defaultdict
from collections.abc import Callable
from functools import partial
from itertools import batched

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Subquery
from django.tasks import task
from django.utils import timezone

from codes.models import CodeVersion
from codes.services import schools_using_code
from declarations.models import SigningRequest
from declarations.selectors import (
    OUTSTANDING,
    SIGNED,
    SigningTarget,
    Standing,
    signing_baseline,
    version_required,
    version_to_sign,
    with_standing,
)
from schools.audit import audit_record
from schools.models import AuditEvent, Carer, Organisation, Pupil
from schools.selectors import eligible_carers
from sending import invitations
from sending.models import Reminder, ScheduledStep, SendBatch
from sending.outbox import enqueue_batch, outbox_recover
from sending.reviews import review_reminders_send
from sending.staff_notices import decline_notices_send, weekly_digests_send

logger = logging.getLogger(__name__)

Kind = ScheduledStep.Kind
AudienceKind = SendBatch.AudienceKind
CHUNK_SIZE = 500
STARTERS_LOOK_BACK = datetime.timedelta(days=7)


def _local_midnight(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


# Invitations to a new version.


def invite_steps_write(version: CodeVersion) -> int:
    """One "invite" step per school using the version's code, due at the start of the day it
    comes into force (rewriting is harmless: a school's step is written once). Returns how many
    schools use the code."""
    if not (version.is_published and version.requires_signing):
        return 0
    due_at = _local_midnight(version.effective_from)
    school_ids = list(schools_using_code(version.code).values_list("pk", flat=True))
    ScheduledStep.objects.bulk_create(
        [ScheduledStep(school_id=pk, version=version, kind=Kind.INVITE, due_at=due_at) for pk in school_ids],
        ignore_conflicts=True,
    )
    return len(school_ids)


def version_invitations_schedule(*, version_id: int, now: datetime.datetime | None = None) -> dict:
    """A version that requires signing was published: write its steps, take those due already."""
    version = CodeVersion.objects.select_related("code__owner").get(pk=version_id)
    schools = invite_steps_write(version)
    return {"schools": schools, **invitations_run_due(now, version=version)}


def invitations_run_due(now: datetime.datetime | None = None, *, version: CodeVersion | None = None) -> dict:
    """Take every "invite" step that is due: invite every carer at that school who has not
    signed, declined or been invited, to sign the version in force. One school per transaction."""
    now = now or timezone.now()
    due = ScheduledStep.objects.filter(kind=Kind.INVITE, done_at__isnull=True, due_at__lte=now)
    if version is not None:
        due = due.filter(version=version)
    # Schools that joined the association since the version was published are asked too.
    for waiting in CodeVersion.objects.filter(pk__in=due.values("version_id")).select_related("code__owner"):
        invite_steps_write(waiting)
    counts = Counter()
    for step_id in list(due.order_by("due_at", "pk").values_list("pk", flat=True)):
        counts.update(invite_step_take(step_id, now))
    return dict(counts)


def invite_step_take(step_id: int, now: datetime.datetime) -> dict:
    """Take one school's "invite" step, if nobody else has: its invitations queued (through
    invitations_send, the staff's own send) and the step marked done, in one transaction."""
    with transaction.atomic():
        step = (
            ScheduledStep.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("school", "version__code")
            .filter(pk=step_id, done_at__isnull=True)
            .first()
        )
        if step is None:
            return {"taken elsewhere": 1}
        school, version = step.school, step.version
        in_force = version_to_sign(school, timezone.localdate(now))
        counts, batch = {"schools": 1}, None
        if in_force is None or in_force.code_id != version.code_id:
            outcome = "Not needed: the school no longer uses this code."
        elif in_force.number < version.number:
            return {"not yet in force": 1}
        elif signing_baseline(in_force.code, in_force).number > version.number:
            outcome = f"Not needed: version {in_force.number} has replaced it; carers are asked to sign that."
        else:
            # The text in force: this version, or a minor correction of it published since.
            to_send = invitations.invitations_preview(school=school, audience=AudienceKind.ALL, version=in_force).to_send
            if to_send:
                batch = invitations.invitations_send(
                    school=school, audience=AudienceKind.ALL, user=None, version=in_force
                )
                to_send = batch.summary.to_send
            outcome = f"Invited {to_send} carer{'s' if to_send != 1 else ''} to sign version {in_force.number}."
            counts["carers invited"] = to_send
        ScheduledStep.objects.filter(pk=step.pk).update(done_at=now, outcome=outcome, batch=batch)
    return counts


def joined_school_invite(*, school_id: int, now: datetime.datetime | None = None) -> dict:
    """A school that joined an association whose code is in force already: an "invite" step for
    the version its carers must sign, due now, and taken at once, however long ago that version's
    own step ran for the other members. Safe to repeat: a school's step for a version is written once."""
    now = now or timezone.now()
    school = Organisation.objects.get(pk=school_id)
    required = version_required(school, timezone.localdate(now))
    if required is None:
        return {"nothing in force": 1}
    ScheduledStep.objects.bulk_create(
        [ScheduledStep(school=school, version=required, kind=Kind.INVITE, due_at=now)], ignore_conflicts=True
    )
    return invitations_run_due(now, version=required)


# Reminders.


def reminders_run(now: datetime.datetime | None = None) -> dict:
    """For every school: write the reminder steps of invitations sent since the last run, then
    take the reminders that are due."""
    now = now or timezone.now()
    counts = Counter()
    schools = Organisation.objects.filter(
        Exists(SigningRequest.objects.filter(school=OuterRef("pk"), sent_at__isnull=False)),
        kind=Organisation.Kind.SCHOOL,
    )
    for school in schools.order_by("pk"):
        counts["reminders planned"] += reminders_plan(school, now)
        counts.update(reminders_take(school, now))
    return dict(counts)


def reminders_plan(school: Organisation, now: datetime.datetime) -> int:
    """Write the reminder steps of every carer at the school whose invitation to sign (the
    version in force, or the one it corrects) has gone and who has not answered: reminder n due
    the school's n-th number of days after the invitation, up to its maximum. Returns how many."""
    version = version_to_sign(school, timezone.localdate(now))
    cadence = school.reminder_cadence
    if version is None or not cadence:
        return 0
    target = SigningTarget.for_version(version)
    outstanding = with_standing(eligible_carers(school), target, schools=[school]).filter(standing__in=OUTSTANDING)
    requests = (
        SigningRequest.objects.filter(school=school, sent_at__isnull=False, **target.counts())
        .filter(carer__in=outstanding.values("pk"))
        # The carer's latest invitation only (one to the version before a correction, say, and one since).
        .exclude(
            Exists(
                SigningRequest.objects.filter(
                    carer=OuterRef("carer"),
                    sent_at__isnull=False,
                    version__code_id=version.code_id,
                    version__number__gt=OuterRef("version__number"),
                )
            )
        )
    )
    written = 0
    for number, days in enumerate(cadence, start=1):
        kind = Reminder.numbered(number)
        missing = requests.exclude(
            Exists(ScheduledStep.objects.filter(carer=OuterRef("carer"), version=OuterRef("version"), kind=kind))
        )
        last_pk = 0
        while True:
            rows = list(
                missing.filter(pk__gt=last_pk).order_by("pk").values_list("pk", "carer_id", "version_id", "sent_at")[
                    :CHUNK_SIZE
                ]
            )
            if not rows:
                break
            last_pk = rows[-1][0]
            ScheduledStep.objects.bulk_create(
                [
                    ScheduledStep(
                        school=school,
                        carer_id=carer_id,
                        version_id=version_id,
                        kind=kind,
                        due_at=sent_at + datetime.timedelta(days=days),
                    )
                    for _, carer_id, version_id, sent_at in rows
                ],
                ignore_conflicts=True,
            )
            written += len(rows)
    return written


def reminders_take(school: Organisation, now: datetime.datetime) -> dict:
    """Take the school's due reminder steps, CHUNK_SIZE at a time, each chunk in one transaction:
    each either queues its reminder or is closed with the reason it is not needed (signed,
    declined, left, a newer version to sign, over the school's maximum)."""
    counts = Counter()
    last_pk = 0
    while True:
        with transaction.atomic():
            taken = _reminders_take_chunk(school, now, last_pk)
        if taken is None:
            break
        last_pk, chunk_counts = taken
        counts.update(chunk_counts)
    return dict(counts)


def _reminders_take_chunk(school, now, after_pk):
    version = version_to_sign(school, timezone.localdate(now))
    target = SigningTarget.for_version(version) if version else None
    baseline_number = target.required.number if target else 0
    allowed = len(school.reminder_cadence)
    standing = (
        {"standing": Subquery(with_standing(Carer.objects.filter(pk=OuterRef("carer")), target).values("standing")[:1])}
        if target
        else {}
    )
    steps = list(
        ScheduledStep.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(school=school, kind__in=Reminder.values, done_at__isnull=True, due_at__lte=now, pk__gt=after_pk)
        .annotate(
            code_id=F("version__code_id"),
            version_number=F("version__number"),
            email=F("carer__email"),
            eligible=Exists(eligible_carers(school).filter(pk=OuterRef("carer"))),
            **standing,
            later_due=Exists(
                ScheduledStep.objects.filter(
                    carer=OuterRef("carer"),
                    version=OuterRef("version"),
                    kind__gt=OuterRef("kind"),  # "reminder-1" < "reminder-2" < "reminder-3"
                    done_at__isnull=True,
                    due_at__lte=now,
                )
            ),
        )
        .order_by("pk")[:CHUNK_SIZE]
    )
    if not steps:
        return None
    closed = defaultdict(list)  # outcome → step ids
    to_queue = defaultdict(list)  # (version id, kind) → steps
    for step in steps:
        number = Reminder(step.kind).number
        if version is None or step.code_id != version.code_id or step.version_number < baseline_number:
            closed["Not needed: there is a newer version to sign."].append(step.pk)
        elif step.standing in SIGNED:
            closed["Not needed: signed."].append(step.pk)
        elif step.standing == Standing.DECLINED:
            closed["Not needed: declined."].append(step.pk)
        elif not step.eligible:
            closed["Not needed: no longer asked to sign (children left, erased, or no e-mail address)."].append(step.pk)
        elif number > allowed:
            closed[f"Not needed: the school sends at most {allowed} reminder{'s' if allowed != 1 else ''}."].append(
                step.pk
            )
        elif step.later_due:
            closed["Passed over: a later reminder was due at the same time."].append(step.pk)
        else:
            to_queue[(step.version_id, step.kind)].append(step)
    counts = Counter()
    for outcome, ids in closed.items():
        ScheduledStep.objects.filter(pk__in=ids).update(done_at=now, outcome=outcome)
        counts["reminders not needed"] += len(ids)
    batches = {}
    for (version_id, kind), queued_steps in sorted(to_queue.items()):
        batch = batches.get(version_id)
        if batch is None:
            batch = batches[version_id] = SendBatch.objects.create(
                school=school,
                version_id=version_id,
                kind=SendBatch.Kind.REMINDERS,
                audience_kind=AudienceKind.REMINDERS,
                queued_at=now,
            )
        for chunk in batched(queued_steps, CHUNK_SIZE):
            invitations.outbox_queue(batch=batch, kind=kind, recipients=[(s.carer_id, s.email) for s in chunk])
        ScheduledStep.objects.filter(pk__in=[s.pk for s in queued_steps]).update(
            done_at=now, outcome="Reminder queued.", batch=batch
        )
        counts["reminders queued"] += len(queued_steps)
    for batch in batches.values():
        queued = batch.messages.count()
        if not queued:  # every one queued before (the outbox refused a second): nothing to send
            ScheduledStep.objects.filter(batch=batch).update(batch=None, outcome="Not needed: already reminded.")
            batch.delete()
            continue
        audit_record(
            actor=None,
            school=school,
            action=AuditEvent.Action.SEND_INVITATIONS,
            detail={
                "batch": batch.pk,
                "version": batch.version.number,
                "audience": batch.audience_description,
                "queued": queued,
            },
        )
        transaction.on_commit(partial(enqueue_batch, batch.pk))
    return steps[-1].pk, counts


# New families after an import.


def starters_invite(*, school_id: int, now: datetime.datetime | None = None) -> dict:
    """Invite the carers of pupils who joined the school since its invitations went out (if the
    school has that setting on): the staff's own send, to AudienceKind.STARTERS. Nothing when there
    is nobody new, so no empty batch is written."""
    school = Organisation.objects.get(pk=school_id)
    if not (school.is_school and school.invite_starters_automatically):
        return {}
    version = version_to_sign(school, timezone.localdate(now))
    if version is None:
        return {}
    with transaction.atomic():
        Organisation.objects.select_for_update().get(pk=school.pk)  # one run per school at a time
        summary = invitations.invitations_preview(school=school, audience=AudienceKind.STARTERS, version=version)
        if not summary.to_send:
            return {}
        batch = invitations.invitations_send(
            school=school, audience=AudienceKind.STARTERS, user=None, version=version
        )
    return {"schools": 1, "new carers invited": batch.summary.to_send}


def starters_run(now: datetime.datetime | None = None) -> dict:
    """Schools with the setting on where pupils or carers were added lately. The import enqueues
    starters_invite for its school at once; this catches a school whose task never ran (a process
    that died as the import committed), or families added another way (Django admin)."""
    now = now or timezone.now()
    counts = Counter()
    since = now - STARTERS_LOOK_BACK
    schools = Organisation.objects.filter(
        Exists(Pupil.objects.filter(school=OuterRef("pk"), created__gte=since))
        | Exists(Carer.objects.filter(school=OuterRef("pk"), created__gte=since)),
        kind=Organisation.Kind.SCHOOL,
        invite_starters_automatically=True,
    )
    for school_id in schools.order_by("pk").values_list("pk", flat=True):
        counts.update(starters_invite(school_id=school_id, now=now))
    return dict(counts)


# The run.

Step = Callable[[datetime.datetime], dict]

STEPS: list[tuple[str, Step]] = [
    ("e-mails left by stopped workers", outbox_recover),
    ("versions coming into force", invitations_run_due),
    ("reminders", reminders_run),
    ("new families", starters_run),
    ("reviews due", review_reminders_send),
    ("declines to tell the office", decline_notices_send),
    ("weekly completion e-mails", weekly_digests_send),
]


def register_step(name: str, step: Step) -> None:
    """Add a step from an app built on this one (evidence's retention job), run after these."""
    if name not in dict(STEPS):
        STEPS.append((name, step))


class StepsFailed(Exception):
    def __init__(self, results: dict, failed: list[str]):
        super().__init__(f"{len(failed)} scheduled step(s) failed: {', '.join(failed)}")
        self.results, self.failed = results, failed


def run_scheduled(*, now: datetime.datetime | None = None, steps: list[tuple[str, Step]] | None = None) -> dict:
    """Take every due step of the schedule for every school; returns counts by step.

    Safe to run as often as you like, and to rerun after a crash (see the module docstring). A
    step that fails does not stop the others; StepsFailed is raised at the end, with the results.
    """
    now = now or timezone.now()
    results, failed = {}, []
    for name, step in steps if steps is not None else STEPS:
        try:
            results[name] = step(now)
        except Exception as error:
            logger.exception("Scheduled step %r failed", name)
            results[name] = {"error": f"{type(error).__name__}: {error}"}
            failed.append(name)
    if failed:
        raise StepsFailed(results, failed)
    return results


@task()
def invite_to_new_version(version_id: int) -> dict:
    """A version that requires signing was published (its invitation steps written with it):
    write any missing (a school that joined since), and take the steps already due (those in
    force today). Retry-safe; if it never runs, the scheduler takes them."""
    return version_invitations_schedule(version_id=version_id)


@task()
def invite_joined_school(school_id: int) -> dict:
    """A school joined an association: its carers are asked to sign the code in force."""
    return joined_school_invite(school_id=school_id)


@task()
def invite_starters(school_id: int) -> dict:
    """After an import: invite the carers of pupils who joined since the school's invitations went
    out, if the school has that setting on. Retry-safe: nobody is invited twice."""
    return starters_invite(school_id=school_id)
