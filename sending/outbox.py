"""Sending e-mails to carers through the outbox: invitations, and every other kind the same way.

The outbox is the source of truth for what has gone: the task queue is only how a worker is
asked to look at it, and a task may be lost or may never finish.

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
   workers can share one batch. The claimed rows' links are then chosen together: the carer's
   current link if it still works, else a new one (sending/claims.py: links_for).
3. Each row is marked sent the moment the mail server takes its e-mail. If the mail backend
   raises, that e-mail was not taken: a refusal of that one message (a bad address) marks it
   failed and the run goes on; anything else (the connection dropped) puts it and the rows of
   its chunk not tried yet back to pending, stops the run and asks for another in a minute, up
   to MAX_ATTEMPTS tries per e-mail. A server that cannot be reached at all stops the run before
   any row is claimed, and costs no e-mail a try: the e-mails wait, and the run is asked for
   again every minute until the server is back.
4. A worker that dies (killed, out of memory, the machine restarted) leaves the rows it had
   claimed and not finished in sending; its task may stay "running" in the queue for ever. A
   live worker renews its claim as it goes; rows whose claim is older than the lease
   (settings.PORTAL_OUTBOX_LEASE) are taken back to pending by the sweep, outbox_recover, which
   `manage.py run_scheduled` runs and every sending run starts with, and a worker is asked to
   send them; the sweep also asks again for any batch or e-mail waiting longer than the lease
   that no worker has touched. Only the one e-mail the mail server may have taken just as its
   worker died can go twice, and it carries the same link both times (links are numbered and
   can be written again: declarations/tokens.py), so the repeat is harmless. Staff "send again"
   only e-mails that failed, so never one the server took.
5. Invitations and reminders go only within the school's sending hours (sending/hours.py). A row
   found outside them when a worker would claim it stays pending, marked with when they begin
   (not_before); no worker claims it before, the sending task is queued again for then, and the
   sweep leaves it alone until then. A link the carer asked for and a confirmation go at once.

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
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count, Max
from django.tasks import task
from django.utils import timezone

from declarations.selectors import children_to_name_for
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
    # Left waiting for their school's sending hours: batch id (or None) → the rows' ids and when
    # the first may go.
    held: dict = field(default_factory=dict)

    @property
    def handled(self) -> int:
        return self.sent + self.failed + self.skipped + self.taken

    def as_dict(self) -> dict:
        counts = {"sent": self.sent, "failed": self.failed, "skipped": self.skipped, "taken": self.taken}
        waiting = sum(len(ids) for ids, _ in self.held.values())
        return counts | ({"waiting for sending hours": waiting} if waiting else {})

    def hold(self, held) -> None:
        for pk, batch_id, until in held:
            ids, first = self.held.get(batch_id, ([], until))
            ids.append(pk)
            self.held[batch_id] = (ids, min(first, until))

    def ask_again_when_sending_hours_begin(self) -> None:
        """Queue the sending of what waits for sending hours for when they begin: a batch once,
        at the earliest of its rows' times; an e-mail on its own at its time."""
        now = timezone.now()
        for batch_id, (ids, first) in self.held.items():
            if batch_id is not None:
                enqueue_batch(batch_id, after=first - now, emails=len(ids))
        if None in self.held:
            for pk, until in OutboxMessage.objects.filter(pk__in=self.held[None][0]).values_list("pk", "not_before"):
                enqueue_message(pk, after=until - now)


def outbox_send_pending(*, batch_id: int | None = None, limit: int | None = None) -> dict:
    """Send pending outbox e-mails (one batch's, or any), oldest first; returns counts by outcome.

    Rows are claimed CHUNK_SIZE at a time (the oldest pending rows no other worker is claiming)
    before they are sent, so any number of workers may run this at once, sharing the rows, and
    none sends a row another has claimed. One mail connection serves the whole run. If the mail
    server fails (not just refuses one message) the rows not sent go back to pending, a retry is
    enqueued for a minute later and MailServerUnavailable is raised. Rows a stopped worker left
    sending are taken back first (outbox_recover).
    """
    outbox_recover(sweep=False)
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
        result.ask_again_when_sending_hours_begin()
        if batch_id is not None:
            claims.batch_finish_if_done(batch_id)
    return result.as_dict()


