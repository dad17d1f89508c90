"""Who staff send to (audiences), what a send would do, queueing a batch, and sending again.

The outbox (sending/outbox.py) does the sending itself; see its docstring for why no carer is
e-mailed twice for the same purpose. The services staff use take the acting user, refuse
(PermissionDenied) anyone who may not manage the school's families, and write their own audit
event; the portal itself (the scheduler, the command line) acts as user None.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from itertools import batched

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import Exists, Max, Min, OuterRef, Q
from django.utils import timezone

from codes.models import CodeVersion
from codes.services import code_for_school, version_in_force
from declarations.selectors import (
    OUTSTANDING,
    UNREACHED,
    SigningTarget,
    carers_asked_to_sign,
    with_standing,
)
from schools import permissions
from schools.audit import audit_record
from schools.models import AuditEvent, Carer, Organisation, Pupil, PupilCarer
from sending.claims import reason_not_to_send, superseded, with_facts
from sending.models import OutboxMessage, SendBatch, audience_description
from sending.outbox import enqueue_batch, enqueue_message

logger = logging.getLogger(__name__)

Kind = OutboxMessage.Kind
Status = OutboxMessage.Status
AudienceKind = SendBatch.AudienceKind

INSERT_BATCH_SIZE = 500


def _check_may_send(user, school) -> None:
    """Staff send for a school whose families they manage; None is the portal itself."""
    if user is not None and not permissions.can_manage_families(user, school):
        raise PermissionDenied


# Who to send to.


@dataclass(frozen=True)
class Audience:
    """Who a send is for: everyone who has not signed, a year group, a registration group, one
    carer, or new families (carers of pupils who joined after the school's first invitations to
    sign the version; sent automatically after an import, see sending/scheduler.py). `value`
    names the year group, registration group or carer (their id)."""

    kind: AudienceKind
    value: str = ""

    @property
    def description(self) -> str:
        return audience_description(self.kind, self.value)


def audience_parse(audience) -> Audience:
    """"all-unsigned", ("year", "5"), ("reg", "5B") or ("carer", 123) as an Audience."""
    if isinstance(audience, Audience):
        return audience
    if audience in (AudienceKind.ALL, AudienceKind.STARTERS):
        return Audience(AudienceKind(audience))
    if isinstance(audience, (tuple, list)) and len(audience) == 2:
        kind, value = audience[0], str(audience[1]).strip()
        if kind in (AudienceKind.YEAR, AudienceKind.REG) and value:
            return Audience(AudienceKind(kind), value)
        if kind == AudienceKind.CARER and value.isdigit():
            return Audience(AudienceKind(kind), value)
    raise ValidationError(f"Not an audience to send to: {audience!r}.")


def _responsible_in_audience(school, audience: Audience):
    links = PupilCarer.objects.filter(
        carer=OuterRef("pk"), parental_responsibility=True, pupil__on_roll=True, pupil__school=school
    )
    if audience.kind == AudienceKind.YEAR:
        links = links.filter(pupil__year_group=audience.value)
    elif audience.kind == AudienceKind.REG:
        links = links.filter(pupil__reg_group=audience.value)
    return Exists(links)


def _in_audience(carers, school, audience: Audience, version):
    # Only those still outstanding: not signed or declined `version`, or the version before a
    # minor correction (rule 2).
    carers = with_standing(
        carers.filter(_responsible_in_audience(school, audience)), SigningTarget.for_version(version), schools=[school]
    )
    carers = carers.filter(standing__in=OUTSTANDING)
    if audience.kind == AudienceKind.CARER:
        carers = carers.filter(pk=int(audience.value))
    elif audience.kind == AudienceKind.STARTERS:
        carers = carers.filter(_starter(school, version))
    return carers


def _starter(school, version) -> Q:
    """Carers who joined the school (or a child of theirs did) after its first invitation to sign
    `version`, or the version it corrects. Before the school has invited anyone, nobody is a
    starter: a school's first import invites nobody by itself."""
    counting = SigningTarget.for_version(version).counts()
    first_invited = OutboxMessage.objects.filter(school=school, kind=Kind.INVITATION, **counting).aggregate(
        at=Min("created_at")
    )["at"]
    if first_invited is None:
        return Q(pk__in=[])
    return Q(created__gt=first_invited) | Q(
        Exists(
            PupilCarer.objects.filter(
                carer=OuterRef("pk"),
                parental_responsibility=True,
                pupil__on_roll=True,
                pupil__school=school,
                pupil__created__gt=first_invited,
            )
        )
    )


