"""An outbox row's way from pending to sent: claimed by one worker, its link chosen, and marked
sent, failed, skipped or pending again; and taken up again when the worker holding it stopped.
The rules these steps keep are in sending/outbox.py's docstring; sending/outbox.py runs them in
order for each chunk of rows.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from declarations.models import Declaration, Decline, SigningRequest
from declarations.services import LINK_FIELDS, link_to_send
from schools.models import Carer
from sending.hours import sending_opens
from sending.mailer import Prepared, describe
from sending.models import CHASING_KINDS, LINK_KINDS, OutboxMessage, Reminder, SendBatch

Kind = OutboxMessage.Kind
Status = OutboxMessage.Status
SkipReason = OutboxMessage.SkipReason

MAX_ATTEMPTS = 3


def lease() -> datetime.timedelta:
    """How long rows claimed by a worker stay its own without a sign of life from it (the
    PORTAL_OUTBOX_LEASE setting): after that they are taken up again (rows_take_back)."""
    return settings.PORTAL_OUTBOX_LEASE


# Whether a row may still go.


def with_facts(messages):
    """Outbox rows with what decides whether they may still be sent, in the same query."""
    # Signing or declining a later version of the code answers this one's invitation too.
    answered = {
        "carer": OuterRef("carer"),
        "version__code_id": OuterRef("version__code_id"),
        "version__number__gte": OuterRef("version__number"),
    }
    return messages.select_related("carer", "school", "version").annotate(
        has_signed=Exists(Declaration.objects.filter(**answered)),
        has_declined=Exists(Decline.objects.filter(**answered)),
        # Whether an invitation says what changed since (sending/emails.py: what_changed).
        signed_before=Exists(
            Declaration.objects.filter(
                carer=OuterRef("carer"),
                version__code_id=OuterRef("version__code_id"),
                version__number__lt=OuterRef("version__number"),
            )
        ),
        # Who is asked to sign is decided in one place (CarerQuerySet.asked_to_sign).
        still_asked=Exists(Carer.objects.filter(pk=OuterRef("carer")).asked_to_sign()),
    )


def reason_not_to_send(message: OutboxMessage) -> SkipReason | None:
    """Why this e-mail should no longer go (for a row loaded through with_facts), or None."""
    carer = message.carer
    if carer.erased_at is not None:
        return SkipReason.ERASED
    if not carer.email:
        return SkipReason.NO_ADDRESS
    if message.kind in CHASING_KINDS:
        if carer.email_bounced and carer.email_bounced == carer.email:
            return SkipReason.BOUNCED
        if message.has_signed:
            return SkipReason.SIGNED
        if message.has_declined:
            return SkipReason.DECLINED
        if not message.still_asked:
            return SkipReason.LEFT
    if message.kind == Kind.CONFIRMATION and not message.has_signed:
        return SkipReason.NOTHING_TO_CONFIRM
    return None


def superseded():
    """Whether a row has been sent again since (a later sequence for the same purpose)."""
    return Exists(
        OutboxMessage.objects.filter(
            carer=OuterRef("carer"),
            version=OuterRef("version"),
            kind=OuterRef("kind"),
            sequence__gt=OuterRef("sequence"),
        )
    )


# Claiming.


def claimable_rows(pending):
    """The pending rows with what decides whether they may still go, oldest first, locked as they
    are read and skipping rows another worker has locked (see claim_next); not those waiting
    for their school's sending hours."""
    due = pending.filter(Q(not_before__isnull=True) | Q(not_before__lte=timezone.now()))
    return with_facts(due).select_for_update(skip_locked=True, of=("self",)).order_by("pk")


def held_until(message: OutboxMessage, now: datetime.datetime) -> datetime.datetime | None:
    """When an invitation or reminder may go if it is outside its school's sending hours now
    (sending/hours.py), else None: every other e-mail (a link the carer asked for, a
    confirmation) goes at once."""
    if message.kind not in CHASING_KINDS:
        return None
    opens = sending_opens(message.school, now)
    return opens if opens > now else None