def outbox_message_send(message_id: int) -> str:
    """Send one outbox e-mail if it is still pending, claimed like any other.

    Returns what happened: "sent", "failed", "skipped" or "taken" (not pending: already sent,
    or claimed by another worker). On a mail server failure the row goes back to pending and a
    retry is enqueued for a minute later.
    """
    outbox_recover(sweep=False)
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
        result.ask_again_when_sending_hours_begin()
        if message["batch_id"] is not None:
            claims.batch_finish_if_done(message["batch_id"])
    if result.held:
        return "waiting for sending hours"
    outcomes = [outcome for outcome, count in result.as_dict().items() if count]
    return outcomes[0] if outcomes else "taken"


def _send_chunk(claimable, size: int, mailer: Mailer, context: SendContext, result: SendResult) -> bool:
    """Claim up to `size` of the `claimable` rows and send them; False when there was none to claim.

    1. One transaction: the rows claimed (pending → sending, a try used), or skipped if they
       should no longer go. 2. One transaction: the links they carry chosen and stored (the
       carer's current link if it works, else a new one). 3. Each e-mail written and sent over
       the run's connection, 4. and marked sent the moment the server took it. A worker that dies
       leaves the rows it had not finished in sending, until the sweep takes them back (the
       module docstring, rule 4); it renews its claim as it goes meanwhile.
    """
    claim = claims.claim_next(claimable, size)
    if claim is None:
        return False
    claimed = claim.claimed
    result.skipped += claim.skipped
    result.hold(claim.held)
    if not claimed:
        return True
    with transaction.atomic():
        links = claims.links_for(claimed, timezone.now(), context.link_days)
    hold = claims.Hold(claimed)
    children = children_to_name_for({message.carer for message in claimed})
    prepared = []
    for message in claimed:
        try:
            prepared.append(prepare(message, context, links.get(message.pk), children[message.carer_id]))
        except Exception as error:  # nothing was sent; the link, if new, is the carer's current one
            logger.exception("Could not prepare outbox message %s", message.pk)
            claims.finish(message, Status.FAILED, error=describe(error))
            hold.let_go(message)
            result.failed += 1
    for index, item in enumerate(prepared):
        if not hold.keeps(item.message):  # taken back while this worker stalled: another sends it
            result.taken += 1
            continue
        try:
            mailer.send(item.email)
        except Exception as error:
            if refused_for_this_message(error):
                claims.finish(item.message, Status.FAILED, error=describe(error))
                hold.let_go(item.message)
                result.failed += 1
                continue
            # This one and those not tried yet wait for the retry.
            claims.release(item.message, error)
            claims.unclaim([rest for rest in prepared[index + 1 :] if hold.keeps(rest.message)])
            raise MailServerUnavailable(describe(error)) from error
        claims.mark_sent(item)
        hold.let_go(item.message)
        result.sent += 1
    return True


# Taking up again what a stopped worker held.


def outbox_recover(now: datetime.datetime | None = None, *, sweep: bool = True) -> dict:
    """Take back the rows stopped workers left sending longer than the lease, and ask a worker
    to send them; with `sweep`, also ask again for every batch or e-mail waiting longer than the
    lease that no worker has claimed from meanwhile (at most once a lease each). Safe to run
    anywhere, at any time, as often as you like: a row, a batch or an e-mail is taken or asked
    for by one sweep only. Returns counts (a step of sending/scheduler.py)."""
    now = now or timezone.now()
    taken = claims.rows_take_back(now)
    batches = {batch_id for _, batch_id in taken["pending"] if batch_id is not None}
    messages = {pk for pk, batch_id in taken["pending"] if batch_id is None}
    if sweep:
        batches.update(claims.batches_unattended(now))
        messages.update(claims.messages_unattended(now))
    waiting = dict(
        OutboxMessage.objects.filter(batch_id__in=batches, status=Status.PENDING)
        .values_list("batch_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for batch_id in sorted(batches):
        enqueue_batch(batch_id, emails=waiting.get(batch_id, 0))
    for message_id in sorted(messages):
        enqueue_message(message_id)
    counts = {
        "e-mails taken back from stopped workers": len(taken["pending"]),
        "e-mails failed after stopping workers": taken["failed"],
        "batches asked for again": len(batches),
        "e-mails asked for again": len(messages),
    }
    if any(counts.values()):
        logger.warning("Outbox sweep: %s", counts)
    return counts


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
