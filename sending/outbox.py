"""Sending e-mails to carers through the outbox: invitations, and every other kind the same way.

How no carer is e-mailed twice for the same purpose
--------------------------------------------------
1. A send (staff on the web, `manage.py send_invitations`, the scheduler for reminders)
   writes one OutboxMessage per carer, version and kind of e-mail. The outbox's unique constraint
   on (carer, version, kind, sequence) means a repeated, retried or concurrent send finds the
   row already there and adds nothing.
2. A worker claims rows by moving them from pending to sending in one conditional UPDATE, a few
   (CHUNK_SIZE) at a time: the oldest pending rows, under row locks that make another worker skip
   them and take the next ones (PostgreSQL), or in a transaction that holds the write lock
   (SQLite). Only the worker whose UPDATE changed a row goes on to send it, so any number of
   workers can share one batch. The claimed rows' new links are then issued together, just
   before their e-mails go: each carer's old link stops working then.
3. Once the mail server has taken the e-mails of a chunk, their rows are marked sent, together.
   If the mail backend raises, that e-mail was not taken: a refusal of that one message (a bad
   address) marks it failed and the run goes on; anything else (the connection dropped) puts it
   and the rows of its chunk not tried yet back to pending, stops the run and asks for another in
   a minute, up to MAX_ATTEMPTS tries per e-mail. A server that cannot be reached at all stops
   the run before any row is claimed, and costs no e-mail a try: the e-mails wait, and the run is
   asked for again every minute until the server is back. An e-mail that did not go leaves the
   carer's earlier link working.
4. A worker that dies between claiming and marking leaves the rows of its chunk in sending, and
   nobody knows whether those e-mails went. They are never sent again automatically: better an
   e-mail staff can see is missing than one a parent gets twice. After INTERRUPTED_AFTER the
   batch page shows them as interrupted, with "send again", which adds a row with the next
   sequence. CHUNK_SIZE keeps that group small.

Each step of a row's way is in sending/claims.py; the mail connection and the writing of each
e-mail in sending/mailer.py. A run sends over one mail connection, chunk by chunk, so memory
stays flat and an SMTP server sees one session, not thousands. The tasks here only load by id
and call outbox_send_pending / outbox_message_send. A worker never finds a task before the rows
it sends have committed; a large batch is queued as several tasks, so that several workers send
it together (SENDER_SHARE). A retry after a mail server failure is queued at once, for later.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max
from django.tasks import task
from django.utils import timezone

from portal.tasks import enqueue_with_transaction
from sending import claims
from sending.mailer import (
    Mailer,
    MailServerUnavailable,
    SendContext,
    describe,
    prepare,
    refused_for_this_message,
)
from sending.models import OutboxMessage

logger = logging.getLogger(__name__)

Status = OutboxMessage.Status

CHUNK_SIZE = 50  # rows claimed, sent and marked sent together
SENDER_SHARE = 500  # e-mails per sending task queued for a batch (so several workers share it)
MAX_SENDERS = 8
RETRY_AFTER = datetime.timedelta(minutes=1)


def enqueue_batch(batch_id: int, *, after: datetime.timedelta | None = None, emails: int = 0) -> None:
    """Ask for the batch to be sent: one task, or one per SENDER_SHARE of its `emails` (up to
    MAX_SENDERS), which as many workers run at once, claiming rows in turn. A task that starts
    once the others have sent everything finds nothing to claim and ends."""
    task = send_batch if after is None else send_batch.using(run_after=timezone.now() + after)
    for _ in range(max(1, min(MAX_SENDERS, -(-emails // SENDER_SHARE)))):
        task.enqueue(batch_id)


def enqueue_message(message_id: int, *, after: datetime.timedelta | None = None) -> None:
    task = send_outbox_message if after is None else send_outbox_message.using(run_after=timezone.now() + after)
    task.enqueue(message_id)


# Sending.


@dataclass
class SendResult:
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    taken: int = 0  # claimed by another worker first

    @property
    def handled(self) -> int:
        return self.sent + self.failed + self.skipped + self.taken

    def as_dict(self) -> dict:
        return {"sent": self.sent, "failed": self.failed, "skipped": self.skipped, "taken": self.taken}


def outbox_send_pending(*, batch_id: int | None = None, limit: int | None = None) -> dict:
    """Send pending outbox e-mails (one batch's, or any), oldest first; returns counts by outcome.

    Rows are claimed CHUNK_SIZE at a time (the oldest pending rows no other worker is claiming)
    before they are sent, so any number of workers may run this at once, sharing the rows, and
    none sends a row another has claimed. One mail connection serves the whole run. If the mail
    server fails (not just refuses one message) the rows not sent go back to pending, a retry is
    enqueued for a minute later and MailServerUnavailable is raised.
    """
    result = SendResult()
    context = SendContext()
    pending = OutboxMessage.objects.filter(status=Status.PENDING)
    if batch_id is not None:
        pending = pending.filter(batch_id=batch_id)
    claimable = claims.claimable_rows(pending)
    try:
        with Mailer() as mailer:
            while limit is None or result.handled < limit:
                if not mailer.is_open:  # opened before any row is claimed: a server that is down costs no try
                    if not pending.exists():
                        break
                    mailer.open()
                size = CHUNK_SIZE if limit is None else min(CHUNK_SIZE, limit - result.handled)
                if not _send_chunk(claimable, size, mailer, context, result):
                    break
    except MailServerUnavailable:
        if batch_id is not None:
            enqueue_batch(batch_id, after=RETRY_AFTER)
        raise
    finally:
        if batch_id is not None:
            claims.batch_finish_if_done(batch_id)
    return result.as_dict()


def outbox_message_send(message_id: int) -> str:
    """Send one outbox e-mail if it is still pending, claimed like any other.

    Returns what happened: "sent", "failed", "skipped" or "taken" (not pending: already sent,
    or claimed by another worker). On a mail server failure the row goes back to pending and a
    retry is enqueued for a minute later.
    """
    message = OutboxMessage.objects.filter(pk=message_id).values("status", "batch_id").first()
    if message is None or message["status"] != Status.PENDING:
        return "taken"
    result = SendResult()
    try:
        with Mailer() as mailer:
            mailer.open()
            pending = OutboxMessage.objects.filter(pk=message_id, status=Status.PENDING)
            _send_chunk(claims.claimable_rows(pending), 1, mailer, SendContext(), result)
    except MailServerUnavailable:
        enqueue_message(message_id, after=RETRY_AFTER)
        raise
    finally:
        if message["batch_id"] is not None:
            claims.batch_finish_if_done(message["batch_id"])
    outcomes = [outcome for outcome, count in result.as_dict().items() if count]
    return outcomes[0] if outcomes else "taken"


def _send_chunk(claimable, size: int, mailer: Mailer, context: SendContext, result: SendResult) -> bool:
    """Claim up to `size` of the `claimable` rows and send them; False when there was none to claim.

    1. One transaction: the rows claimed (pending → sending, a try used), or skipped if they
       should no longer go. 2. Each e-mail written with a new link's token. 3. One transaction:
       the links issued (each request's hash replaced: earlier links stop working). 4. Each sent
       over the run's connection. 5. One transaction: those the server took marked sent.
    A worker that dies between 1 and 5 leaves the chunk's rows in sending: none of them is sent
    again automatically (the module docstring, rule 4).
    """
    claim = claims.claim_next(claimable, size)
    if claim is None:
        return False
    claimed, skipped = claim
    result.skipped += skipped
    if not claimed:
        return True
    now = timezone.now()
    prepared, faults = [], {}
    for message in claimed:
        try:
            prepared.append(prepare(message, context, now))
        except Exception as error:
            logger.exception("Could not prepare outbox message %s", message.pk)
            faults[message] = describe(error)
    with transaction.atomic():
        claims.links_issue([item for item in prepared if item.token_hash], now)
        for message, error in faults.items():  # nothing was sent and no link issued
            claims.finish(message, Status.FAILED, error=error)
    result.failed += len(faults)
    sent = []
    for index, item in enumerate(prepared):
        try:
            mailer.send(item.email)
        except Exception as error:
            if refused_for_this_message(error):
                claims.links_restore([item])
                claims.finish(item.message, Status.FAILED, error=describe(error))
                result.failed += 1
                continue
            # Those that went are sent; this one and those not tried yet wait for the retry.
            claims.mark_sent(sent)
            result.sent += len(sent)
            claims.links_restore(prepared[index:])
            claims.release(item.message, error)
            claims.unclaim(prepared[index + 1 :])
            raise MailServerUnavailable(describe(error)) from error
        sent.append(item)
    claims.mark_sent(sent)
    result.sent += len(sent)
    return True


# The worker's tasks: each loads by id and calls the sending above.


@task()
def send_outbox_message(message_id: int) -> str:
    """Send one outbox e-mail (claimed atomically; never sent twice). Returns what happened."""
    return outbox_message_send(message_id)


@task()
def send_batch(batch_id: int) -> dict:
    """Send the pending e-mails of one batch, sharing them with any other worker running this task
    for the batch at the same time (a large batch is queued as several). Returns counts: sent,
    failed, skipped, taken."""
    return outbox_send_pending(batch_id=batch_id)


# Queueing one e-mail.


def next_sequence(*, carer, version_id: int, kind: str) -> int:
    """The sequence for a deliberate repeat of an e-mail (a new link): one more than the last."""
    latest = OutboxMessage.objects.filter(carer=carer, version_id=version_id, kind=kind).aggregate(n=Max("sequence"))
    return (latest["n"] or 0) + 1


def message_queue(*, carer, version_id: int, kind: str, sequence: int = 0) -> OutboxMessage:
    """Write one e-mail to the outbox and ask a worker to send it, with the caller's transaction:
    a worker never finds a row that may yet be rolled back. Queueing the same purpose twice
    finds the row already there (the outbox's unique constraint) and sends it once."""
    message, _ = OutboxMessage.objects.get_or_create(
        carer=carer,
        version_id=version_id,
        kind=kind,
        sequence=sequence,
        defaults={"school_id": carer.school_id, "to_address": carer.email},
    )
    enqueue_with_transaction(send_outbox_message, message.pk)
    return message