@dataclass
class Claim:
    """What one claim_next did: the rows it claimed, how many it skipped, and the rows it left
    waiting for sending hours (id, batch id, until when)."""

    claimed: list[OutboxMessage]
    skipped: int = 0
    held: list[tuple[int, int | None, datetime.datetime]] = field(default_factory=list)


class _ClaimRaced(Exception):
    """Another worker changed rows between reading and claiming them (a database without row locks)."""


def claim_next(claimable, size: int) -> Claim | None:
    """Claim the oldest `size` pending rows no other worker is claiming, in one transaction, skip
    those that should no longer go and leave pending, marked with when they may go, those
    outside their school's sending hours. Returns what it did, or None if there was nothing to
    claim."""
    for _ in range(3):
        try:
            with transaction.atomic():
                # Row locks skip rows another worker is claiming (PostgreSQL); on SQLite the
                # transaction holds the write lock from its start. Either way the UPDATE below
                # changes every row read; if it did not, nothing is kept and the claim is tried again.
                rows = list(claimable[:size])
                if not rows:
                    return None
                now = timezone.now()
                skipped, held, claimed = defaultdict(list), defaultdict(list), []
                for message in rows:
                    reason = reason_not_to_send(message)
                    until = None if reason else held_until(message, now)
                    if reason:
                        skipped[reason].append(message.pk)
                    elif until:
                        held[until].append(message)
                    else:
                        claimed.append(message)
                changed = 0
                for reason, ids in skipped.items():
                    changed += OutboxMessage.objects.filter(pk__in=ids, status=Status.PENDING).update(
                        status=Status.SKIPPED, skip_reason=reason
                    )
                for until, waiting in held.items():  # left pending, for when sending hours begin
                    changed += OutboxMessage.objects.filter(
                        pk__in=[message.pk for message in waiting], status=Status.PENDING
                    ).update(not_before=until)
                if claimed:
                    changed += OutboxMessage.objects.filter(
                        pk__in=[message.pk for message in claimed], status=Status.PENDING
                    ).update(status=Status.SENDING, claimed_at=now, attempts=F("attempts") + 1)
                if changed != len(rows):
                    raise _ClaimRaced()
        except _ClaimRaced:
            continue
        for message in claimed:
            message.status, message.claimed_at, message.attempts = Status.SENDING, now, message.attempts + 1
        _signing_requests_ensure(claimed)
        waiting = [(m.pk, m.batch_id, until) for until, messages in held.items() for m in messages]
        return Claim(claimed, skipped=sum(len(ids) for ids in skipped.values()), held=waiting)
    return Claim([])  # raced three times (a database without row locks): another worker has these rows


def _signing_requests_ensure(messages) -> None:
    """The request rows the links will need, made in one INSERT (the rows
    services.signing_request_for would create)."""
    SigningRequest.objects.bulk_create(
        [
            SigningRequest(school_id=m.carer.school_id, carer_id=m.carer_id, version_id=m.version_id)
            for m in messages
            if m.kind in LINK_KINDS
        ],
        ignore_conflicts=True,
    )


# The links the e-mails carry.


def links_for(messages: list[OutboxMessage], now: datetime.datetime, valid_days) -> dict[int, tuple]:
    """The link each claimed row's e-mail carries, by row id: (its signing request, the token).

    The carer's current link if it still works, else a new one (services.link_to_send): so an
    e-mail sent again after a worker died carries the link the first one did, and no e-mail
    stops a link the carer holds from working. `valid_days(message)` is how long a link works
    for the carer's school. Run inside the caller's transaction, which holds the requests' row
    locks until the links are stored."""
    messages = [message for message in messages if message.kind in LINK_KINDS]
    if not messages:
        return {}
    requests = {
        (request.carer_id, request.version_id): request
        for request in SigningRequest.objects.select_for_update(no_key=True, of=("self",)).filter(
            carer_id__in={message.carer_id for message in messages},
            version_id__in={message.version_id for message in messages},
        )
    }
    links = {}
    for message in messages:
        request = requests[(message.carer_id, message.version_id)]
        links[message.pk] = (request, link_to_send(request, now=now, valid_days=valid_days(message)))
    SigningRequest.objects.bulk_update({request.pk: request for request, _ in links.values()}.values(), LINK_FIELDS)
    return links


