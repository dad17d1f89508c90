"""Bounces and complaints: an e-mail service's tracking webhook (django-anymail's own views,
their signatures and basic auth checked) marks the carer's address as needing another way; the
status page says so, and no more invitations or reminders go to it.

The payloads are each service's own, as documented by the service and used in django-anymail's
test suite, with the message id of the e-mail the portal sent and the carer's address."""

import base64
import hashlib
import hmac
import html
import json

import pytest
from django.core import mail
from django.urls import reverse

from declarations import selectors
from schools.models import Carer
from sending import invitations, outbox
from sending.models import OutboxMessage, SendBatch
from tests.declarations.cycle import families
from tests.sending.test_sending import LOCMEM

pytestmark = [
    pytest.mark.django_db,
    # Anymail still ships SendGrid's webhook; it warns that SendGrid is no longer officially supported.
    pytest.mark.filterwarnings("ignore:django-anymail has dropped official support for SendGrid"),
]

SECRET = "portal-webhooks:correct-horse-battery-staple"
MAILGUN_KEY = "key-mailgun-webhook-signing"


@pytest.fixture(autouse=True)
def e_mail_service(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET, "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY}
    settings.MAILERS = LOCMEM
    mail.outbox = []


@pytest.fixture
def carer(school, school_code):
    (carer,) = families(school, 1)
    return carer


def sent_invitation(carer, provider_id):
    """The carer's invitation, sent through the e-mail service, which named it `provider_id`."""
    invitations.invitations_send(
        school=carer.school, audience=SendBatch.AudienceKind.ALL, user=None, enqueue=False
    )
    outbox.outbox_send_pending()
    message = OutboxMessage.objects.get(carer=carer, status=OutboxMessage.Status.SENT)
    OutboxMessage.objects.filter(pk=message.pk).update(provider_message_id=provider_id)
    return message


def basic_auth(secret=SECRET):
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(secret.encode()).decode()}


def amazon_ses(message_id, recipient, event="Bounce"):
    ses = {
        "notificationType": event,
        "mail": {
            "timestamp": "2026-11-22T12:00:00.000Z",
            "source": "no-reply@portal.example.org",
            "messageId": message_id,
            "destination": [recipient],
        },
    }
    if event == "Bounce":
        ses["bounce"] = {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [
                {
                    "emailAddress": recipient,
                    "status": "5.1.1",
                    "action": "failed",
                    "diagnosticCode": "smtp; 550 5.1.1 User unknown",
                }
            ],
            "timestamp": "2026-11-22T12:00:05.101Z",
            "feedbackId": "00000138111222aa-44455566-cccc-cccc-cccc-ddddaaaa068a-000000",
            "reportingMTA": "dns; email.example.com",
        }
    else:
        ses["complaint"] = {
            "complainedRecipients": [{"emailAddress": recipient}],
            "timestamp": "2026-11-22T12:10:00.000Z",
            "feedbackId": "0000013786031775-fea503bc-7497-49e1-881b-a0379bb037d3-000000",
            "complaintFeedbackType": "abuse",
        }
    sns = {
        "Type": "Notification",
        "MessageId": "19ba9823-d7f2-53c1-860e-cb10e0d13dfc",
        "TopicArn": "arn:aws:sns:eu-west-2:123456789012:SES_Events",
        "Message": json.dumps(ses),
        "Timestamp": "2026-11-22T12:00:06.675Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLE-SIGNATURE==",
        "SigningCertURL": "https://sns.eu-west-2.amazonaws.com/SimpleNotificationService-12345abcde.pem",
    }
    headers = {
        "HTTP_X_AMZ_SNS_MESSAGE_TYPE": "Notification",
        "HTTP_X_AMZ_SNS_MESSAGE_ID": sns["MessageId"],
    }
    return "amazon_ses", json.dumps(sns), headers


