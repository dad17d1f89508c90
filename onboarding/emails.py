"""The invitation e-mail: written and sent by the worker, once.

The row is claimed by moving it from pending to sending in one conditional UPDATE, so a task run
twice (or by two workers) sends one e-mail; it is marked sent the moment the mail server takes
it, or failed with the server's answer, for the inviter to see and send a new invitation.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import Q
from django.tasks import task
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from onboarding.models import StaffInvitation
from onboarding.tokens import invitation_token
from sending.emails import long_date, school_from_address
from sending.mailer import Mailer, describe

logger = logging.getLogger(__name__)
Status = StaffInvitation.EmailStatus


def invitation_link(invitation: StaffInvitation) -> str:
    return settings.PORTAL_BASE_URL + reverse("onboarding:invitation_link", args=[invitation_token(invitation)])


def invitation_email(invitation: StaffInvitation) -> EmailMultiAlternatives:
    organisation = invitation.organisation
    inviter = invitation.invited_by
    context = {
        "invitation": invitation,
        "organisation": organisation,
        "role": invitation.get_role_display().lower(),
        "inviter": (inviter.get_full_name() or inviter.username) if inviter else "",
        "link": invitation_link(invitation),
        "expires_on": long_date(invitation.expires_at),
        "subject": f"You are invited to the codes of conduct portal for {organisation.name}",
    }
    email = EmailMultiAlternatives(
        subject=context["subject"],
        body=render_to_string("onboarding/emails/invitation.txt", context),
        from_email=school_from_address(organisation),
        to=[invitation.email],
        reply_to=[organisation.email] if organisation.email else None,
    )
    email.attach_alternative(render_to_string("onboarding/emails/invitation.html", context), "text/html")
    return email


@task()
def send_staff_invitation(invitation_id: int) -> str:
    """E-mail the invitation's link, once."""
    claimed = StaffInvitation.objects.filter(
        Q(pk=invitation_id, email_status=Status.PENDING, accepted_at__isnull=True, revoked_at__isnull=True)
    ).update(email_status=Status.SENDING)
    if not claimed:
        return "not sent: already sent, withdrawn or accepted"
    invitation = StaffInvitation.objects.select_related("organisation", "invited_by").get(pk=invitation_id)
    try:
        with Mailer() as mailer:
            mailer.send(invitation_email(invitation))
    except Exception as error:
        logger.warning("Could not e-mail staff invitation %s", invitation_id, exc_info=True)
        StaffInvitation.objects.filter(pk=invitation_id).update(email_status=Status.FAILED, email_error=describe(error))
        return "failed"
    StaffInvitation.objects.filter(pk=invitation_id).update(email_status=Status.SENT, email_sent_at=timezone.now())
    return "sent"