def audience_carers(*, school, audience, version):
    """Carers in the audience an e-mail reaches who have neither signed nor declined `version`."""
    return _in_audience(carers_asked_to_sign(school), school, audience_parse(audience), version).exclude(
        standing__in=UNREACHED
    )


def audience_paper_carers(*, school, audience, version):
    """Carers in the audience who have not signed or declined and whom no e-mail reaches (no
    address, or theirs bounced): they need a paper form, as the paper forms page lists them."""
    return _in_audience(carers_asked_to_sign(school), school, audience_parse(audience), version).filter(
        standing__in=UNREACHED
    )


def audience_choices(school) -> tuple[list[tuple[str, str]], list[str]]:
    """The year groups (value, label) and registration groups of the pupils on roll, for a form."""
    on_roll = Pupil.objects.filter(school=school, on_roll=True).order_by()
    years = set(on_roll.values_list("year_group", flat=True).distinct())
    year_choices = [(value, label) for value, label in Pupil.YearGroup.choices if value in years]
    regs = sorted(r for r in on_roll.exclude(reg_group="").values_list("reg_group", flat=True).distinct())
    return year_choices, regs


def version_to_send(school, version: CodeVersion | None = None) -> CodeVersion:
    """The version carers are asked to sign: the one in force for the school unless one is named."""
    code = code_for_school(school)
    if code is None:
        raise ValidationError(f"{school.name} has no code of conduct yet, so there is nothing to sign.")
    if version is None:
        version = version_in_force(code)
        if version is None:
            raise ValidationError(f"{school.name} has no published version in force yet, so there is nothing to sign.")
        return version
    if version.code_id != code.pk or not version.is_published:
        raise ValidationError(f"Version {version.number} is not a published version of {school.name}'s code.")
    return version


@dataclass(frozen=True)
class SendSummary:
    """What a send does (or did): e-mails queued, carers invited before, carers needing paper."""

    version: CodeVersion
    audience: Audience
    to_send: int
    already_invited: int
    needs_paper_form: list[Carer] = field(default_factory=list)


def invitations_preview(*, school, audience, version: CodeVersion | None = None) -> SendSummary:
    """What invitations_send would do now, without doing it (for the confirm step)."""
    audience = audience_parse(audience)
    version = version_to_send(school, version)
    carers = audience_carers(school=school, audience=audience, version=version).order_by()
    invited = Exists(
        OutboxMessage.objects.filter(carer=OuterRef("pk"), version=version, kind=Kind.INVITATION, sequence=0)
    )
    total = carers.count()
    already = carers.filter(invited).count()
    paper = list(audience_paper_carers(school=school, audience=audience, version=version))
    return SendSummary(version, audience, total - already, already, paper)


# Queuing.


def outbox_queue(*, batch: SendBatch, kind: str, recipients, sequence: int = 0) -> int:
    """One pending outbox row for each (carer id, e-mail address) in `recipients`, in `batch`.

    A carer who already has a row for the batch's version, this kind and sequence keeps it and
    gets no second one (the unique constraint, ON CONFLICT DO NOTHING). Returns how many rows this
    batch got. Set-based: rows are inserted INSERT_BATCH_SIZE at a time, never one by one.
    """
    for chunk in batched(recipients, INSERT_BATCH_SIZE):
        OutboxMessage.objects.bulk_create(
            [
                OutboxMessage(
                    school_id=batch.school_id,
                    carer_id=carer_id,
                    version_id=batch.version_id,
                    kind=kind,
                    sequence=sequence,
                    batch=batch,
                    to_address=address,
                )
                for carer_id, address in chunk
            ],
            ignore_conflicts=True,
        )
    return OutboxMessage.objects.filter(batch=batch).count()