def mailgun(message_id, recipient, event="failed", key=MAILGUN_KEY):
    timestamp, token = "1795348800", "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0"
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    data = {
        "event": event,
        "timestamp": 1795348805.1,
        "id": "G9Bn5sl1TC6nu79C8C0bwg",
        "recipient": recipient,
        "message": {
            "headers": {
                "message-id": message_id.strip("<>"),
                "to": recipient,
                "subject": "Please sign",
            }
        },
    }
    if event == "failed":
        data.update(
            severity="permanent",
            reason="bounce",
            **{"delivery-status": {"code": 550, "message": "5.1.1 User unknown"}},
        )
    body = {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": data,
    }
    return "mailgun", json.dumps(body), {}


def postmark(message_id, recipient, event="Bounce"):
    body = {
        "RecordType": event,
        "ID": 901542550,
        "Type": "HardBounce" if event == "Bounce" else "SpamComplaint",
        "TypeCode": 1 if event == "Bounce" else 512,
        "MessageID": message_id,
        "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": recipient,
        "From": "no-reply@portal.example.org",
        "BouncedAt": "2026-11-22T12:00:05.3963933-00:00",
        "Inactive": True,
        "CanActivate": True,
        "Subject": "Please sign",
    }
    return "postmark", json.dumps(body), {}


def sendgrid(message_id, recipient, event="bounce"):
    body = [
        {
            "email": recipient,
            "timestamp": 1795348805,
            "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
            "event": event,
            "sg_event_id": "6g4ZI7SA-xmRDv57GoPIPw==",
            "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
            "anymail_id": message_id,  # the custom argument Anymail's SendGrid backend adds
            **(
                {"reason": "500 unknown recipient", "status": "5.0.0", "type": "bounce"}
                if event == "bounce"
                else {}
            ),
        }
    ]
    return "sendgrid", json.dumps(body), {}


def brevo(message_id, recipient, event="hard_bounce"):
    body = {
        "event": event,
        "email": recipient,
        "ts_epoch": 1795348805000,
        "message-id": message_id,
        "reason": " RecipientError: 550 5.5.0 Requested action not taken: mailbox unavailable.",
    }
    return "brevo", json.dumps(body), {}


SERVICES = {
    "amazon_ses": (
        amazon_ses,
        "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000",
        "Complaint",
    ),
    "mailgun": (mailgun, "<20261122120000.1.ABCDEF@mg.portal.example.org>", "complained"),
    "postmark": (postmark, "2706ee8a-737c-4285-b032-ccd317af53ed", "SpamComplaint"),
    "sendgrid": (sendgrid, "bd6c4b7e-7a53-4b56-8cb1-4a6b40bfc8ee", "spamreport"),
    "brevo": (brevo, "<202611221200.27287306012@smtp-relay.mailin.fr>", "spam"),
}


def post(client, service, body, headers, auth=None):
    url = reverse(f"anymail:{service}_tracking_webhook")
    return client.post(
        url,
        body,
        content_type="application/json",
        **(auth if auth is not None else basic_auth()),
        **headers,
    )


def standing(carer):
    target = selectors.signing_target(carer.school)
    return selectors.with_standing(Carer.objects.filter(pk=carer.pk), target).get().standing


@pytest.mark.parametrize("service", SERVICES)
def test_a_bounce_from_each_e_mail_service_marks_the_carer_as_needing_another_way(
    client, carer, service
):
    payload, provider_id, _ = SERVICES[service]
    message = sent_invitation(carer, provider_id)
    assert standing(carer) == selectors.Standing.SENT

    response = post(client, *payload(provider_id, carer.email))
    assert response.status_code == 200
    carer.refresh_from_db()
    assert carer.email_bounced == carer.email and carer.email_bounced_at is not None
    assert standing(carer) == selectors.Standing.BOUNCED
    message.refresh_from_db()
    assert message.problem in {OutboxMessage.Problem.BOUNCED, OutboxMessage.Problem.REJECTED}


@pytest.mark.parametrize("service", SERVICES)
def test_a_complaint_from_each_e_mail_service_marks_the_carer_too(client, carer, service):
    payload, provider_id, complaint = SERVICES[service]
    message = sent_invitation(carer, provider_id)
    name, body, headers = payload(provider_id, carer.email, event=complaint)
    assert post(client, name, body, headers).status_code == 200
    assert standing(carer) == selectors.Standing.BOUNCED
    message.refresh_from_db()
    assert message.problem == OutboxMessage.Problem.COMPLAINED


