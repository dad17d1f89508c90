"""Invitations to join a school or association as staff (onboarding/invitations.py has the rules)."""

import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from schools.models import StaffRole

INVITATION_VALID = datetime.timedelta(days=7)


class StaffInvitation(models.Model):
    """One person invited by e-mail to take one role at one organisation.

    The link's token is never stored: it is an HMAC of the invitation's id and `nonce` under the
    portal's secret (onboarding/invitations.py: invitation_token), so the worker can write it into
    the e-mail, and only its SHA-256 is kept here. It works for 7 days and once: `accepted_at`
    is set in the transaction that gives the role, under a row lock.
    """

    class EmailStatus(models.TextChoices):
        PENDING = "pending", "Waiting to send"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    organisation = models.ForeignKey(
        "schools.Organisation", on_delete=models.CASCADE, related_name="staff_invitations"
    )
    email = models.EmailField()
    role = models.CharField(max_length=32, choices=StaffRole.Role.choices)
    job_title = models.CharField(max_length=120, blank=True)
    nonce = models.CharField(max_length=32)
    token_hash = models.CharField(max_length=64, unique=True, null=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    email_status = models.CharField(max_length=10, choices=EmailStatus.choices, default=EmailStatus.PENDING)
    email_sent_at = models.DateTimeField(null=True, blank=True)
    email_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(accepted_at__isnull=True) | Q(revoked_at__isnull=True),
                name="staff_invitation_not_both_accepted_and_revoked",
            ),
        ]

    def __str__(self):
        return f"Invitation #{self.pk}: {self.get_role_display()}, {self.organisation}"

    @property
    def is_open(self) -> bool:
        """Not yet used, withdrawn or expired."""
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > timezone.now()
