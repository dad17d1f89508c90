"""Requests to sign, the declarations carers make, and the e-mails that carry them.

The rules (who is asked, how a link is checked, how a signature is recorded) live in
declarations/services.py (signing) and declarations/invitations.py (sending); these models hold
the data and the invariants the database can keep.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class SigningRequest(models.Model):
    """One carer asked to sign one version of their school's code.

    The e-mailed link's token is never stored, only its SHA-256. Re-issuing the link replaces
    the hash (the old link stops working) and the expiry; the row, and its history, stay.
    """

    school = models.ForeignKey("schools.Organisation", on_delete=models.PROTECT, related_name="signing_requests")
    carer = models.ForeignKey("schools.Carer", on_delete=models.PROTECT, related_name="signing_requests")
    version = models.ForeignKey("codes.CodeVersion", on_delete=models.PROTECT, related_name="signing_requests")
    token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    issued_at = models.DateTimeField(null=True, blank=True, help_text="When the current link was made.")
    expires_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True, help_text="When the first invitation was sent.")
    opened_at = models.DateTimeField(null=True, blank=True, help_text="When the link was first opened.")
    last_reminded_at = models.DateTimeField(null=True, blank=True)
    reminders_sent = models.PositiveSmallIntegerField(default=0)
    reissued_count = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["carer", "version"], name="one_request_per_carer_and_version"),
        ]

    def __str__(self):
        return f"{self.carer} asked to sign version {self.version.number}"


class Declaration(models.Model):
    """What a carer signed: evidence. Never edited (the database refuses UPDATE)."""

    class Method(models.TextChoices):
        ONLINE = "online", "Signed online"
        PAPER = "paper", "Paper form recorded by staff"

    school = models.ForeignKey("schools.Organisation", on_delete=models.PROTECT, related_name="declarations")
    carer = models.ForeignKey("schools.Carer", on_delete=models.PROTECT, related_name="declarations")
    version = models.ForeignKey("codes.CodeVersion", on_delete=models.PROTECT, related_name="declarations")
    version_fingerprint = models.CharField(max_length=64)
    request = models.ForeignKey(
        SigningRequest, on_delete=models.PROTECT, null=True, blank=True, related_name="declarations"
    )
    carer_name = models.CharField(max_length=200, help_text="The carer's name as the school holds it, when signed.")
    children_named = models.JSONField(help_text="[{'id': pupil id, 'name': full name}] as named in the statement.")
    statement = models.TextField(help_text="The declaration statement exactly as shown.")
    typed_name = models.CharField(max_length=200)
    agreed = models.BooleanField()
    signed_at = models.DateTimeField()
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.TextField(blank=True)
    method = models.CharField(max_length=10, choices=Method.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    paper_scan = models.FileField(upload_to="paper-forms/%Y/%m/", blank=True)

    class Meta:
        ordering = ["-signed_at"]
        constraints = [
            # Signing twice, or two submits at once, yields one declaration.
            models.UniqueConstraint(fields=["carer", "version"], name="one_declaration_per_carer_and_version"),
            models.CheckConstraint(condition=Q(agreed=True), name="declaration_is_agreed"),
            models.CheckConstraint(
                condition=Q(method="online") | Q(recorded_by__isnull=False),
                name="paper_declaration_names_the_staff_member",
            ),
            models.CheckConstraint(condition=~Q(typed_name=""), name="declaration_has_typed_name"),
        ]
        indexes = [
            # The completion dashboards count from this index, not the wide rows (migrations 0005
            # and 0006: signed_at last, for the chart's first signature days).
            models.Index(fields=["version", "school", "carer", "method", "signed_at"], name="declaration_counting"),
        ]

    def __str__(self):
        return f"{self.typed_name} signed version {self.version.number} ({self.get_method_display().lower()})"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ValueError("A declaration is evidence and is never edited.")
        super().save(*args, **kwargs)


class Decline(models.Model):
    """A carer who chose not to sign, with their message for the school. Signing is never compulsory."""

    school = models.ForeignKey("schools.Organisation", on_delete=models.PROTECT, related_name="declines")
    carer = models.ForeignKey("schools.Carer", on_delete=models.PROTECT, related_name="declines")
    version = models.ForeignKey("codes.CodeVersion", on_delete=models.PROTECT, related_name="declines")
    request = models.ForeignKey(SigningRequest, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    message = models.TextField(blank=True)
    declined_at = models.DateTimeField()
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["carer", "version"], name="one_decline_per_carer_and_version"),
        ]


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
        constraints = [
            models.UniqueConstraint(
                fields=["carer", "version", "kind", "sequence"], name="one_email_per_carer_version_purpose"
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"])]


# Evidence out: the sealed PDF of each declaration, and bulk exports (declarations/pdf.py,
# declarations/exports.py).


class DeclarationPdf(models.Model):
    """One declaration as a sealed PDF: rendered once, stored, and served from storage ever after.

    One per declaration (the one-to-one is what makes a repeated or retried render a no-op); the
    SHA-256 of the stored bytes is what the verification page and command look up, and the
    verification code printed on the PDF is what a reader types in. Like the declaration it
    records, it is never edited; the retention job deletes it with its declaration.
    """

    declaration = models.OneToOneField(Declaration, on_delete=models.PROTECT, related_name="pdf")
    file = models.FileField(max_length=200)
    sha256 = models.CharField("SHA-256 of the stored file", max_length=64, unique=True)
    verification_code = models.CharField(max_length=10, unique=True)
    size = models.PositiveIntegerField(help_text="Bytes.")
    rendered_at = models.DateTimeField()
    certificate_fingerprint = models.CharField(
        max_length=64, help_text="SHA-256 of the portal certificate (DER) that sealed it."
    )

    class Meta:
        verbose_name = "declaration PDF"
        constraints = [
            models.CheckConstraint(condition=Q(sha256__regex=r"^[0-9a-f]{64}$"), name="declaration_pdf_sha256_is_hex"),
            models.CheckConstraint(
                condition=Q(verification_code__regex=r"^[A-Z2-7]{10}$"), name="declaration_pdf_code_is_base32"
            ),
        ]

    def __str__(self):
        return f"PDF of declaration #{self.declaration_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ValueError("A declaration's PDF is evidence and is never changed.")
        super().save(*args, **kwargs)

    @property
    def code_display(self) -> str:
        """The code as printed: two groups of five, easier to read out and type."""
        return f"{self.verification_code[:5]}-{self.verification_code[5:]}"


class Export(models.Model):
    """Staff asked for many declarations as one ZIP of their PDFs; built in the background.

    `filters` says which (version, year group, registration group, date range); `done`/`total`
    is the progress the page shows; `file` holds the ZIP once finished, served only through a
    permission-checked view.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting to start"
        RUNNING = "running", "Being built"
        DONE = "done", "Ready"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Deleted after 7 days"

    school = models.ForeignKey("schools.Organisation", on_delete=models.PROTECT, related_name="exports")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    filters = models.JSONField(default=dict, blank=True)
    description = models.CharField(max_length=300, blank=True, help_text="Which declarations, in words.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    file = models.FileField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"Export #{self.pk} for {self.school}"

    @property
    def in_progress(self) -> bool:
        return self.status in {self.Status.QUEUED, self.Status.RUNNING}


# The schedule (declarations/scheduler.py, `manage.py run_scheduled`).


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
