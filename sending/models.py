"""The outbox: every e-mail the portal sends, the staff batches that queue them, and the
scheduler's steps. The rules live in sending/invitations.py and sending/scheduler.py.

Meta.db_table keeps the tables' names from when the declarations app owned these models, so
no data had to move.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Reminder(models.TextChoices):
    """The reminders a carer may get, in order. A scheduler step and the e-mail it queues share
    the kind: both models take these members into their own Kind rather than repeat them."""

    FIRST = "reminder-1", "First reminder"
    SECOND = "reminder-2", "Second reminder"
    THIRD = "reminder-3", "Third reminder"

    @property
    def number(self) -> int:
        """1, 2 or 3: which of the school's reminder days this reminder is due after."""
        return list(Reminder).index(self) + 1

    @classmethod
    def numbered(cls, number: int) -> "Reminder":
        return list(cls)[number - 1]


class SendBatch(models.Model):
    """One send of invitations by staff, or of reminders by the scheduler: who to, and how it went."""

    class Kind(models.TextChoices):
        INVITATIONS = "invitation", "Invitations"
        REMINDERS = "reminder", "Reminders"

    class AudienceKind(models.TextChoices):
        """Who a send was for. Year, registration group and carer sends name which in
        `audience_value` (a year group's value, a registration group, a carer's id)."""

        ALL = "all-unsigned", "Everyone who has not signed"
        YEAR = "year", "Year group"
        REG = "reg", "Registration group"
        CARER = "carer", "One carer"
        STARTERS = "starters", "New families since the invitations went out"
        REMINDERS = "reminders", "Reminders to carers who have not signed"

    school = models.ForeignKey("schools.Organisation", on_delete=models.PROTECT, related_name="send_batches")
    version = models.ForeignKey("codes.CodeVersion", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.INVITATIONS)
    audience_kind = models.CharField(max_length=20, choices=AudienceKind.choices)
    # A carer's id, never their name: a batch outlives the carer's erasure.
    audience_value = models.CharField(max_length=100, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # When the sweep last asked a worker to send the batch, because none was (its task died with
    # its worker): it asks again at most once a lease (sending/claims.py: batches_unattended).
    requeued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "declarations_sendbatch"
        ordering = ["-created_at"]

    @property
    def audience_description(self) -> str:
        """Who was chosen, in words: "Year group: 5", "One carer: #12"."""
        return audience_description(self.audience_kind, self.audience_value)


def audience_description(kind: str, value: str = "") -> str:
    label = SendBatch.AudienceKind(kind).label
    if kind == SendBatch.AudienceKind.CARER:
        return f"{label}: #{value}"
    return f"{label}: {value}" if value else label


class OutboxMessage(models.Model):
    """One e-mail to one carer for one version and purpose.

    The unique constraint is what makes a retried or repeated send never e-mail a carer twice for
    the same purpose: a second batch finds the row already there. A worker claims a row by
    moving it from pending to sending in one conditional UPDATE, so two workers never both send;
    it is marked sent the moment the mail server takes it. A row left sending by a worker that
    stopped is pending again once `claimed_at` is older than the lease (sending/outbox.py).
    """

    class Kind(models.TextChoices):
        INVITATION = "invitation", "Invitation"
        REMINDER_1 = Reminder.FIRST.value, Reminder.FIRST.label
        REMINDER_2 = Reminder.SECOND.value, Reminder.SECOND.label
        REMINDER_3 = Reminder.THIRD.value, Reminder.THIRD.label
        NEW_LINK = "new-link", "New link"
        CONFIRMATION = "confirmation", "Confirmation"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to send"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Not sent"

    class SkipReason(models.TextChoices):
        """Why a queued e-mail was not sent after all, decided just before it would have gone."""

        ERASED = "erased", "Not sent: the carer's details have been erased."
        NO_ADDRESS = "no-address", "Not sent: no e-mail address (needs a paper form)."
        SIGNED = "signed", "Not sent: signed before the e-mail went."
        DECLINED = "declined", "Not sent: declined before the e-mail went."
        LEFT = "left", "Not sent: no longer a parent or carer of a pupil on roll."
        NOTHING_TO_CONFIRM = "no-declaration", "Not sent: there is no declaration to confirm."
        BOUNCED = "bounced", "Not sent: e-mail to this address bounced (needs another way)."

    class Problem(models.TextChoices):
        """What the e-mail service reported after the e-mail went (sending/bounces.py)."""

        BOUNCED = "bounced", "Bounced"
        REJECTED = "rejected", "Refused by the e-mail service"
        COMPLAINED = "complained", "Marked as spam by the carer"

    school = models.ForeignKey("schools.Organisation", on_delete=models.PROTECT, related_name="outbox")
    carer = models.ForeignKey("schools.Carer", on_delete=models.PROTECT, related_name="outbox")
    version = models.ForeignKey("codes.CodeVersion", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # Purpose key: lets a deliberate repeat (a re-issued link) be a new row, a retry never.
    sequence = models.PositiveIntegerField(default=0)
    batch = models.ForeignKey(SendBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="messages")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    to_address = models.EmailField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # When a worker claimed it, renewed while it holds it: the start of its lease.
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # For an e-mail sent on its own (no batch): when the sweep last asked a worker to send it.
    requeued_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # An invitation or reminder found outside the school's sending hours waits, pending, until
    # they begin (sending/hours.py); no worker claims it before.
    not_before = models.DateTimeField(null=True, blank=True)
    skip_reason = models.CharField(max_length=20, choices=SkipReason.choices, blank=True)
    # What the mail server said when it failed, for staff to act on (may quote the address).
    error = models.TextField(blank=True)
    # The e-mail service's id for the message (django-anymail), how its tracking webhooks name it.
    provider_message_id = models.CharField(max_length=255, blank=True, db_index=True)
    problem = models.CharField(max_length=20, choices=Problem.choices, blank=True)
    problem_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "declarations_outboxmessage"
        constraints = [
            models.UniqueConstraint(
                fields=["carer", "version", "kind", "sequence"], name="one_email_per_carer_version_purpose"
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"])]


# E-mails that carry a freshly issued link.
LINK_KINDS = frozenset(
    {
        OutboxMessage.Kind.INVITATION,
        OutboxMessage.Kind.REMINDER_1,
        OutboxMessage.Kind.REMINDER_2,
        OutboxMessage.Kind.REMINDER_3,
        OutboxMessage.Kind.NEW_LINK,
    }
)
# E-mails that ask for a signature: not sent once the carer has signed, declined or left.
CHASING_KINDS = LINK_KINDS - {OutboxMessage.Kind.NEW_LINK}


class ScheduledStep(models.Model):
    """One step the scheduler takes once: what is due, for whom, from when, and whether it is done.

    - `invite`: invite every carer at `school` to sign `version` (written when a version that
      requires signing is published; due when it comes into force). One per school and version.
    - `reminder-1`…`reminder-3`: remind `carer` to sign `version` (written once their invitation
      has gone, due the school's chosen number of days after it). One per carer, version and kind.

    A step is done when `done_at` is set, in the same transaction as what it did (the outbox rows
    it queued), so a run that crashes part-way leaves each step either done or not started, and
    the next run carries on. `outcome` says what happened, in words.
    """

    class Kind(models.TextChoices):
        INVITE = "invite", "Invite every carer to sign"
        REMINDER_1 = Reminder.FIRST.value, Reminder.FIRST.label
        REMINDER_2 = Reminder.SECOND.value, Reminder.SECOND.label
        REMINDER_3 = Reminder.THIRD.value, Reminder.THIRD.label

    school = models.ForeignKey("schools.Organisation", on_delete=models.PROTECT, related_name="scheduled_steps")
    version = models.ForeignKey("codes.CodeVersion", on_delete=models.PROTECT, related_name="+")
    # Not evidence: if a carer's record goes, their reminders go with it.
    carer = models.ForeignKey(
        "schools.Carer", on_delete=models.CASCADE, null=True, blank=True, related_name="scheduled_steps"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    due_at = models.DateTimeField()
    done_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=200, blank=True)
    batch = models.ForeignKey(SendBatch, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "declarations_scheduledstep"
        ordering = ["due_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["carer", "version", "kind"],
                condition=Q(carer__isnull=False),
                name="one_step_per_carer_version_and_kind",
            ),
            models.UniqueConstraint(
                fields=["school", "version", "kind"],
                condition=Q(carer__isnull=True),
                name="one_school_step_per_version_and_kind",
            ),
            models.CheckConstraint(
                condition=Q(kind="invite", carer__isnull=True) | (~Q(kind="invite") & Q(carer__isnull=False)),
                name="invite_steps_are_per_school_reminders_per_carer",
            ),
        ]
        indexes = [
            models.Index(fields=["school", "due_at"], condition=Q(done_at__isnull=True), name="scheduled_step_waiting"),
        ]

    def __str__(self):
        who = f"carer #{self.carer_id}" if self.carer_id else str(self.school)
        return f"{self.get_kind_display()}: {who}, version {self.version.number}, due {self.due_at:%Y-%m-%d %H:%M}"


class StaffNotice(models.Model):
    """One e-mail to a school's or association's staff (sending/staff_notices.py): the declines
    with a message since the last one (to the office, at most one an hour per school), or the
    weekly completion digest (to headteachers and association admins). Written before it is
    sent, so that however often the scheduler runs each goes once: a second run finds the row."""

    class Kind(models.TextChoices):
        DECLINES = "declines", "Declines with a message, to the office"
        WEEKLY = "weekly", "Weekly completion e-mail"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    organisation = models.ForeignKey("schools.Organisation", on_delete=models.CASCADE, related_name="+")
    # What it covers: declines made after period_start up to period_end; the week from period_start.
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    recipients = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "organisation", "period_start"], name="one_staff_notice_per_period"),
        ]
