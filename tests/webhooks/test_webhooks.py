"""Webhooks end to end against a real HTTP receiver: events from the lower apps' signals,
Standard Webhooks signatures (and both during a secret rotation), retries with back-off and
the same webhook-id (the receiver's idempotency key), giving up after 24 hours, pausing after
3 days of failures with an e-mail to the owners, and the staff pages."""

import datetime

import pytest
from django.core import mail

from declarations import services as signing
from evidence.exports import DeclarationFilters
from evidence.services import export_request
from evidence.zip_exports import export_build
from schools.models import StaffRole
from sending.models import OutboxMessage
from sending.signals import email_bounced
from tests.declarations.cycle import families
from tests.declarations.factories import family, issued_link
from tests.factories import CodeFactory, SchoolFactory, StaffRoleFactory, published_version
from tests.sending.test_bounces import SERVICES, e_mail_service, post, sent_invitation  # noqa: F401 (a fixture)
from tests.webhooks.receiver import Receiver
from webhooks import services
from webhooks.delivery import deliveries_sweep, delivery_attempt
from webhooks.models import Event, WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

Status = WebhookDelivery.Status


@pytest.fixture(autouse=True)
def http_allowed(settings):
    settings.PORTAL_WEBHOOKS_ALLOW_HTTP = True


def register(user, organisation, url, events=tuple(Event.values)):
    return services.endpoint_create(user=user, organisation=organisation, url=url, events=list(events))


def sign(carer, version):
    signing_request, _ = issued_link(carer, version)
    return signing.declaration_sign(
        signing_request=signing_request, version_id_shown=version.pk, typed_name=carer.full_name,
        agreed=True, ip="203.0.113.9", user_agent="test",
    )


def deliver_all():
    for delivery in WebhookDelivery.objects.order_by("pk"):
        delivery_attempt(delivery.pk)


def test_a_signature_is_delivered_signed_with_ids_and_no_names(
    headteacher, school, school_code, tasks, django_capture_on_commit_callbacks
):
    with Receiver() as receiver:
        endpoint = register(headteacher, school, receiver.url, [Event.DECLARATION_SIGNED])
        receiver.secret = endpoint.secret
        with django_capture_on_commit_callbacks(execute=True):
            declaration = sign(family(school), school_code.versions.get())
        [delivery] = WebhookDelivery.objects.all()
        assert [t.args for t in tasks.results if t.task.name == "deliver_webhook"] == [[delivery.pk]]
        assert delivery_attempt(delivery.pk) == Status.DELIVERED
    [got] = receiver.received
    assert got["verified"] == [True]
    assert got["id"] == delivery.message_id
    assert got["body"]["type"] == "declaration.signed"
    assert got["body"]["data"] == {
        "declaration": declaration.pk, "school": school.slug, "carer": declaration.carer_id, "version": 1,
        "method": "online", "signed_at": declaration.signed_at.isoformat(),
    }
    assert "Smith" not in str(got["body"]) and "@" not in str(got["body"])


def test_a_failed_delivery_is_retried_later_with_the_same_id_until_it_is_taken(headteacher, school, school_code, now, tasks):
    with Receiver(answers=[500, 503]) as receiver:
        endpoint = register(headteacher, school, receiver.url)
        receiver.secret = endpoint.secret
        sign(family(school), school_code.versions.get())
        [delivery] = WebhookDelivery.objects.all()
        assert delivery_attempt(delivery.pk) == Status.PENDING
        assert delivery_attempt(delivery.pk) == "not due"  # the back-off is waited out first
        delivery.refresh_from_db()
        assert delivery.next_attempt_at - delivery.attempt_log.get().at == datetime.timedelta(seconds=30)
        now.shift(datetime.timedelta(seconds=30))
        assert delivery_attempt(delivery.pk) == Status.PENDING
        delivery.refresh_from_db()
        assert delivery.next_attempt_at == datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=60)
        now.shift(datetime.timedelta(seconds=60))
        assert delivery_attempt(delivery.pk) == Status.DELIVERED
    assert receiver.ids() == [delivery.message_id] * 3  # one id: the receiver can do the event once
    assert all(got["verified"] == [True] for got in receiver.received)
    assert [a.status_code for a in delivery.attempt_log.order_by("at")] == [500, 503, 200]
    assert delivery.attempt_log.order_by("at").last().response == "answered 200"
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None


