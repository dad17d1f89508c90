"""Delivering webhooks: the outbox (WebhookDelivery rows) posted by the background worker.

    events_record(event=Event.DECLARATION_SIGNED, key=f"declaration:{pk}", organisations=[school],
                  data={...})        # inside the transaction of what happened
    delivery_attempt(delivery_id)    # the worker, one attempt

Guarantees
    - One delivery per event and endpoint (a unique constraint), written in the transaction of
      the event, with its task queued in that same transaction (portal.tasks): an event that
      commits is delivered, one that rolls back is not.
    - One attempt at a time: a worker claims the row (status "sending" until its lease lapses)
      before it posts. A worker killed mid-post leaves the claim to lapse; the sweep
      (`run_scheduled`, step "webhooks") hands the row to a live worker, which posts it again
      with the same webhook-id: a receiver that keeps the ids it has seen does each event once.
    - Retries with exponential back-off (PORTAL_WEBHOOK_RETRY_FIRST doubling, at most
      PORTAL_WEBHOOK_RETRY_LONGEST apart) for PORTAL_WEBHOOK_GIVE_UP_AFTER (24 hours), then the
      delivery is marked failed. An endpoint whose every attempt has failed for
      PORTAL_WEBHOOK_PAUSE_AFTER (3 days) is paused and its owners e-mailed, once.
    - Signed as the Standard Webhooks specification says (the standardwebhooks library):
      webhook-id, webhook-timestamp and webhook-signature headers; after a secret rotation, a
      signature with each secret still valid.
"""

from __future__ import annotations

import base64
import datetime
import http.client
import ipaddress
import json
import logging
import secrets
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.tasks import task
from django.utils import timezone
from standardwebhooks import Webhook

from portal.tasks import enqueue_with_transaction
from schools.models import StaffRole
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

Status = WebhookDelivery.Status
RESPONSE_KEPT = 2000  # characters of each response body kept for staff to see
TIMEOUT_SECONDS = 10


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


# Recording events.


def events_record(*, event: str, key: str, organisations, data: dict, now: datetime.datetime | None = None) -> int:
    """One delivery of `event` (identified by `key`, e.g. "declaration:12") for each endpoint of
    `organisations` that asked for it; returns how many. Call inside the event's transaction."""
    now = now or timezone.now()
    # An organisation has a few endpoints: chosen events are checked here, as every database can.
    endpoints = [e for e in WebhookEndpoint.objects.filter(organisation__in=organisations) if event in e.events]
    made = 0
    for endpoint in endpoints:
        message_id = f"msg_{uuid.uuid4().hex}"
        payload = {"type": event, "timestamp": now.isoformat(), "data": data}
        delivery, created = WebhookDelivery.objects.get_or_create(
            endpoint=endpoint, event_key=f"{event}:{key}",
            defaults={"event_type": event, "message_id": message_id, "payload": payload, "next_attempt_at": now, "created_at": now},
        )
        if created:
            made += 1
            enqueue_with_transaction(deliver_webhook, delivery.pk)
    return made


# Signing and posting.


def signature(endpoint: WebhookEndpoint, message_id: str, at: datetime.datetime, body: bytes) -> str:
    """The webhook-signature header: one signature per secret in use (two during a rotation)."""
    secrets_in_use = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_until and endpoint.previous_secret_until > at:
        secrets_in_use.append(endpoint.previous_secret)
    return " ".join(Webhook(secret).sign(message_id, at, body) for secret in secrets_in_use)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect is an answer, not a delivery: the endpoint's URL should be right


# In production an endpoint may not point into the portal's own network (the database, a cloud
# metadata service). Checking the host's addresses and then letting urllib look the host up again
# to connect would leave a gap: a name that answered with a public address for the check could
# answer with a private one a moment later (DNS rebinding). So the connection itself looks the
# host up once, checks every address, and connects to one of those very addresses; the TLS
# handshake still checks the certificate against the host's name.


class NotPublic(OSError):
    """The endpoint's host resolves to an address that is not on the public internet."""

    def __init__(self):
        super().__init__("The address does not resolve to a public internet address.")


def public_addresses(host: str, port: int | None = None) -> list[tuple]:
    """getaddrinfo's answers for `host`, if every address among them is a public one; else []."""
    try:
        answers = socket.getaddrinfo(host, port)
    except (OSError, UnicodeError):
        return []
    if answers and all(ipaddress.ip_address(answer[4][0].split("%")[0]).is_global for answer in answers):
        return answers
    return []