class Hold:
    """The rows of one claim a worker has not finished yet. It renews its hold on them as it
    goes (every quarter of the lease), so the sweep leaves them alone while it lives; a row
    taken back meanwhile (the worker stalled for a whole lease) is no longer its to send."""

    def __init__(self, messages: list[OutboxMessage]):
        self.ids = {message.pk for message in messages}
        self.since = messages[0].claimed_at if messages else timezone.now()

    def keeps(self, message: OutboxMessage) -> bool:
        now = timezone.now()
        if self.ids and now - self.since >= lease() / 4:
            held = OutboxMessage.objects.filter(pk__in=self.ids, status=Status.SENDING, claimed_at=self.since)
            if held.update(claimed_at=now) < len(self.ids):
                self.ids = set(
                    OutboxMessage.objects.filter(pk__in=self.ids, status=Status.SENDING, claimed_at=now).values_list(
                        "pk", flat=True
                    )
                )
            self.since = now
        return message.pk in self.ids

    def let_go(self, message: OutboxMessage) -> None:
        self.ids.discard(message.pk)


# How it went.


def unclaim(items: list[Prepared]) -> None:
    """Claimed but never tried (the server failed first): pending again, the try given back."""
    if items:
        OutboxMessage.objects.filter(pk__in=[item.message.pk for item in items], status=Status.SENDING).update(
            status=Status.PENDING, attempts=F("attempts") - 1
        )


def finish(message: OutboxMessage, status: str, *, error: str = "") -> None:
    OutboxMessage.objects.filter(pk=message.pk, status=Status.SENDING).update(status=status, error=error)
    if status == Status.FAILED and message.kind in LINK_KINDS:
        # What the school's status page shows as "e-mail could not be sent".
        SigningRequest.objects.filter(carer_id=message.carer_id, version_id=message.version_id).update(
            delivery_failed_at=timezone.now()
        )


def release(message: OutboxMessage, error: Exception) -> None:
    """Not sent because the mail server failed: pending again, unless the tries are used up."""
    if message.attempts >= MAX_ATTEMPTS:
        finish(message, Status.FAILED, error=f"Gave up after {message.attempts} tries. {describe(error)}")
    else:
        finish(message, Status.PENDING, error=f"Try {message.attempts} failed; trying again. {describe(error)}")


@transaction.atomic
def mark_sent(item: Prepared) -> None:
    """The mail server took this e-mail: its row sent (to the address it went to), its request's
    first-sent (and reminder) times recorded, at once, so nothing it took is ever sent again but
    an e-mail in flight when a worker dies. Even a row taken back meanwhile is marked: it went."""
    now = timezone.now()
    message = item.message
    status = getattr(item.email, "anymail_status", None)  # sent through an e-mail service
    OutboxMessage.objects.filter(pk=message.pk).exclude(status=Status.SENT).update(
        status=Status.SENT,
        sent_at=now,
        error="",
        to_address=message.carer.email,
        provider_message_id=str(status.message_id)[:255] if status and status.message_id is not None else "",
    )
    if item.request is not None:
        updates = {"sent_at": Coalesce("sent_at", Value(now)), "delivery_failed_at": None}
        if message.kind in Reminder.values:
            updates.update(last_reminded_at=now, reminders_sent=F("reminders_sent") + 1)
        SigningRequest.objects.filter(pk=item.request.pk).update(**updates)


def batch_finish_if_done(batch_id: int) -> None:
    """Finished once nothing is waiting or being sent (rows a worker left sending are neither
    finished nor lost: the sweep takes them up again)."""
    if not OutboxMessage.objects.filter(batch_id=batch_id, status__in=[Status.PENDING, Status.SENDING]).exists():
        SendBatch.objects.filter(pk=batch_id, finished_at__isnull=True).update(finished_at=timezone.now())


