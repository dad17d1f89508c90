"""Requests to sign, and the declarations (or declines) carers make.

The rules (who is asked, how a link is checked, how a signature is recorded) live in
declarations/services.py; these models hold the data and the invariants the database can keep.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class SigningRequest(models.Model):
    """One carer asked to sign one version of their school's code.

    The e-mailed link's token is never stored, only its SHA-256. Links are numbered: the token of
    the current one can be worked out again from the request and `link_number` (declarations/
    tokens.py), so an e-mail sent again carries the same link. Re-issuing the link takes the next
    number and replaces the hash (the old link stops working) and the expiry; the row, and its
    history, stay.
    """

    school = models.ForeignKey("schools.Organisation", on_delete=models.PROTECT, related_name="signing_requests")
    carer = models.ForeignKey("schools.Carer", on_delete=models.PROTECT, related_name="signing_requests")
    version = models.ForeignKey("codes.CodeVersion", on_delete=models.PROTECT, related_name="signing_requests")
    token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    # The SHA-256 of the current link's short code, printed on a paper form (declarations/tokens.py:
    # short_code); empty until one is printed, and again whenever a new link replaces it.
    short_hash = models.CharField(max_length=64, blank=True, db_index=True)
    # Only ever goes up, so a replaced link is never made again.
    link_number = models.PositiveIntegerField(
        default=0, editable=False, help_text="The number of the current link (0: none issued yet)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    issued_at = models.DateTimeField(null=True, blank=True, help_text="When the current link was made.")
    expires_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True, help_text="When the first invitation was sent.")
    opened_at = models.DateTimeField(null=True, blank=True, help_text="When the link was first opened.")
    delivery_failed_at = models.DateTimeField(
        null=True, blank=True, help_text="When an e-mail with the link last failed to go; cleared when one goes."
    )
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
        ONLINE = "online", _("Signed online")
        PAPER = "paper", _("Paper form recorded by staff")

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
    # Nullable, with no default, so that adding it keeps the table (and its trigger) on SQLite;
    # null is a declaration recorded before the portal spoke other languages: in English.
    language = models.CharField(
        max_length=12, null=True, blank=True, help_text="The language the signing page was shown in."
    )
    translation_fingerprint = models.CharField(
        max_length=64, null=True, blank=True,
        help_text="SHA-256 of the translation of the code shown beside the English (codes.VersionTranslation), if any.",
    )

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
