"""The outbox: every e-mail the portal sends, the staff batches that queue them, and the
scheduler's steps. The rules live in sending/invitations.py and sending/scheduler.py.

The tables keep the names they had when these models lived in the declarations app
(Meta.db_table), so moving them changed no data.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class SendBatch(models.Model):
    """One "send invitations" action by staff (or the scheduler): who to, and how it went."""

    school = models.ForeignKey("schools.Organisation", on_delete=models.PROTECT, related_name="send_batches")
    version = models.ForeignKey("codes.CodeVersion", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, default="invitation")
    audience = models.CharField(max_length=200, help_text="Who was chosen, in words.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "declarations_sendbatch"
        ordering = ["-created_at"]


class OutboxMessage(models.Model):
    """One e-mail to one carer for one version and purpose.

    The unique constraint is what makes a retried or repeated send never e-mail a carer twice for
    the same purpose: a second batch finds the row already there. A worker claims a row by
    moving it from pending to sending in one conditional UPDATE, so two workers never both send.
    """

    class Kind(models.TextChoices):
        INVITATION = "invitation", "Invitation"
        REMINDER_1 = "reminder-1", "First reminder"
        REMINDER_2 = "reminder-2", "Second reminder"
        REMINDER_3 = "reminder-3", "Third reminder"
        NEW_LINK = "new-link", "New link"
        CONFIRMATION = "confirmation", "Confirmation"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to send"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Not sent"

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
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        db_table = "declarations_outboxmessage"
        constraints = [
            models.UniqueConstraint(
                fields=["carer", "version", "kind", "sequence"], name="one_email_per_carer_version_purpose"
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"])]


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
        REMINDER_1 = "reminder-1", "First reminder"
        REMINDER_2 = "reminder-2", "Second reminder"
        REMINDER_3 = "reminder-3", "Third reminder"

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