def invitations_send(
    *, school: Organisation, audience, user, version: CodeVersion | None = None, request=None, enqueue: bool = True
) -> SendBatch:
    """Invite every carer in the audience to sign `version` (default: the school's version in force).

    Who: carers with parental responsibility for a pupil on roll in the audience, with an e-mail
    address, not erased, who have neither signed nor declined that version. Each gets one
    invitation, ever: a carer invited before (by any batch) gets nothing new, so repeating or
    retrying a send e-mails nobody twice. Returns at once whatever the number of carers (a few
    set-based queries); the batch, its outbox rows and the audit event commit together, and the
    sending task is enqueued only once they have (with enqueue=False the caller sends, e.g.
    `send_invitations --wait`). The batch returned carries `.summary`, a SendSummary, whose
    `needs_paper_form` lists the carers in the audience with no e-mail address.

    Refused with PermissionDenied unless `user` (None: the portal itself) may manage the school's
    families.
    """
    _check_may_send(user, school)
    audience = audience_parse(audience)
    if not school.is_school:
        raise ValidationError("Invitations are sent by a school.")
    actor = user if user is not None and user.is_authenticated else None
    with transaction.atomic():
        version = version_to_send(school, version)
        batch = SendBatch.objects.create(
            school=school,
            version=version,
            kind=SendBatch.Kind.INVITATIONS,
            audience_kind=audience.kind,
            audience_value=audience.value,
            created_by=actor,
            queued_at=timezone.now(),
        )
        recipients = list(
            audience_carers(school=school, audience=audience, version=version).order_by("pk").values_list("pk", "email")
        )
        queued = outbox_queue(batch=batch, kind=Kind.INVITATION, recipients=recipients)
        paper = list(audience_paper_carers(school=school, audience=audience, version=version))
        summary = SendSummary(version, audience, queued, len(recipients) - queued, paper)
        if not queued:
            SendBatch.objects.filter(pk=batch.pk).update(finished_at=batch.queued_at)
            batch.finished_at = batch.queued_at
        audit_record(
            actor=actor,
            school=school,
            action=AuditEvent.Action.SEND_INVITATIONS,
            detail={
                "batch": batch.pk,
                "version": version.number,
                "audience": audience.description,
                "queued": queued,
                "already_invited": summary.already_invited,
                "needs_paper_form": len(paper),
            },
            request=request,
            carer=Carer.objects.filter(pk=int(audience.value), school=school).first()
            if audience.kind == AudienceKind.CARER
            else None,
        )
        if enqueue and queued:
            transaction.on_commit(lambda: enqueue_batch(batch.pk, emails=queued))
    batch.summary = summary
    return batch


def batch_resume(*, batch: SendBatch, user, request=None) -> None:
    """Ask a worker again to send the batch's waiting e-mails, for staff who see them not going
    (harmless if a worker already is: each row is claimed once). Refused with PermissionDenied
    unless `user` may manage the school's families; recorded in the audit log."""
    _check_may_send(user, batch.school)
    with transaction.atomic():
        SendBatch.objects.filter(pk=batch.pk).update(finished_at=None)
        audit_record(
            actor=user,
            school=batch.school,
            action=AuditEvent.Action.SEND_INVITATIONS,
            detail={
                "batch": batch.pk,
                "version": batch.version.number,
                "resumed": batch.messages.filter(status=Status.PENDING).count(),
            },
            request=request,
        )
        transaction.on_commit(lambda: enqueue_batch(batch.pk))


# Sending again.


class ResendRefusal(models.TextChoices):
    """Why an e-mail cannot be sent again, besides the reasons it would not be sent at all
    (OutboxMessage.SkipReason)."""

    NOT_FAILED = "not-failed", "Only an e-mail that failed can be sent again."
    ALREADY_SENT_AGAIN = "sent-again", "This e-mail has already been sent again."


