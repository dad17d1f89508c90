"""Codes of conduct and their versions.

The lifecycle rules (draft → published → superseded, fingerprints, what is in force) live in
codes/services.py; the models hold the data and the invariants the database can keep.
"""


from django.conf import settings
from django.db import models
from django.db.models import Q


class Code(models.Model):
    """A code of conduct, owned by one association or one school."""

    owner = models.OneToOneField("schools.Organisation", on_delete=models.PROTECT, related_name="own_code")
    title = models.CharField(max_length=200, default="Social Media Code of Conduct for Parents and Carers")

    def __str__(self):
        return f"{self.title} ({self.owner})"


class FrozenVersionError(Exception):
    """Raised on any attempt to change or delete a published version."""


class CodeVersion(models.Model):
    """One version of a code: its text, its declaration, its covering letter, its document control.

    A draft may be edited; once published it is frozen: save() refuses, and database triggers
    (see the migration) refuse UPDATE and DELETE by any other route. A version is "superseded"
    when a later published version of the same code has come into force; that is derived, never
    stored, so publishing never needs to touch an earlier version.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"

    code = models.ForeignKey(Code, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField(help_text="1 for the first version of the code, then 2, 3…")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    based_on = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    title = models.CharField(max_length=200)
    body = models.TextField(help_text="The code itself, in Markdown: # headings, paragraphs, - bullet lists.")
    declaration_statement = models.TextField(
        help_text="What a parent or carer signs. {carer} and {children} are replaced by their names."
    )
    covering_letter = models.TextField(blank=True, help_text="The letter sent with the code, in Markdown.")

    # Document control.
    author_name = models.CharField(max_length=120, blank=True)
    author_job_title = models.CharField(max_length=120, blank=True)
    document_version = models.CharField(
        max_length=20, blank=True, help_text="The version number as the school writes it, e.g. V1."
    )
    approved_by = models.CharField(max_length=120, blank=True)
    approved_on = models.DateField(null=True, blank=True)
    links_to = models.CharField(max_length=300, blank=True, help_text="Related policies.")
    revision_note = models.TextField(blank=True, help_text="What changed, in plain English, for parents.")

    # Set when published.
    effective_from = models.DateField(null=True, blank=True)
    review_due = models.DateField(null=True, blank=True)
    requires_signing = models.BooleanField(default=True)
    fingerprint = models.CharField(max_length=64, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["code", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["code", "number"], name="version_number_unique_per_code"),
            # A code has at most one draft at a time: the next revision.
            models.UniqueConstraint(
                fields=["code"], condition=Q(status="draft"), name="one_draft_per_code"
            ),
            models.CheckConstraint(
                condition=Q(status="draft")
                | (
                    Q(effective_from__isnull=False)
                    & Q(review_due__isnull=False)
                    & Q(published_at__isnull=False)
                    & Q(fingerprint__regex=r"^[0-9a-f]{64}$")
                ),
                name="published_version_is_complete",
            ),
        ]

    def __str__(self):
        return f"{self.code.owner} — version {self.number} ({self.get_status_display().lower()})"

    @property
    def is_draft(self):
        return self.status == self.Status.DRAFT

    @property
    def is_published(self):
        return self.status == self.Status.PUBLISHED

    def save(self, *args, **kwargs):
        if self.pk is not None:
            stored = CodeVersion.objects.filter(pk=self.pk).values_list("status", flat=True).first()
            if stored == self.Status.PUBLISHED:
                raise FrozenVersionError("A published version can never change; start a new draft instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.is_published:
            raise FrozenVersionError("A published version can never be deleted.")
        return super().delete(*args, **kwargs)


class CodeReview(models.Model):
    """An annual review recorded as "no change needed": the version stays as it is (frozen, and
    no carer is asked to sign again) and the next review falls due a year on.

    A record of a decision, like a published version: never edited. It applies to the version it
    reviewed; once a newer version is published, that version's own review date counts.
    """

    code = models.ForeignKey(Code, on_delete=models.PROTECT, related_name="reviews")
    version = models.ForeignKey(CodeVersion, on_delete=models.PROTECT, related_name="reviews")
    reviewed_on = models.DateField()
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(blank=True)
    previous_review_due = models.DateField(help_text="The review date this review answered.")
    next_review_due = models.DateField()
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-recorded_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(next_review_due__gt=models.F("reviewed_on")), name="code_review_next_date_is_later"
            ),
        ]

    def __str__(self):
        return f"{self.code.owner}: reviewed {self.reviewed_on}, no change needed"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("A recorded review is never changed; record another one.")
        super().save(*args, **kwargs)


class ReviewReminder(models.Model):
    """One e-mail to a code's headteachers (or association admins) about one review date.

    The unique constraint makes it once per code, review date and kind, whatever the number of
    scheduler runs: the row is written (and committed) before the e-mail goes, so a run that dies
    in between leaves it unsent rather than sent twice; `sent_at` says it went.
    """

    class Kind(models.TextChoices):
        DUE_SOON = "review-due-30", "Review due in 30 days"
        PASSED = "review-due-passed", "Review date passed"

    code = models.ForeignKey(Code, on_delete=models.PROTECT, related_name="review_reminders")
    review_due = models.DateField()
    kind = models.CharField(max_length=20, choices=Kind.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    recipients = models.PositiveSmallIntegerField(default=0)
    outcome = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["code", "review_due", "kind"], name="one_review_reminder_per_date_and_kind"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.code.owner}, {self.review_due}"


class VersionTranslation(models.Model):
    """A published version's code and declaration in another language parents read the portal in
    (settings.LANGUAGES), attached by staff. Parents see it beside the English, with a notice that
    the English text is the one signed; a declaration records the fingerprint of the translation
    shown (codes/translations.py). The version itself stays frozen: a translation can be corrected,
    and each correction has a new fingerprint."""

    version = models.ForeignKey(CodeVersion, on_delete=models.PROTECT, related_name="translations")
    language = models.CharField(max_length=12)
    title = models.CharField(max_length=200)
    body = models.TextField(help_text="The code in this language: Markdown, as in English.")
    declaration_statement = models.TextField(
        help_text="The declaration in this language, with {carer}, {children} and {school} as in English."
    )
    fingerprint = models.CharField(max_length=64)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["language"]
        constraints = [
            models.UniqueConstraint(fields=["version", "language"], name="one_translation_per_version_and_language"),
        ]

    def __str__(self):
        return f"{self.version} in {self.language}"
