"""An outbox row's way from pending to sent: claimed by one worker, its link issued, and marked
sent, failed, skipped or pending again. The rules these steps keep are in sending/outbox.py's
docstring; sending/outbox.py runs them in order for each chunk of rows.
"""

from __future__ import annotations

import datetime
from collections import Counter, defaultdict

from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from declarations.models import Declaration, Decline, SigningRequest
from schools.models import PupilCarer
from sending.mailer import Prepared, describe
from sending.models import CHASING_KINDS, LINK_KINDS, OutboxMessage, Reminder, SendBatch

Kind = OutboxMessage.Kind
Status = OutboxMessage.Status
SkipReason = OutboxMessage.SkipReason

MAX_ATTEMPTS = 3
# A row claimed longer ago than this and still sending was left by a worker that died.
INTERRUPTED_AFTER = datetime.timedelta(minutes=10)


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
        still_responsible=Exists(
            PupilCarer.objects.filter(carer=OuterRef("carer"), parental_responsibility=True, pupil__on_roll=True)
        ),
    )


def reason_not_to_send(message: OutboxMessage) -> SkipReason | None:
    """Why this e-mail should no longer go (for a row loaded through with_facts), or None."""
    carer = message.carer
    if carer.erased_at is not None:
        return SkipReason.ERASED
    if not carer.email:
        return SkipReason.NO_ADDRESS
    if message.kind in CHASING_KINDS:
        if message.has_signed:
            return SkipReason.SIGNED
        if message.has_declined:
            return SkipReason.DECLINED
        if not message.still_responsible:
            return SkipReason.LEFT
    if message.kind == Kind.CONFIRMATION and not message.has_signed:
        return SkipReason.NOTHING_TO_CONFIRM
    return None


def message_is_interrupted(message: OutboxMessage, *, now: datetime.datetime | None = None) -> bool:
    """Claimed more than INTERRUPTED_AFTER ago and never finished: its worker died mid-send."""
    now = now or timezone.now()
    return bool(
        message.status == Status.SENDING and message.claimed_at and message.claimed_at < now - INTERRUPTED_AFTER
    )


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
    are read and skipping rows another worker has locked (see claim_next)."""
    return with_facts(pending).select_for_update(skip_locked=True, of=("self",)).order_by("pk")


class _ClaimRaced(Exception):
    """Another worker changed rows between reading and claiming them (a database without row locks)."""


def claim_next(claimable, size: int) -> tuple[list[OutboxMessage], int] | None:
    """Claim the oldest `size` pending rows no other worker is claiming, in one transaction, and
    skip those that should no longer go. Returns the rows claimed and how many were skipped, or
    None if there was nothing to claim."""
    for _ in range(3):
        try:
            with transaction.atomic():
                # Row locks skip rows another worker is claiming (PostgreSQL); on SQLite the
                # transaction holds the write lock from its start. Either way the UPDATE below
                # changes every row read; if it did not, nothing is kept and the claim is tried again.
                rows = list(claimable[:size])
                if not rows:
                    return None
                skipped, claimed = defaultdict(list), []
                for message in rows:
                    reason = reason_not_to_send(message)
                    if reason:
                        skipped[reason].append(message.pk)
                    else:
                        claimed.append(message)
                changed = 0
                for reason, ids in skipped.items():
                    changed += OutboxMessage.objects.filter(pk__in=ids, status=Status.PENDING).update(
                        status=Status.SKIPPED, skip_reason=reason
                    )
                now = timezone.now()
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
        return claimed, len(rows) - len(claimed)
    return [], 0  # raced three times (a database without row locks): another worker has these rows


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

LINK_FIELDS = ["token_hash", "issued_at", "expires_at", "reissued_count"]


def links_issue(items: list[Prepared], now: datetime.datetime) -> None:
    """Issue each item's link, as services.link_issue does one at a time: its request's hash
    replaced, so any earlier link stops working. Run inside the caller's transaction, which
    holds the requests' row locks until the links are stored."""
    if not items:
        return
    requests = {
        (request.carer_id, request.version_id): request
        for request in SigningRequest.objects.select_for_update(no_key=True, of=("self",)).filter(
            carer_id__in={item.message.carer_id for item in items},
            version_id__in={item.message.version_id for item in items},
        )
    }
    for item in items:
        request = requests[(item.message.carer_id, item.message.version_id)]
        item.request = request
        item.replaced = tuple(getattr(request, name) for name in LINK_FIELDS)
        if request.issued_at:
            request.reissued_count += 1
        request.token_hash, request.issued_at, request.expires_at = item.token_hash, now, item.expires_at
    issued = {item.request.pk: item.request for item in items}
    SigningRequest.objects.bulk_update(issued.values(), LINK_FIELDS)


def links_restore(items: list[Prepared]) -> None:
    """The e-mails carrying these links did not go: the links they replaced work again (unless
    a newer link has been issued since)."""
    for item in reversed(items):
        if item.request is None:
            continue
        SigningRequest.objects.filter(pk=item.request.pk, token_hash=item.token_hash).update(
            **dict(zip(LINK_FIELDS, item.replaced))
        )


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
def mark_sent(items: list[Prepared]) -> None:
    """The mail server took these e-mails: their rows sent, their requests' first-sent (and
    reminder) times recorded; one transaction for the group."""
    if not items:
        return
    now = timezone.now()
    OutboxMessage.objects.filter(pk__in=[item.message.pk for item in items], status=Status.SENDING).update(
        status=Status.SENT, sent_at=now, error=""
    )
    for item in items:  # the carer's address changed since the row was queued: the one it went to
        message = item.message
        if message.to_address != message.carer.email:
            OutboxMessage.objects.filter(pk=message.pk).update(to_address=message.carer.email)
    requests = [item.request.pk for item in items if item.request is not None]
    if requests:
        SigningRequest.objects.filter(pk__in=requests, sent_at__isnull=True).update(sent_at=now)
        SigningRequest.objects.filter(pk__in=requests, delivery_failed_at__isnull=False).update(delivery_failed_at=None)
    reminded = Counter(
        item.request.pk for item in items if item.request is not None and item.message.kind in Reminder.values
    )
    for times in set(reminded.values()):
        SigningRequest.objects.filter(pk__in=[pk for pk, n in reminded.items() if n == times]).update(
            last_reminded_at=now, reminders_sent=F("reminders_sent") + times
        )


def batch_finish_if_done(batch_id: int) -> None:
    if not OutboxMessage.objects.filter(batch_id=batch_id, status=Status.PENDING).exists():
        SendBatch.objects.filter(pk=batch_id, finished_at__isnull=True).update(finished_at=timezone.now())