# Taking up again what a stopped worker held.


def rows_take_back(now: datetime.datetime) -> dict:
    """Rows left sending longer than the lease: their worker stopped (killed, out of memory, the
    machine restarted) between claiming them and hearing from the mail server. Each goes back
    to pending, to be sent by the next run with the link it already has; one whose tries are
    used up (it stopped a worker each time) is failed, for staff to look at. Returns the rows
    taken back as {"pending": [(id, batch id)], "failed": n}; taking back is one conditional
    UPDATE, so two sweeps at once never both take a row."""
    expired = Q(status=Status.SENDING, claimed_at__lt=now - lease())
    if not OutboxMessage.objects.filter(expired).exists():  # the usual case: no write lock taken
        return {"pending": [], "failed": 0}
    with transaction.atomic():
        rows = list(
            OutboxMessage.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(expired)
            .values_list("pk", "batch_id", "attempts")
        )
        given_up = [pk for pk, _, attempts in rows if attempts >= MAX_ATTEMPTS]
        again = [(pk, batch_id) for pk, batch_id, attempts in rows if attempts < MAX_ATTEMPTS]
        failed = OutboxMessage.objects.filter(expired, pk__in=given_up).update(
            status=Status.FAILED,
            error=(
                f"The worker sending this e-mail stopped {MAX_ATTEMPTS} times before the mail server "
                "was known to have taken it. Sending it again sends the carer the same link."
            ),
        )
        OutboxMessage.objects.filter(expired, pk__in=[pk for pk, _ in again]).update(
            status=Status.PENDING, error="The worker sending this e-mail stopped; it was taken up again."
        )
        batches = {batch_id for _, batch_id, _ in rows if batch_id is not None}
        SendBatch.objects.filter(pk__in=batches, finished_at__isnull=False).update(finished_at=None)
    return {"pending": again, "failed": failed}


def batches_unattended(now: datetime.datetime) -> list[int]:
    """Batches with e-mails waiting longer than the lease that no worker has claimed any of
    meanwhile, nor been asked to send since: the task sending them died with its worker (the
    task queue may show it running for ever), or was never run. Each is marked asked for now."""
    cutoff = now - lease()
    waiting = OutboxMessage.objects.filter(status=Status.PENDING, batch__isnull=False, created_at__lt=cutoff).exclude(
        not_before__gte=cutoff  # waiting for sending hours, and asked for when they begin
    )
    batch_ids = (
        SendBatch.objects.filter(pk__in=waiting.values("batch_id"))
        .filter(Q(requeued_at__isnull=True) | Q(requeued_at__lt=cutoff), created_at__lt=cutoff)
        .exclude(Exists(OutboxMessage.objects.filter(batch=OuterRef("pk"), claimed_at__gte=cutoff)))
    )
    with transaction.atomic():
        ids = list(batch_ids.select_for_update(skip_locked=True, of=("self",)).values_list("pk", flat=True))
        SendBatch.objects.filter(pk__in=ids).update(requeued_at=now)
    return ids


def messages_unattended(now: datetime.datetime) -> list[int]:
    """The same for e-mails sent on their own (confirmations, new links): waiting longer than
    the lease, unclaimed and not asked for since. Each is marked asked for now."""
    cutoff = now - lease()
    rows = OutboxMessage.objects.filter(
        Q(claimed_at__isnull=True) | Q(claimed_at__lt=cutoff),
        Q(requeued_at__isnull=True) | Q(requeued_at__lt=cutoff),
        status=Status.PENDING,
        batch__isnull=True,
        created_at__lt=cutoff,
    ).exclude(not_before__gte=cutoff)
    with transaction.atomic():
        ids = list(rows.select_for_update(skip_locked=True, of=("self",)).values_list("pk", flat=True))
        OutboxMessage.objects.filter(pk__in=ids).update(requeued_at=now)
    return ids
