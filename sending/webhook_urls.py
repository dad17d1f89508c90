"""The e-mail services' tracking webhooks: django-anymail's own views, which check each post
(sending/bounces.py). Only when a webhook secret is set (ANYMAIL_WEBHOOK_SECRET, basic auth
that every service below supports): without one they answer 404, so nobody can post events
an operator never asked for. Included by portal/urls.py when django-anymail is installed.
"""

from functools import wraps

from anymail.webhooks.amazon_ses import AmazonSESTrackingWebhookView
from anymail.webhooks.brevo import BrevoTrackingWebhookView
from anymail.webhooks.mailgun import MailgunTrackingWebhookView
from anymail.webhooks.postmark import PostmarkTrackingWebhookView
from anymail.webhooks.sendgrid import SendGridTrackingWebhookView
from django.conf import settings
from django.http import Http404
from django.urls import path


def configured(view):
    @wraps(view)
    def guarded(request, *args, **kwargs):
        if not getattr(settings, "ANYMAIL", {}).get("WEBHOOK_SECRET"):
            raise Http404("No e-mail service webhooks are configured.")
        return view(request, *args, **kwargs)

    return guarded


app_name = "anymail"
urlpatterns = [
    path(f"{name}/tracking/", configured(view.as_view()), name=f"{name}_tracking_webhook")
    for name, view in {
        "amazon_ses": AmazonSESTrackingWebhookView,
        "brevo": BrevoTrackingWebhookView,
        "mailgun": MailgunTrackingWebhookView,
        "postmark": PostmarkTrackingWebhookView,
        "sendgrid": SendGridTrackingWebhookView,
    }.items()
]