def test_the_status_page_says_the_e_mail_bounced_and_no_reminder_goes_to_the_address(
    client, carer, office, verified_client, school_code
):
    sent_invitation(carer, "2706ee8a-737c-4285-b032-ccd317af53ed")
    assert (
        post(client, *postmark("2706ee8a-737c-4285-b032-ccd317af53ed", carer.email)).status_code
        == 200
    )

    verified_client(client, office)
    page = html.unescape(
        client.get(reverse("declarations_staff:status", args=[carer.school.slug])).content.decode()
    )
    assert "E-mail bounced: needs another way" in page

    reminder = OutboxMessage.objects.create(
        school=carer.school,
        carer=carer,
        version=school_code.versions.get(),
        kind=OutboxMessage.Kind.REMINDER_1,
    )
    mail.outbox = []
    outbox.outbox_send_pending()
    reminder.refresh_from_db()
    assert (reminder.status, reminder.skip_reason) == (
        OutboxMessage.Status.SKIPPED,
        OutboxMessage.SkipReason.BOUNCED,
    )
    assert mail.outbox == []


def test_a_new_address_from_the_school_clears_the_bounce(client, carer):
    sent_invitation(carer, "2706ee8a-737c-4285-b032-ccd317af53ed")
    post(client, *postmark("2706ee8a-737c-4285-b032-ccd317af53ed", carer.email))
    assert standing(carer) == selectors.Standing.BOUNCED
    Carer.objects.filter(pk=carer.pk).update(email="new.address@example.org")
    assert standing(carer) == selectors.Standing.SENT


def test_opened_and_delivered_events_change_nothing(client, carer):
    sent_invitation(carer, "2706ee8a-737c-4285-b032-ccd317af53ed")
    body = {
        "RecordType": "Delivery",
        "MessageID": "2706ee8a-737c-4285-b032-ccd317af53ed",
        "Recipient": carer.email,
        "DeliveredAt": "2026-11-22T12:00:10.2735393-00:00",
        "Details": "Test delivery webhook details",
    }
    assert post(client, "postmark", json.dumps(body), {}).status_code == 200
    assert standing(carer) == selectors.Standing.SENT


@pytest.mark.parametrize("service", SERVICES)
def test_a_post_without_the_secret_is_refused_and_changes_nothing(client, carer, service):
    payload, provider_id, _ = SERVICES[service]
    sent_invitation(carer, provider_id)
    response = post(client, *payload(provider_id, carer.email), auth=basic_auth("someone:guessing"))
    assert response.status_code in {400, 401, 403}
    assert standing(carer) == selectors.Standing.SENT


def test_a_mailgun_post_with_a_wrong_signature_is_refused(client, carer):
    provider_id = "<20261122120000.1.ABCDEF@mg.portal.example.org>"
    sent_invitation(carer, provider_id)
    response = post(client, *mailgun(provider_id, carer.email, key="not-the-key"))
    assert response.status_code == 400
    assert standing(carer) == selectors.Standing.SENT


def test_without_a_webhook_secret_there_are_no_webhooks(client, carer, settings):
    settings.ANYMAIL = {}
    response = post(client, *postmark("2706ee8a-737c-4285-b032-ccd317af53ed", carer.email))
    assert response.status_code == 404
    assert standing(carer) != selectors.Standing.BOUNCED


def test_sending_through_an_e_mail_service_keeps_its_message_id(carer, settings):
    settings.MAILERS = {"default": {"BACKEND": "anymail.backends.test.EmailBackend"}}
    invitations.invitations_send(
        school=carer.school, audience=SendBatch.AudienceKind.ALL, user=None, enqueue=False
    )
    outbox.outbox_send_pending()
    message = OutboxMessage.objects.get(carer=carer)
    assert message.status == OutboxMessage.Status.SENT
    assert message.provider_message_id == str(mail.outbox[0].anymail_status.message_id)