def test_an_unreachable_endpoint_is_retried_with_back_off_for_24_hours_then_given_up(headteacher, school, school_code, now, tasks):
    with Receiver() as receiver:
        url = receiver.url
    register(headteacher, school, url)  # nothing listens there any more
    sign(family(school), school_code.versions.get())
    [delivery] = WebhookDelivery.objects.all()
    waits = []
    while delivery_attempt(delivery.pk) == Status.PENDING:
        delivery.refresh_from_db()
        wait = delivery.next_attempt_at - datetime.datetime.now(datetime.UTC)
        waits.append(wait)
        now.shift(wait)
    delivery.refresh_from_db()
    assert delivery.status == Status.FAILED
    assert waits[:4] == [datetime.timedelta(seconds=s) for s in (30, 60, 120, 240)]
    assert max(waits) == datetime.timedelta(hours=4)
    assert datetime.timedelta(hours=24) <= sum(waits, datetime.timedelta()) < datetime.timedelta(hours=28)
    assert "ConnectionRefusedError" in delivery.attempt_log.first().error or "URLError" in delivery.attempt_log.first().error


def test_during_a_secret_rotation_each_message_carries_a_signature_for_both_secrets(headteacher, school, school_code, now, tasks):
    with Receiver() as receiver:
        endpoint = register(headteacher, school, receiver.url)
        old = endpoint.secret
        endpoint = services.endpoint_secret_rotate(user=headteacher, endpoint=endpoint)
        receiver.secret = [old, endpoint.secret]
        carer = family(school)
        sign(carer, school_code.versions.get())
        deliver_all()
        now.shift(datetime.timedelta(hours=25))  # the old secret has stopped signing
        family(school, forename="Jo", email="jo@example.org")
        sign(family(school, forename="Al", email="al@example.org"), school_code.versions.get())
        deliver_all()
    first, second = receiver.received
    assert first["verified"] == [True, True] and len(first["headers"]["webhook-signature"].split()) == 2
    assert second["verified"] == [False, True] and len(second["headers"]["webhook-signature"].split()) == 1


def test_an_endpoint_failing_for_3_days_is_paused_its_owners_emailed_once_and_resumed_by_staff(
    headteacher, school, school_code, now, tasks, django_capture_on_commit_callbacks
):
    with Receiver(answers=[500] * 1000) as receiver:
        endpoint = register(headteacher, school, receiver.url)
        receiver.secret = endpoint.secret
        sign(family(school), school_code.versions.get())
        [delivery] = WebhookDelivery.objects.all()
        delivery_attempt(delivery.pk)
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=3))
        now.shift(datetime.timedelta(seconds=30))
        with django_capture_on_commit_callbacks(execute=True):
            delivery_attempt(delivery.pk)
        endpoint.refresh_from_db()
        assert endpoint.is_paused
        assert [m.to for m in mail.outbox] == [[headteacher.email]] and endpoint.url in mail.outbox[0].body
        now.shift(datetime.timedelta(minutes=5))
        assert delivery_attempt(delivery.pk) == "not due"  # paused: nothing is posted
        assert deliveries_sweep() == {"webhooks handed to a worker": 0}
        tried = len(receiver.received)
        receiver.answers = []
        assert services.endpoint_resume(user=headteacher, endpoint=endpoint) == 1
        assert delivery_attempt(delivery.pk) == Status.DELIVERED
    assert len(receiver.received) == tried + 1
    assert len(mail.outbox) == 1


