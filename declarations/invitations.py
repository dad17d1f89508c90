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
once per run. Tasks (declarations/tasks.py) only load by id and call outbox_send_pending /
outbox_message_send; every task is enqueued on commit, a large batch's as several tasks, so that
several workers send it together (SENDER_SHARE).
"""

from __future__ import annotations

import datetime
import logging
import smtplib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import batched

from django.core.exceptions import ValidationError
from django.core.mail import mailers
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Count, Exists, F, Max, Min, OuterRef, Q
from django.utils import timezone

from codes.models import CodeVersion
from codes.services import code_for_school, version_in_force
from declarations import emails
from declarations.models import Declaration, Decline, OutboxMessage, SendBatch, SigningRequest
from declarations.selectors import answered_filter, signing_baseline, up_to_date_lookups
from declarations.services import DEFAULT_LINK_DAYS
from declarations.tokens import new_token
from schools import selectors
from schools.audit import audit_record
from schools.models import AuditEvent, Carer, Organisation, Pupil, PupilCarer

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


# Who to send to.


@dataclass(frozen=True)
class Audience:
    """Who a send is for: everyone who has not signed, a year group, a registration group, one
    carer, or new families (carers of pupils who joined after the school's first invitations to
    sign the version; sent automatically after an import, see declarations/scheduler.py)."""

    kind: str
    value: str = ""

    ALL = "all-unsigned"
    YEAR = "year"
    REG = "reg"
    CARER = "carer"
    STARTERS = "starters"


_DESCRIPTIONS = {
    Audience.ALL: "Everyone who has not signed",
    Audience.YEAR: "Year group: ",
    Audience.REG: "Registration group: ",
    Audience.CARER: "One carer: #",
    Audience.STARTERS: "New families since the invitations went out",
}


def audience_parse(audience) -> Audience:
    """"all-unsigned", ("year", "5"), ("reg", "5B") or ("carer", 123) as an Audience."""
    if isinstance(audience, Audience):
        return audience
    if audience in (Audience.ALL, Audience.STARTERS):
        return Audience(audience)
    if isinstance(audience, (tuple, list)) and len(audience) == 2:
        kind, value = audience[0], str(audience[1]).strip()
        if kind in (Audience.YEAR, Audience.REG) and value:
            return Audience(kind, value)
        if kind == Audience.CARER and value.isdigit():
            return Audience(kind, value)
    raise ValidationError(f"Not an audience to send to: {audience!r}.")


def audience_describe(audience: Audience) -> str:
    """The audience in words, as SendBatch.audience keeps it (no names: it outlives erasure)."""
    audience = audience_parse(audience)
    return _DESCRIPTIONS[audience.kind] + audience.value


def audience_from_description(text: str) -> Audience | None:
    """The Audience a SendBatch.audience was written from, or None (e.g. a scheduler's batch)."""
    for kind in (Audience.ALL, Audience.STARTERS):
        if text == _DESCRIPTIONS[kind]:
            return Audience(kind)
    for kind in (Audience.YEAR, Audience.REG, Audience.CARER):
        prefix = _DESCRIPTIONS[kind]
        if text.startswith(prefix) and text[len(prefix):]:
            try:
                return audience_parse((kind, text[len(prefix):]))
            except ValidationError:
                return None
    return None


def _responsible_in_audience(school, audience: Audience):
    links = PupilCarer.objects.filter(
        carer=OuterRef("pk"), parental_responsibility=True, pupil__on_roll=True, pupil__school=school
    )
    if audience.kind == Audience.YEAR:
        links = links.filter(pupil__year_group=audience.value)
    elif audience.kind == Audience.REG:
        links = links.filter(pupil__reg_group=audience.value)
    return Exists(links)


def _in_audience(carers, school, audience: Audience, version):
    # Signed or declined `version`, or the version before a minor correction: up to date (rule 2).
    carers = carers.filter(_responsible_in_audience(school, audience)).exclude(answered_filter(version))
    if audience.kind == Audience.CARER:
        carers = carers.filter(pk=int(audience.value))
    elif audience.kind == Audience.STARTERS:
        carers = carers.filter(_starter(school, version))
    return carers


def _starter(school, version) -> Q:
    """Carers who joined the school (or a child of theirs did) after its first invitation to sign
    `version`, or the version it corrects. Before the school has invited anyone, nobody is a
    starter: a school's first import invites nobody by itself."""
    counting = up_to_date_lookups(version.code_id, signing_baseline(version.code, version).number)
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
    """Carers in the audience who can be e-mailed and have neither signed nor declined `version`."""
    return _in_audience(selectors.eligible_carers(school), school, audience_parse(audience), version)


def audience_paper_carers(*, school, audience, version):
    """Carers in the audience who have not signed or declined and have no e-mail: paper forms."""
    return _in_audience(selectors.carers_needing_paper_forms(school), school, audience_parse(audience), version)


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
    """
    audience = audience_parse(audience)
    if not school.is_school:
        raise ValidationError("Invitations are sent by a school.")
    actor = user if user is not None and user.is_authenticated else None
    with transaction.atomic():
        version = version_to_send(school, version)
        batch = SendBatch.objects.create(
            school=school,
            version=version,
            kind=Kind.INVITATION,
            audience=audience_describe(audience),
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
            action=AUDIT_ACTION,
            detail={
                "batch": batch.pk,
                "version": version.number,
                "audience": audience_describe(audience),
                "queued": queued,
                "already_invited": summary.already_invited,
                "needs_paper_form": len(paper),
            },
            request=request,
            carer=Carer.objects.filter(pk=int(audience.value), school=school).first()
            if audience.kind == Audience.CARER
            else None,
        )
        if enqueue and queued:
            transaction.on_commit(lambda: _enqueue_batch(batch.pk, emails=queued))
    batch.summary = summary
    return batch


def batch_resume(*, batch: SendBatch) -> None:
    """Ask a worker to send the batch's waiting e-mails (harmless if one already is: claims)."""
    SendBatch.objects.filter(pk=batch.pk).update(finished_at=None)
    transaction.on_commit(lambda: _enqueue_batch(batch.pk))


def _enqueue_batch(batch_id: int, *, after: datetime.timedelta | None = None, emails: int = 0) -> None:
    """Ask for the batch to be sent: one task, or one per SENDER_SHARE of its `emails` (up to
    MAX_SENDERS), which as many workers run at once, claiming rows in turn. A task that starts
    once the others have sent everything finds nothing to claim and ends."""
    from declarations.tasks import send_batch

    task = send_batch if after is None else send_batch.using(run_after=timezone.now() + after)
    for _ in range(max(1, min(MAX_SENDERS, -(-emails // SENDER_SHARE)))):
        task.enqueue(batch_id)


def _enqueue_message(message_id: int, *, after: datetime.timedelta | None = None) -> None:
    from declarations.tasks import send_outbox_message

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


def _with_facts(messages):
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
        # Whether an invitation says what changed since (declarations/emails.py: what_changed).
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
    """Why this e-mail should no longer go (for a row loaded through _with_facts), or ""."""
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
            _enqueue_batch(batch_id, after=RETRY_AFTER)
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
        _enqueue_message(message_id, after=RETRY_AFTER)
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
    return _with_facts(pending).select_for_update(skip_locked=True, of=("self",)).order_by("pk")


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


def _claim(message: OutboxMessage) -> bool:
    """Move one row from pending to sending, as _claim_next does a chunk's; True only for the one
    worker whose UPDATE did it."""
    now = timezone.now()
    claimed = OutboxMessage.objects.filter(pk=message.pk, status=Status.PENDING).update(
        status=Status.SENDING, claimed_at=now, attempts=F("attempts") + 1
    )
    if claimed != 1:
        return False
    message.status, message.claimed_at, message.attempts = Status.SENDING, now, message.attempts + 1
    return True


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


# Sending again.


def message_is_interrupted(message: OutboxMessage, *, now: datetime.datetime | None = None) -> bool:
    """Claimed more than INTERRUPTED_AFTER ago and never finished: its worker died mid-send."""
    now = now or timezone.now()
    return bool(
        message.status == Status.SENDING and message.claimed_at and message.claimed_at < now - INTERRUPTED_AFTER
    )


def outbox_message_resend(*, message: OutboxMessage, user, request=None) -> OutboxMessage:
    """Send a failed or interrupted e-mail again, as a new outbox row with the next sequence.

    Refused (ValidationError) for an e-mail that was sent, is still going, was sent again
    already, or should no longer go (the carer signed, declined, left or has no address). The
    new row, the audit event and the sending task (enqueued on commit) go together.
    """
    with transaction.atomic():
        locked = OutboxMessage.objects.select_for_update().get(pk=message.pk)
        if not (locked.status == Status.FAILED or message_is_interrupted(locked)):
            raise ValidationError("Only an e-mail that failed, or was interrupted while sending, can be sent again.")
        same_purpose = OutboxMessage.objects.filter(
            carer_id=locked.carer_id, version_id=locked.version_id, kind=locked.kind
        )
        if same_purpose.filter(sequence__gt=locked.sequence).exists():
            raise ValidationError("This e-mail has already been sent again.")
        facts = _with_facts(OutboxMessage.objects.filter(pk=locked.pk)).get()
        reason = reason_not_to_send(facts)
        if reason:
            raise ValidationError(reason)
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
            action=AUDIT_ACTION,
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
        transaction.on_commit(lambda: _enqueue_message(again.pk))
    return again


def batch_resend_problems(*, batch: SendBatch, user, request=None) -> dict:
    """Send again every e-mail of the batch that failed or was interrupted and not sent again yet.

    Each goes through outbox_message_resend in its own transaction, with its checks, audit event
    and sending task: one refused (the carer signed since, another member of staff sent it again
    first) leaves the others to go, and no purpose ever gets a second new row, so pressing twice
    sends nothing more. Returns {"sent_again": n, "refused": {reason: n}}, the reasons as
    outbox_message_resend gives them.
    """
    cutoff = timezone.now() - INTERRUPTED_AFTER
    problems = (
        batch.messages.annotate(superseded=_superseded())
        .filter(Q(status=Status.FAILED) | Q(status=Status.SENDING, claimed_at__lt=cutoff), superseded=False)
        .order_by("pk")
    )
    sent_again, refused = 0, Counter()
    for message in problems:
        try:
            outbox_message_resend(message=message, user=user, request=request)
        except ValidationError as error:
            refused[" ".join(error.messages)] += 1
        else:
            sent_again += 1
    return {"sent_again": sent_again, "refused": dict(refused.most_common())}


# Reading progress.


@dataclass(frozen=True)
class BatchProgress:
    pending: int = 0
    sending: int = 0
    interrupted: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    sent_again: int = 0

    @property
    def total(self) -> int:
        return self.pending + self.sending + self.interrupted + self.sent + self.failed + self.skipped

    @property
    def in_progress(self) -> bool:
        return bool(self.pending or self.sending)


def _superseded():
    return Exists(
        OutboxMessage.objects.filter(
            carer=OuterRef("carer"),
            version=OuterRef("version"),
            kind=OuterRef("kind"),
            sequence__gt=OuterRef("sequence"),
        )
    )


def batches_progress(batch_ids) -> dict[int, BatchProgress]:
    """Progress of several batches in one query: counts by status, a row sent again counted once."""
    cutoff = timezone.now() - INTERRUPTED_AFTER
    current = Q(superseded=False)
    rows = (
        OutboxMessage.objects.filter(batch_id__in=list(batch_ids))
        .annotate(superseded=_superseded())
        .values("batch_id")
        .annotate(
            pending=Count("pk", filter=current & Q(status=Status.PENDING)),
            sending=Count("pk", filter=current & Q(status=Status.SENDING, claimed_at__gte=cutoff)),
            interrupted=Count("pk", filter=current & Q(status=Status.SENDING, claimed_at__lt=cutoff)),
            sent=Count("pk", filter=current & Q(status=Status.SENT)),
            failed=Count("pk", filter=current & Q(status=Status.FAILED)),
            skipped=Count("pk", filter=current & Q(status=Status.SKIPPED)),
            sent_again=Count("pk", filter=Q(superseded=True)),
        )
        .order_by()
    )
    progress = {row.pop("batch_id"): BatchProgress(**row) for row in rows}
    return {batch_id: progress.get(batch_id, BatchProgress()) for batch_id in batch_ids}


def batch_progress(batch: SendBatch) -> BatchProgress:
    return batches_progress([batch.pk])[batch.pk]


MESSAGE_FILTERS = {
    "problems": Q(status=Status.FAILED) | Q(status=Status.SENDING),
    "pending": Q(status=Status.PENDING),
    "sent": Q(status=Status.SENT),
    "skipped": Q(status=Status.SKIPPED),
}


def batch_messages(batch: SendBatch, *, show: str = ""):
    """The batch's e-mails with their carers, each marked `superseded` if sent again since."""
    messages = batch.messages.select_related("carer").annotate(superseded=_superseded())
    if show in MESSAGE_FILTERS:
        messages = messages.filter(MESSAGE_FILTERS[show])
    return messages.order_by("carer__surname", "carer__forename", "pk")


def message_state(message: OutboxMessage, *, now: datetime.datetime | None = None) -> str:
    """What staff see for one e-mail: its status, "interrupted", or "sent again"."""
    if getattr(message, "superseded", False):
        return "sent again"
    if message_is_interrupted(message, now=now):
        return "interrupted"
    return message.get_status_display().lower()


def batch_paper_carers(batch: SendBatch):
    """Carers in the batch's audience who still need a paper form (no e-mail, not signed)."""
    audience = audience_from_description(batch.audience)
    if audience is None:
        return Carer.objects.none()
    return audience_paper_carers(school=batch.school, audience=audience, version=batch.version)
