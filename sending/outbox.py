"""Sending e-mails to carers through the outbox: invitations, and any other kind the same way.

How no carer is e-mailed twice for the same purpose
--------------------------------------------------
1. A send (staff on the web, `manage.py send_invitations`, later the scheduler for reminders)
   writes one OutboxMessage per carer, version and kind of e-mail. The outbox's unique constraint
   on (carer, version, kind, sequence) means a repeated, retried or concurrent send finds the
   row already there and adds nothing.
2. A worker claims rows by moving them from pending to sending in one conditional UPDATE, a few
   (CHUNK_SIZE) at a time: the oldest pending rows, under row locks that make another worker skip
   them and take the next ones (PostgreSQL), or in a transaction that holds the write lock
   (SQLite). Only the worker whose UPDATE changed a row goes on to send it, so any number of
   workers can share one batch. The claimed rows' new links are then issued together (one
   statement), just before their e-mails go: each carer's old link stops working then.
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

Sending is chunked over one mail connection per run, so memory stays flat and an SMTP server sees
one session, not thousands. The e-mails of a school's send are written from its letter, filled
once per run. The tasks at the end of this module only load by id and call outbox_send_pending /
outbox_message_send; every task is enqueued on commit, a large batch's as several tasks, so that
several workers send it together (SENDER_SHARE).
"""

from __future__ import annotations

import datetime
import logging
import smtplib
from collections import Counter, defaultdict
from dataclasses import dataclass

from django.core.mail import mailers
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Exists, F, Max, OuterRef
from django.tasks import task
from django.utils import timezone

from declarations.models import Declaration, Decline, SigningRequest
from declarations.services import DEFAULT_LINK_DAYS
from declarations.tokens import new_token
from portal.tasks import enqueue_with_transaction
from schools.models import AuditEvent, Organisation, PupilCarer
from sending import emails
from sending.models import OutboxMessage, SendBatch

logger = logging.getLogger(__name__)

Kind = OutboxMessage.Kind
Status = OutboxMessage.Status

CHUNK_SIZE = 50  # rows claimed, sent and marked sent together
SENDER_SHARE = 500  # e-mails per sending task queued for a batch (so several workers share it)
MAX_SENDERS = 8
INSERT_BATCH_SIZE = 500
MAX_ATTEMPTS = 3
RETRY_AFTER = datetime.timedelta(minutes=1)
INTERRUPTED_AFTER = datetime.timedelta(minutes=10)
AUDIT_ACTION = AuditEvent.Action.SEND_INVITATIONS

# E-mails that carry a freshly issued link.
LINK_KINDS = {Kind.INVITATION, Kind.REMINDER_1, Kind.REMINDER_2, Kind.REMINDER_3, Kind.NEW_LINK}
# E-mails that ask for a signature: not sent once the carer has signed, declined or left.
CHASING_KINDS = {Kind.INVITATION, Kind.REMINDER_1, Kind.REMINDER_2, Kind.REMINDER_3}


