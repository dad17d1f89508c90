"""API keys: how another system (an information system, a trust's reporting) reaches the portal.

A key belongs to a school or an association and acts for the member of staff who made it, never
beyond what they may do (schools/permissions.py). Only its SHA-256 is stored; the key itself is
shown once, when it is made.
"""

from django.conf import settings
from django.db import models


class ApiKey(models.Model):
    class Scope(models.TextChoices):
        READ = "read", "Read: schools, codes, carers' standing, declarations and exports"
        IMPORT_FAMILIES = "import_families", "Import families from the information system"
        SEND_INVITATIONS = "send_invitations", "Send invitations to sign"

    organisation = models.ForeignKey("schools.Organisation", on_delete=models.PROTECT, related_name="api_keys")
    name = models.CharField(max_length=100, help_text="What uses the key, e.g. \"Arbor nightly import\".")
    prefix = models.CharField(max_length=16, unique=True, help_text="The start of the key, to tell keys apart.")
    key_sha256 = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "API key"

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def allows(self, scope: str) -> bool:
        return scope in self.scopes

    def scope_labels(self) -> list[str]:
        return [self.Scope(scope).label for scope in self.scopes if scope in self.Scope.values]