class ResendRefused(ValidationError):
    """outbox_message_resend's refusal: `reason` is a ResendRefusal or an OutboxMessage.SkipReason."""

    def __init__(self, reason):
        super().__init__(reason.label, code=reason.value)
        self.reason = reason


def outbox_message_resend(*, message: OutboxMessage, user, request=None) -> OutboxMessage:
    """Send a failed e-mail again, as a new outbox row with the next sequence.

    Refused (ResendRefused, with its reason) for an e-mail that was sent, is waiting or going
    (one a stopped worker held is taken up again by itself: sending/outbox.py, rule 4), was sent
    again already, or should no longer go (the carer signed, declined, left or has no address);
    so an e-mail the mail server took is never sent again by staff. PermissionDenied unless
    `user` may manage the school's families. The new row, the audit event and the sending task
    (enqueued on commit) go together.
    """
    _check_may_send(user, message.school)
    with transaction.atomic():
        locked = OutboxMessage.objects.select_for_update().get(pk=message.pk)
        if locked.status != Status.FAILED:
            raise ResendRefused(ResendRefusal.NOT_FAILED)
        same_purpose = OutboxMessage.objects.filter(
            carer_id=locked.carer_id, version_id=locked.version_id, kind=locked.kind
        )
        if same_purpose.filter(sequence__gt=locked.sequence).exists():
            raise ResendRefused(ResendRefusal.ALREADY_SENT_AGAIN)
        facts = with_facts(OutboxMessage.objects.filter(pk=locked.pk)).get()
        reason = reason_not_to_send(facts)
        if reason:
            raise ResendRefused(reason)
        sequence = same_purpose.aggregate(n=Max("sequence"))["n"] + 1
        again = OutboxMessage.objects.create(
            school_id=locked.school_id,
            carer_id=locked.carer_id,
            version_id=locked.version_id,
            kind=locked.kind,
            sequence=sequence,
            batch_id=locked.batch_id,
            to_address=facts.carer.email,
        )
        if locked.batch_id is not None:
            SendBatch.objects.filter(pk=locked.batch_id).update(finished_at=None)
        audit_record(
            actor=user,
            school=facts.school,
            action=AuditEvent.Action.SEND_INVITATIONS,
            detail={
                "batch": locked.batch_id,
                "version": facts.version.number,
                "kind": locked.kind,
                "sent_again": locked.pk,
                "message": again.pk,
            },
            request=request,
            carer=facts.carer,
        )
        transaction.on_commit(lambda: enqueue_message(again.pk))
    return again


def batch_resend_problems(*, batch: SendBatch, user, request=None) -> dict:
    """Send again every e-mail of the batch that failed and was not sent again yet.

    Each goes through outbox_message_resend in its own transaction, with its checks, audit event
    and sending task: one refused (the carer signed since, another member of staff sent it again
    first) leaves the others to go, and no purpose ever gets a second new row, so pressing twice
    sends nothing more. Returns {"sent_again": n, "refused": {reason: n}}, each reason a
    ResendRefusal or an OutboxMessage.SkipReason, most common first. PermissionDenied unless
    `user` may manage the school's families.
    """
    _check_may_send(user, batch.school)
    problems = (
        batch.messages.annotate(superseded=superseded()).filter(status=Status.FAILED, superseded=False).order_by("pk")
    )
    sent_again, refused = 0, Counter()
    for message in problems:
        try:
            outbox_message_resend(message=message, user=user, request=request)
        except ResendRefused as refusal:
            refused[refusal.reason] += 1
        else:
            sent_again += 1
    return {"sent_again": sent_again, "refused": dict(refused.most_common())}


def batch_paper_carers(batch: SendBatch):
    """Carers in the batch's audience who still need a paper form (no e-mail, not signed)."""
    if batch.audience_kind == AudienceKind.REMINDERS:
        return Carer.objects.none()  # reminders go to carers who were e-mailed an invitation
    audience = Audience(AudienceKind(batch.audience_kind), batch.audience_value)
    return audience_paper_carers(school=batch.school, audience=audience, version=batch.version)
