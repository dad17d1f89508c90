"""Staff writes to webhook endpoints: register, change events, rotate the secret, resume after a
pause, delete. Each checks schools.permissions.can_manage_integrations and is audited."""

from __future__ import annotations

import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from portal.tasks import enqueue_with_transaction
from schools import permissions
from schools.audit import audit_record
from schools.models import AuditEvent, Organisation
from webhooks.delivery import deliver_webhook, new_secret, reaches_only_public_addresses
from webhooks.models import FAMILY_EVENTS, Event, WebhookDelivery, WebhookEndpoint

ROTATION_OVERLAP = datetime.timedelta(hours=24)  # the old secret still signs for this long


def _check(user, organisation: Organisation) -> None:
    if not permissions.can_manage_integrations(user, organisation):
        raise PermissionDenied("Only the headteacher (or, for an association, its admins) manages webhooks.")


def events_offered(organisation: Organisation) -> list[tuple[str, str]]:
    """Families' events go to a school's own endpoints only; an association's get its code's."""
    return [(e.value, e.label) for e in Event if organisation.is_school or e not in FAMILY_EVENTS]


def _clean(organisation: Organisation, url: str, events: list[str]) -> list[str]:
    scheme = urlsplit(url).scheme
    if scheme != "https" and not (scheme == "http" and settings.PORTAL_WEBHOOKS_ALLOW_HTTP):
        raise ValidationError({"url": ["The address must start with https://."]})
    if not settings.PORTAL_WEBHOOKS_ALLOW_HTTP and not reaches_only_public_addresses(url):
        raise ValidationError({"url": ["The address must be a public website, found on the internet."]})
    offered = {value for value, _ in events_offered(organisation)}
    events = sorted(set(events))
    if not events or not set(events) <= offered:
        raise ValidationError({"events": ["Choose at least one of the events offered."]})
    return events


def _audit(user, endpoint: WebhookEndpoint, what: str, request=None) -> None:
    audit_record(
        actor=user, school=endpoint.organisation, action=AuditEvent.Action.API_REQUEST,
        target=f"Webhook #{endpoint.pk}", detail={"webhook": endpoint.pk, what: True, "url": endpoint.url}, request=request,
    )


def endpoint_create(*, user, organisation: Organisation, url: str, events: list[str], description: str = "", request=None) -> WebhookEndpoint:
    """Register an endpoint with a new signing secret (shown to staff on its page)."""
    _check(user, organisation)
    events = _clean(organisation, url, events)
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            organisation=organisation, url=url, events=events, description=description.strip(),
            secret=new_secret(), created_by=user,
        )
        _audit(user, endpoint, "registered", request)
    return endpoint


def endpoint_update(*, user, endpoint: WebhookEndpoint, url: str, events: list[str], description: str = "", request=None) -> WebhookEndpoint:
    _check(user, endpoint.organisation)
    endpoint.events = _clean(endpoint.organisation, url, events)
    endpoint.url, endpoint.description = url, description.strip()
    with transaction.atomic():
        endpoint.save(update_fields=["url", "events", "description"])
        _audit(user, endpoint, "changed", request)
    return endpoint


def endpoint_secret_rotate(*, user, endpoint: WebhookEndpoint, request=None) -> WebhookEndpoint:
    """A new secret signs from now on; the old one signs too, beside it, for 24 hours, so the
    receiving system can move to the new one without missing an event."""
    _check(user, endpoint.organisation)
    now = timezone.now()
    with transaction.atomic():
        endpoint.previous_secret, endpoint.previous_secret_until = endpoint.secret, now + ROTATION_OVERLAP
        endpoint.secret = new_secret()
        endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_until"])
        _audit(user, endpoint, "secret rotated", request)
    return endpoint


def endpoint_resume(*, user, endpoint: WebhookEndpoint, request=None) -> int:
    """Start delivering to a paused endpoint again; its waiting deliveries are sent now."""
    _check(user, endpoint.organisation)
    now = timezone.now()
    with transaction.atomic():
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(paused_at=None, pause_notified_at=None, failing_since=None)
        waiting = list(
            WebhookDelivery.objects.filter(endpoint=endpoint, status=WebhookDelivery.Status.PENDING).values_list("pk", flat=True)
        )
        WebhookDelivery.objects.filter(pk__in=waiting).update(next_attempt_at=now)
        for delivery_id in waiting:
            enqueue_with_transaction(deliver_webhook, delivery_id)
        _audit(user, endpoint, "resumed", request)
    return len(waiting)


def endpoint_delete(*, user, endpoint: WebhookEndpoint, request=None) -> None:
    _check(user, endpoint.organisation)
    with transaction.atomic():
        _audit(user, endpoint, "deleted", request)
        endpoint.delete()