class MailServerUnavailable(Exception):
    """The mail backend failed in a way that is not about one message; the run stopped."""


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

    def add(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    @property
    def handled(self) -> int:
        return self.sent + self.failed + self.skipped + self.taken

    def as_dict(self) -> dict:
        return {"sent": self.sent, "failed": self.failed, "skipped": self.skipped, "taken": self.taken}


class _Mailer:
    """One connection to the mail server for a whole run, opened before the first row is claimed:
    if the server cannot be reached, no row is touched (no try used up, no link replaced)."""

    def __init__(self):
        self._connection = None

    def open(self) -> None:
        if self._connection is None:
            connection = mailers.default
            try:
                connection.open()
            except Exception as error:
                raise MailServerUnavailable(f"Could not connect to the mail server. {_describe(error)}") from error
            self._connection = connection

    @property
    def is_open(self) -> bool:
        return self._connection is not None

    def send(self, email) -> None:
        self.open()
        self._connection.send_messages([email])

    def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            try:
                connection.close()
            except Exception:  # a dropped connection cannot be closed politely; nothing was lost
                logger.warning("Closing the mail connection failed", exc_info=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _Letters:
    """What every e-mail of a school's send shares, worked out once per run rather than per e-mail:
    the covering letter for a version, how long its links work, the invitation's text."""

    def __init__(self):
        self._letters = {}
        self._link_days = {}
        self.stencils = {}  # invitations written once per school, version and expiry date (emails.py)

    def for_message(self, message: OutboxMessage) -> emails.Letter:
        key = (message.school_id, message.version_id, timezone.localdate())
        if key not in self._letters:
            self._letters[key] = emails.covering_letter(school=message.school, version=message.version)
        return self._letters[key]

    def link_days(self, message: OutboxMessage) -> int:
        """How long the school of the carer's request keeps a link working (services.link_issue)."""
        school_id = message.carer.school_id
        if school_id not in self._link_days:
            school = message.school if message.school_id == school_id else Organisation.objects.get(pk=school_id)
            self._link_days[school_id] = school.link_valid_days or DEFAULT_LINK_DAYS
        return self._link_days[school_id]


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


def reason_not_to_send(message: OutboxMessage) -> str:
    """Why this e-mail should no longer go (for a row loaded through with_facts), or ""."""
    carer = message.carer
    if carer.erased_at is not None:
        return "Not sent: the carer's details have been erased."
    if not carer.email:
        return "Not sent: no e-mail address (needs a paper form)."
    if message.kind in CHASING_KINDS:
        if message.has_signed:
            return "Not sent: signed before the e-mail went."
        if message.has_declined:
            return "Not sent: declined before the e-mail went."
        if not message.still_responsible:
            return "Not sent: no longer a parent or carer of a pupil on roll."
    if message.kind == Kind.CONFIRMATION and not message.has_signed:
        return "Not sent: there is no declaration to confirm."
    return ""


def outbox_send_pending(*, batch_id: int | None = None, limit: int | None = None) -> dict:
    """Send pending outbox e-mails (one batch's, or any), oldest first; returns counts by outcome.

    Rows are claimed CHUNK_SIZE at a time (the oldest pending rows no other worker is claiming)
    before they are sent, so any number of workers may run this at once, sharing the rows, and
    none sends a row another has claimed. One mail connection serves the whole run. If the mail
    server fails (not just refuses one message) the rows not sent go back to pending, a retry is
    enqueued for a minute later and MailServerUnavailable is raised.
    """
    result = SendResult()
    letters = _Letters()
    pending = OutboxMessage.objects.filter(status=Status.PENDING)
    if batch_id is not None:
        pending = pending.filter(batch_id=batch_id)
    claimable = _claimable(pending)  # built once: its annotations cost more to build than to run
    try:
        with _Mailer() as mailer:
            while limit is None or result.handled < limit:
                if not mailer.is_open:  # opened before any row is claimed: a server that is down costs no try
                    if not pending.exists():
                        break
                    mailer.open()
                size = CHUNK_SIZE if limit is None else min(CHUNK_SIZE, limit - result.handled)
                if not _send_chunk(claimable, size, mailer, letters, result):
                    break
    except MailServerUnavailable:
        if batch_id is not None:
            enqueue_batch(batch_id, after=RETRY_AFTER)
        raise
    finally:
        if batch_id is not None:
            _batch_finish_if_done(batch_id)
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
        with _Mailer() as mailer:
            mailer.open()
            pending = OutboxMessage.objects.filter(pk=message_id, status=Status.PENDING)
            _send_chunk(_claimable(pending), 1, mailer, _Letters(), result)
    except MailServerUnavailable:
        enqueue_message(message_id, after=RETRY_AFTER)
        raise
    finally:
        if message["batch_id"] is not None:
            _batch_finish_if_done(message["batch_id"])
    outcomes = [outcome for outcome, count in result.as_dict().items() if count]
    return outcomes[0] if outcomes else "taken"


@dataclass
class _Prepared:
    """One claimed row's e-mail, written and ready to go, with the link it carries."""

    message: OutboxMessage
    email: object
    token_hash: str | None = None
    expires_at: datetime.datetime | None = None
    request: SigningRequest | None = None  # once the link is issued
    replaced: tuple | None = None  # the link it replaced: token_hash, issued_at, expires_at, reissued_count


def _claimable(pending):
    """The pending rows with what decides whether they may still go, oldest first, locked as they
    are read and skipping rows another worker has locked (see _claim_next)."""
    return with_facts(pending).select_for_update(skip_locked=True, of=("self",)).order_by("pk")


def _send_chunk(claimable, size: int, mailer: _Mailer, letters: _Letters, result: SendResult) -> bool:
    """Claim up to `size` of the `claimable` rows and send them; False when there was none to claim.

    1. One transaction: the rows claimed (pending → sending, a try used), or skipped if they
       should no longer go. 2. Each e-mail written with a new link's token. 3. One transaction:
       the links issued (each request's hash replaced: earlier links stop working). 4. Each sent
       over the run's connection. 5. One transaction: those the server took marked sent.
    A worker that dies between 1 and 5 leaves the chunk's rows in sending: none of them is sent
    again automatically (the module docstring, rule 4).
    """
    claimed = _claim_next(claimable, size, result)
    if claimed is None:
        return False
    if not claimed:
        return True
    now = timezone.now()
    prepared, faults = [], {}
    for message in claimed:
        try:
            prepared.append(_prepare(message, letters, now))
        except Exception as error:
            logger.exception("Could not prepare outbox message %s", message.pk)
            faults[message] = _describe(error)
    with transaction.atomic():
        _links_issue([item for item in prepared if item.token_hash], now)
        for message, error in faults.items():  # nothing was sent and no link issued
            _finish(message, Status.FAILED, error=error)
    result.failed += len(faults)
    sent = []
    for index, item in enumerate(prepared):
        try:
            mailer.send(item.email)
        except Exception as error:
            if _refused_for_this_message(error):
                _links_restore([item])
                _finish(item.message, Status.FAILED, error=_describe(error))
                result.failed += 1
                continue
            # Those that went are sent; this one and those not tried yet wait for the retry.
            _mark_sent(sent)
            result.sent += len(sent)
            _links_restore(prepared[index:])
            _release(item.message, error)
            _unclaim(prepared[index + 1 :])
            raise MailServerUnavailable(_describe(error)) from error
        sent.append(item)
    _mark_sent(sent)
    result.sent += len(sent)
    return True


def _claim_next(claimable, size: int, result: SendResult) -> list[OutboxMessage] | None:
    """Claim the oldest `size` pending rows no other worker is claiming, in one transaction, and
    skip those that should no longer go; the rows claimed ([] if all were skipped), or None if
    there was nothing to claim."""
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
                        status=Status.SKIPPED, error=reason
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
        result.skipped += len(rows) - len(claimed)
        for message in claimed:
            message.status, message.claimed_at, message.attempts = Status.SENDING, now, message.attempts + 1
        _signing_requests_ensure(claimed)
        return claimed
    return []  # raced three times (a database without row locks): another worker has these rows


class _ClaimRaced(Exception):
    """Another worker changed rows between reading and claiming them (a database without row locks)."""


def _signing_requests_ensure(messages) -> None:
    """The request rows the links will need, made in one INSERT rather than one each (the rows
    services.signing_request_for would create)."""
    SigningRequest.objects.bulk_create(
        [
            SigningRequest(school_id=m.carer.school_id, carer_id=m.carer_id, version_id=m.version_id)
            for m in messages
            if m.kind in LINK_KINDS
        ],
        ignore_conflicts=True,
    )


def _prepare(message: OutboxMessage, letters: _Letters, now: datetime.datetime) -> _Prepared:
    """The e-mail for a claimed row, with a new link's token in it (the token lives only in the
    e-mail; the link is issued, its hash stored, just before it is sent)."""
    if message.kind in LINK_KINDS:
        token, token_hash = new_token()
        expires_at = now + datetime.timedelta(days=letters.link_days(message))
        letter = letters.for_message(message) if message.kind == Kind.INVITATION else None
        email = emails.email_for(
            message, token=token, expires_at=expires_at, letter=letter, stencils=letters.stencils
        )
        return _Prepared(message, email, token_hash, expires_at)
    declaration = Declaration.objects.filter(carer_id=message.carer_id, version_id=message.version_id).first()
    return _Prepared(message, emails.email_for(message, declaration=declaration))


def _links_issue(items: list[_Prepared], now: datetime.datetime) -> None:
    """Issue each item's link in one UPDATE: its request's hash replaced (so any earlier link
    stops working), as services.link_issue does one at a time."""
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
        item.replaced = (request.token_hash, request.issued_at, request.expires_at, request.reissued_count)
        if request.issued_at:
            request.reissued_count += 1
        request.token_hash, request.issued_at, request.expires_at = item.token_hash, now, item.expires_at
    # One statement run for every row (executemany), rather than bulk_update's CASE per column,
    # whose building costs more than the database's work.
    names = ("token_hash", "issued_at", "expires_at", "reissued_count")
    fields = [SigningRequest._meta.get_field(name) for name in names]
    table, quote = SigningRequest._meta.db_table, db_connection.ops.quote_name
    sql = (
        f"UPDATE {quote(table)} SET {', '.join(f'{quote(field.column)} = %s' for field in fields)} "
        f"WHERE {quote(SigningRequest._meta.pk.column)} = %s"
    )
    rows = {item.request.pk: item.request for item in items}.values()
    with db_connection.cursor() as cursor:
        cursor.executemany(
            sql,
            [
                [field.get_db_prep_save(getattr(request, field.attname), db_connection) for field in fields]
                + [request.pk]
                for request in rows
            ],
        )


def _links_restore(items: list[_Prepared]) -> None:
    """The e-mails carrying these links did not go: the links they replaced work again (unless
    a newer link has been issued since)."""
    for item in reversed(items):
        if item.request is None:
            continue
        token_hash, issued_at, expires_at, reissued_count = item.replaced
        SigningRequest.objects.filter(pk=item.request.pk, token_hash=item.token_hash).update(
            token_hash=token_hash, issued_at=issued_at, expires_at=expires_at, reissued_count=reissued_count
        )


def _unclaim(items: list[_Prepared]) -> None:
    """Claimed but never tried (the server failed first): pending again, the try given back."""
    if items:
        OutboxMessage.objects.filter(pk__in=[item.message.pk for item in items], status=Status.SENDING).update(
            status=Status.PENDING, attempts=F("attempts") - 1
        )


def _refused_for_this_message(error: Exception) -> bool:
    """The server (or the message itself) rules out this one e-mail; others may still go."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return True
    if isinstance(error, smtplib.SMTPDataError) and error.smtp_code >= 500:
        return True
    return isinstance(error, ValueError)  # an invalid address or header, found before sending


def _describe(error: Exception) -> str:
    """The failure in words staff can act on, with the server's own reply where there is one."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        replies = "; ".join(
            f"{code} {reply.decode(errors='replace') if isinstance(reply, bytes) else reply}"
            for code, reply in error.recipients.values()
        )
        text = f"The mail server refused the address ({replies or 'no reason given'})."
    elif isinstance(error, smtplib.SMTPResponseException):
        reply = error.smtp_error.decode(errors="replace") if isinstance(error.smtp_error, bytes) else error.smtp_error
        text = f"The mail server said: {error.smtp_code} {reply}"
    else:
        text = f"{type(error).__name__}: {error}"
    return text[:1000]


def _finish(message: OutboxMessage, status: str, *, error: str = "") -> None:
    OutboxMessage.objects.filter(pk=message.pk, status=Status.SENDING).update(status=status, error=error)
    if status == Status.FAILED and message.kind in LINK_KINDS:
        # What the school's status page shows as "e-mail could not be sent".
        SigningRequest.objects.filter(carer_id=message.carer_id, version_id=message.version_id).update(
            delivery_failed_at=timezone.now()
        )


def _release(message: OutboxMessage, error: Exception) -> None:
    """Not sent because the mail server failed: pending again, unless the tries are used up."""
    if message.attempts >= MAX_ATTEMPTS:
        _finish(message, Status.FAILED, error=f"Gave up after {message.attempts} tries. {_describe(error)}")
    else:
        _finish(message, Status.PENDING, error=f"Try {message.attempts} failed; trying again. {_describe(error)}")


@transaction.atomic
def _mark_sent(items: list[_Prepared]) -> None:
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
        item.request.pk for item in items if item.request is not None and item.message.kind in emails.REMINDER_KINDS
    )
    for times in set(reminded.values()):
        SigningRequest.objects.filter(pk__in=[pk for pk, n in reminded.items() if n == times]).update(
            last_reminded_at=now, reminders_sent=F("reminders_sent") + times
        )


def _batch_finish_if_done(batch_id: int) -> None:
    if not OutboxMessage.objects.filter(batch_id=batch_id, status=Status.PENDING).exists():
        SendBatch.objects.filter(pk=batch_id, finished_at__isnull=True).update(finished_at=timezone.now())



def message_is_interrupted(message: OutboxMessage, *, now: datetime.datetime | None = None) -> bool:
    """Claimed more than INTERRUPTED_AFTER ago and never finished: its worker died mid-send."""
    now = now or timezone.now()
    return bool(
        message.status == Status.SENDING and message.claimed_at and message.claimed_at < now - INTERRUPTED_AFTER
    )


def superseded():
    return Exists(
        OutboxMessage.objects.filter(
            carer=OuterRef("carer"),
            version=OuterRef("version"),
            kind=OuterRef("kind"),
            sequence__gt=OuterRef("sequence"),
        )
    )


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
