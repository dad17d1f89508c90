"""Webhooks: endpoints other systems register, and the outbox of deliveries to them.

An endpoint belongs to a school or an association and names the events it wants. Each event is
written as one WebhookDelivery per endpoint in the transaction of what it reports, so a delivery
exists exactly when the event does; the background worker posts it, signed as the Standard
Webhooks specification says, and records every attempt and its response.
"""

from django.conf import settings
from django.db import models


class Event(models.TextChoices):
    DECLARATION_SIGNED = "declaration.signed", "A carer signed (online, or a paper form recorded)"
    DECLARATION_DECLINED = "declaration.declined", "A carer declined to sign"
    VERSION_PUBLISHED = "version.published", "A version of the code was published"
    VERSION_IN_FORCE = "version.in_force", "A version of the code came into force"
    EXPORT_READY = "export.ready", "An export of declarations is ready to download"
    EMAIL_BOUNCED = "email.bounced", "An e-mail to a carer bounced"


# Events about a school's families: sent to the school's own endpoints only, never to an
# association's (its admins see figures, not families).
FAMILY_EVENTS = {Event.DECLARATION_SIGNED, Event.DECLARATION_DECLINED, Event.EXPORT_READY, Event.EMAIL_BOUNCED}


class WebhookEndpoint(models.Model):
    organisation = models.ForeignKey("schools.Organisation", on_delete=models.PROTECT, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list)
    # The signing secret ("whsec_" and base64), kept as it is: signing needs it. After a rotation
    # the previous one still signs too (a second signature) until previous_secret_until.
    secret = models.CharField(max_length=100)
    previous_secret = models.CharField(max_length=100, blank=True)
    previous_secret_until = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # Since when every attempt has failed (None after a success); paused after 3 days of it.
    failing_since = models.DateTimeField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    pause_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["organisation__name", "url", "pk"]

    def __str__(self):
        return self.url

    @property
    def is_paused(self) -> bool:
        return self.paused_at is not None

    def event_labels(self) -> list[str]:
        return [Event(event).label for event in self.events if event in Event.values]


class WebhookDelivery(models.Model):
    """One event for one endpoint: the outbox row. `message_id` is the webhook-id header, the
    same on every attempt, so a receiver can ignore a repeat (its idempotency key)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        SENDING = "sending", "Being delivered"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Gave up after 24 hours"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=40, choices=Event.choices)
    event_key = models.CharField(max_length=100, help_text="The event, e.g. declaration.signed:123.")
    message_id = models.CharField(max_length=40, unique=True)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claimed_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # One delivery per event and endpoint, however often the event is reported.
            models.UniqueConstraint(fields=["endpoint", "event_key"], name="one_delivery_per_event_and_endpoint"),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due")]

    def __str__(self):
        return f"{self.event_type} to {self.endpoint}"


class WebhookAttempt(models.Model):
    """One POST of a delivery and what came back (or why nothing did)."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response = models.TextField(blank=True, help_text="The start of the response body.")
    error = models.CharField(max_length=300, blank=True)
    milliseconds = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-at", "-pk"]

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
