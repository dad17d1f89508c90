"""Evidence out: the sealed PDF of each declaration, and bulk exports (evidence/pdf.py,
evidence/zip_exports.py).

The tables keep the names they had when these models lived in the declarations app
(Meta.db_table), so moving them changed no data.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class DeclarationPdf(models.Model):
    """One declaration as a sealed PDF: rendered once, stored, and served from storage ever after.

    One per declaration (the one-to-one is what makes a repeated or retried render a no-op); the
    SHA-256 of the stored bytes is what the verification page and command look up, and the
    verification code printed on the PDF is what a reader types in. Like the declaration it
    records, it is never edited; the retention job deletes it with its declaration.
    """

    declaration = models.OneToOneField("declarations.Declaration", on_delete=models.PROTECT, related_name="pdf")
    file = models.FileField(max_length=200)
    sha256 = models.CharField("SHA-256 of the stored file", max_length=64, unique=True)
    verification_code = models.CharField(max_length=10, unique=True)
    size = models.PositiveIntegerField(help_text="Bytes.")
    rendered_at = models.DateTimeField()
    certificate_fingerprint = models.CharField(
        max_length=64, help_text="SHA-256 of the portal certificate (DER) that sealed it."
    )

    class Meta:
        db_table = "declarations_declarationpdf"
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
        db_table = "declarations_export"
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"Export #{self.pk} for {self.school}"

    @property
    def in_progress(self) -> bool:
        return self.status in {self.Status.QUEUED, self.Status.RUNNING}