def reaches_only_public_addresses(url: str) -> bool:
    """Whether every address the URL's host resolves to now is a public one."""
    return bool(public_addresses(urllib.parse.urlsplit(url).hostname or ""))


class _PublicOnlyHTTPConnection(http.client.HTTPConnection):
    def connect(self):
        answers = public_addresses(self.host, self.port)
        if not answers:
            raise NotPublic()
        error = None
        for address in dict.fromkeys(answer[4][:2] for answer in answers):  # once each, whatever the socket types
            try:
                self.sock = socket.create_connection(address, self.timeout, self.source_address)
            except OSError as failed:
                error = failed
                continue
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return
        raise error


class _PublicOnlyHTTPSConnection(http.client.HTTPSConnection, _PublicOnlyHTTPConnection):
    """HTTPS over a connection made as above (HTTPSConnection.connect calls it, then wraps the
    socket in TLS for the host's name)."""


class _PublicOnlyHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, request):
        return self.do_open(_PublicOnlyHTTPConnection, request)


class _PublicOnlyHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self):
        self.tls = ssl.create_default_context()
        super().__init__(context=self.tls)

    def https_open(self, request):
        return self.do_open(_PublicOnlyHTTPSConnection, request, context=self.tls)


# Posted directly, never through a proxy named in the environment (which would do the lookup
# itself, out of reach of the check). PORTAL_WEBHOOKS_ALLOW_HTTP (development) lets endpoints on
# this machine or its network be reached.
_public_only_opener = urllib.request.build_opener(
    _NoRedirects, urllib.request.ProxyHandler({}), _PublicOnlyHTTPHandler, _PublicOnlyHTTPSHandler()
)
_any_address_opener = urllib.request.build_opener(_NoRedirects, urllib.request.ProxyHandler({}))


def _post(url: str, body: bytes, headers: dict) -> tuple[int | None, str, str]:
    """(status code, the start of the body, error) of one POST."""
    opener = _any_address_opener if settings.PORTAL_WEBHOOKS_ALLOW_HTTP else _public_only_opener
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status, response.read(RESPONSE_KEPT).decode("utf-8", "replace"), ""
    except urllib.error.HTTPError as error:
        return error.code, error.read(RESPONSE_KEPT).decode("utf-8", "replace"), ""
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        if isinstance(reason, NotPublic):
            return None, "", str(reason)
        return None, "", f"{type(error).__name__}: {reason}"[:300]


def backoff(attempts: int) -> datetime.timedelta:
    """How long to wait after the `attempts`-th failure: the first wait, doubling, capped."""
    first = settings.PORTAL_WEBHOOK_RETRY_FIRST
    return min(first * (2 ** (attempts - 1)), settings.PORTAL_WEBHOOK_RETRY_LONGEST)


def _claim(delivery_id: int, now: datetime.datetime) -> bool:
    lease = now + settings.PORTAL_WEBHOOK_LEASE
    return bool(
        WebhookDelivery.objects.filter(pk=delivery_id, next_attempt_at__lte=now, endpoint__paused_at__isnull=True)
        .filter(Q(status=Status.PENDING) | Q(status=Status.SENDING, claimed_until__lt=now))
        .update(status=Status.SENDING, claimed_until=lease, attempts=F("attempts") + 1)
    )


def delivery_attempt(delivery_id: int) -> str:
    """Post the delivery once, if it is due and no other worker holds it; record what came
    back; on failure, schedule the next attempt or give up. Returns the delivery's status."""
    now = timezone.now()
    if not _claim(delivery_id, now):
        return "not due"
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode("utf-8")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "codes-of-conduct-portal-webhooks/1",
        "webhook-id": delivery.message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature(endpoint, delivery.message_id, now, body),
    }
    started = time.monotonic()
    status_code, response, error = _post(endpoint.url, body, headers)
    finished = timezone.now()
    succeeded = status_code is not None and 200 <= status_code < 300
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery, at=now, status_code=status_code, response=response, error=error,
            milliseconds=int((time.monotonic() - started) * 1000),
        )
        if succeeded:
            WebhookDelivery.objects.filter(pk=delivery.pk).update(status=Status.DELIVERED, delivered_at=finished, claimed_until=None)
            WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=False).update(failing_since=None)
            return Status.DELIVERED
        if finished - delivery.created_at >= settings.PORTAL_WEBHOOK_GIVE_UP_AFTER:
            WebhookDelivery.objects.filter(pk=delivery.pk).update(status=Status.FAILED, claimed_until=None)
            result = Status.FAILED
        else:
            retry_at = finished + backoff(delivery.attempts)  # attempts counts this one (the claim)
            WebhookDelivery.objects.filter(pk=delivery.pk).update(status=Status.PENDING, claimed_until=None, next_attempt_at=retry_at)
            transaction.on_commit(lambda: deliver_webhook.using(run_after=retry_at).enqueue(delivery.pk))
            result = Status.PENDING
        _note_failure(endpoint, finished)
    return result