def test_published_in_force_declined_export_and_bounce_events(headteacher, school, school_code, tasks):
    endpoint = register(headteacher, school, "http://127.0.0.1:9/hook")
    version = published_version(school_code, effective_from=datetime.date(2026, 11, 22))
    carer = family(school)
    signing_request, _ = issued_link(carer, version)
    decline = signing.declaration_decline(
        signing_request=signing_request, version_id_shown=version.pk, message="", ip=None, user_agent="t"
    )
    export = export_request(user=headteacher, school=school, filters=DeclarationFilters())
    export_build(export_id=export.pk)
    message = OutboxMessage.objects.create(school=school, carer=carer, version=version, kind="invitation", to_address=carer.email)
    email_bounced.send(sender=OutboxMessage, message=message, reason="550 no such user")
    email_bounced.send(sender=OutboxMessage, message=message, reason="550 no such user")  # reported twice: once
    kinds = sorted(endpoint.deliveries.values_list("event_type", flat=True))
    assert kinds == sorted(["version.published", "version.in_force", "declaration.declined", "export.ready", "email.bounced"])
    assert endpoint.deliveries.get(event_type="declaration.declined").payload["data"]["decline"] == decline.pk
    assert endpoint.deliveries.get(event_type="version.published").payload["data"]["fingerprint"] == version.fingerprint


def test_a_version_with_a_later_date_is_reported_in_force_on_its_day_by_the_scheduler(headteacher, school, school_code, now, tasks):
    from sending.scheduler import run_scheduled

    endpoint = register(headteacher, school, "http://127.0.0.1:9/hook", [Event.VERSION_IN_FORCE])
    published_version(school_code, effective_from=datetime.date(2026, 12, 1))
    run_scheduled(steps=None)
    assert not endpoint.deliveries.exists()
    now.shift(datetime.timedelta(days=9))
    run_scheduled()
    run_scheduled()
    assert endpoint.deliveries.get().payload["data"]["version"] == 2


def test_an_associations_endpoint_hears_of_its_code_never_of_member_families(association, tasks):
    admin = StaffRoleFactory(organisation=association, role=StaffRole.Role.ASSOCIATION_ADMIN).user
    member = SchoolFactory(association=association)
    code = CodeFactory(owner=association)
    endpoint = register(admin, association, "http://127.0.0.1:9/hook", [Event.VERSION_PUBLISHED])
    version = published_version(code)
    sign(family(member), version)
    assert list(endpoint.deliveries.values_list("event_type", flat=True)) == ["version.published"]
    with pytest.raises(Exception, match="events offered"):
        register(admin, association, "http://127.0.0.1:9/hook", [Event.DECLARATION_SIGNED])


def test_staff_register_an_endpoint_and_see_each_delivery_and_response(client, verified_client, headteacher, school, school_code, tasks):
    verified_client(client, headteacher)
    with Receiver(answers=[500]) as receiver:
        page = client.post(f"/staff/webhooks/{school.slug}/", {"url": receiver.url, "events": ["declaration.signed"]})
        endpoint = WebhookEndpoint.objects.get()
        assert page.status_code == 302
        sign(family(school), school_code.versions.get())
        deliver_all()
    detail = client.get(f"/staff/webhooks/{school.slug}/{endpoint.pk}/").content.decode()
    assert endpoint.secret in detail
    assert "HTTP 500" in detail and "answered 500" in detail
    assert WebhookDelivery.objects.get().message_id in detail


def test_office_staff_and_other_schools_cannot_see_webhooks(client, verified_client, office, headteacher, school, other_school):
    endpoint = register(headteacher, school, "http://127.0.0.1:9/hook")
    verified_client(client, office)
    assert client.get(f"/staff/webhooks/{school.slug}/").status_code == 404
    other = StaffRoleFactory(organisation=other_school, role=StaffRole.Role.HEADTEACHER).user
    verified_client(client, other)
    assert client.get(f"/staff/webhooks/{school.slug}/{endpoint.pk}/").status_code == 404