def _note_failure(endpoint: WebhookEndpoint, now: datetime.datetime) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=now)
    paused = WebhookEndpoint.objects.filter(
        pk=endpoint.pk, paused_at__isnull=True, failing_since__lte=now - settings.PORTAL_WEBHOOK_PAUSE_AFTER
    ).update(paused_at=now)
    if paused:
        transaction.on_commit(lambda: endpoint_pause_notify(endpoint_id=endpoint.pk))


def endpoint_owners(endpoint: WebhookEndpoint) -> list[str]:
    """Who hears that an endpoint was paused: the school's headteachers, the association's admins."""
    role = StaffRole.Role.HEADTEACHER if endpoint.organisation.is_school else StaffRole.Role.ASSOCIATION_ADMIN
    return sorted(
        set(
            StaffRole.objects.filter(organisation_id=endpoint.organisation_id, role=role, user__is_active=True)
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        )
    )


def endpoint_pause_notify(*, endpoint_id: int) -> int:
    """E-mail the owners of a paused endpoint, once per pause (the row is marked first)."""
    endpoint = WebhookEndpoint.objects.select_related("organisation").get(pk=endpoint_id)
    if not WebhookEndpoint.objects.filter(pk=endpoint_id, paused_at__isnull=False, pause_notified_at__isnull=True).update(
        pause_notified_at=timezone.now()
    ):
        return 0
    recipients = endpoint_owners(endpoint)
    if not recipients:
        return 0
    days = settings.PORTAL_WEBHOOK_PAUSE_AFTER.days
    send_mail(
        subject=f"Webhook paused: {endpoint.url}",
        message=(
            f"Every delivery to the webhook endpoint {endpoint.url} for {endpoint.organisation.name} has failed for "
            f"{days} days, so the portal has stopped sending to it.\n\n"
            "Once the receiving system works again, resume the endpoint on the portal's webhook page "
            f"(Staff > Webhooks): waiting deliveries are then sent.\n\n"
            f"{settings.PORTAL_BASE_URL}/staff/webhooks/{endpoint.organisation.slug}/{endpoint.pk}/\n"
        ),
        from_email=None,
        recipient_list=recipients,
    )
    return len(recipients)


@task()
def deliver_webhook(delivery_id: int) -> str:
    """One attempt at one webhook delivery."""
    return delivery_attempt(delivery_id)


def deliveries_sweep(now: datetime.datetime | None = None) -> dict:
    """Hand to a live worker every delivery that is due but has no task (its worker died, or its
    retry's task was lost): pending and due for longer than a lease, or left "sending" by a
    worker whose lease has lapsed (put back to pending). Each is asked for at most once a lease
    (`claimed_until` marks when it was asked, for a pending row), so a long queue behind a busy
    worker does not fill up with repeats. Harmless twice: each attempt claims its row first."""
    now = now or timezone.now()
    lease = settings.PORTAL_WEBHOOK_LEASE
    not_asked_lately = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    stranded = WebhookDelivery.objects.filter(endpoint__paused_at__isnull=True).filter(
        (Q(status=Status.PENDING, next_attempt_at__lte=now - lease) & not_asked_lately)
        | Q(status=Status.SENDING, claimed_until__lt=now)
    )
    ids = list(stranded.values_list("pk", flat=True)[:5000])
    with transaction.atomic():
        WebhookDelivery.objects.filter(pk__in=ids).filter(
            Q(status=Status.PENDING) | Q(status=Status.SENDING, claimed_until__lt=now)
        ).update(status=Status.PENDING, claimed_until=now + lease)
        for delivery_id in ids:
            enqueue_with_transaction(deliver_webhook, delivery_id)
    return {"webhooks handed to a worker": len(ids)}