def test_in_production_an_endpoint_must_be_https_and_public(settings, headteacher, school, monkeypatch):
    settings.PORTAL_WEBHOOKS_ALLOW_HTTP = False
    with pytest.raises(Exception, match="https"):
        register(headteacher, school, "http://example.org/hook")
    for inside in ("https://127.0.0.1/hook", "https://10.0.0.5/hook", "https://[::1]/hook", "https://169.254.169.254/latest"):
        with pytest.raises(Exception, match="public website"):
            register(headteacher, school, inside)
    monkeypatch.setattr("socket.getaddrinfo", lambda host, port: [(2, 1, 6, "", ("93.184.215.14", 0))])
    assert register(headteacher, school, "https://example.org/hook").secret.startswith("whsec_")


def test_operators_see_keys_endpoints_and_deliveries_in_django_admin_without_their_secrets(
    client, verified_client, headteacher, school, school_code, tasks
):
    from api.keys import api_key_create
    from tests.factories import UserFactory

    made = api_key_create(user=headteacher, organisation=school, name="Arbor", scopes=["read"])
    endpoint = register(headteacher, school, "http://127.0.0.1:9/hook")
    sign(family(school), school_code.versions.get())
    delivery_attempt(WebhookDelivery.objects.get().pk)
    operator = UserFactory(is_staff=True, is_superuser=True)
    verified_client(client, operator)
    pages = [
        "/admin/api/apikey/", f"/admin/api/apikey/{made.record.pk}/change/",
        "/admin/webhooks/webhookendpoint/", f"/admin/webhooks/webhookendpoint/{endpoint.pk}/change/",
        "/admin/webhooks/webhookdelivery/", f"/admin/webhooks/webhookdelivery/{WebhookDelivery.objects.get().pk}/change/",
    ]
    for page in pages:
        answer = client.get(page)
        assert answer.status_code == 200, page
        text = answer.content.decode()
        assert made.key not in text and made.record.key_sha256 not in text and endpoint.secret not in text


@pytest.mark.usefixtures("e_mail_service")
def test_a_bounce_reported_by_the_e_mail_service_reaches_the_schools_endpoint(client, headteacher, school, school_code, tasks):
    endpoint = register(headteacher, school, "http://127.0.0.1:9/hook", events=[Event.EMAIL_BOUNCED])
    (carer,) = families(school, 1)
    payload, provider_id, _ = SERVICES["postmark"]
    message = sent_invitation(carer, provider_id)
    assert post(client, *payload(provider_id, carer.email)).status_code == 200
    assert post(client, *payload(provider_id, carer.email)).status_code == 200  # reported twice: one event
    [delivery] = endpoint.deliveries.all()
    assert delivery.payload["data"]["email"] == message.pk and delivery.payload["data"]["carer"] == carer.pk
    assert carer.email not in str(delivery.payload)


def test_the_sweep_hands_over_a_stranded_delivery_once_a_lease_not_on_every_run(headteacher, school, school_code, now, tasks):
    register(headteacher, school, "http://127.0.0.1:9/hook", [Event.DECLARATION_SIGNED])
    sign(family(school), school_code.versions.get())
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(  # a worker claimed it, then died
        status=Status.SENDING, claimed_until=datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=60)
    )
    assert deliveries_sweep() == {"webhooks handed to a worker": 0}  # its lease has not lapsed
    now.shift(datetime.timedelta(seconds=61))
    assert deliveries_sweep() == {"webhooks handed to a worker": 1}
    assert deliveries_sweep() == {"webhooks handed to a worker": 0}  # asked already, within a lease
    delivery.refresh_from_db()
    assert delivery.status == Status.PENDING
    now.shift(datetime.timedelta(seconds=61))  # the task never ran (its worker is gone too)
    assert deliveries_sweep() == {"webhooks handed to a worker": 1}
