"""Bounces and complaints reported by the e-mail service (django-anymail's tracking webhooks).

An e-mail service configured through django-anymail (README, Production) posts what happened to
each e-mail after it went to anymail's own webhook views (sending/webhook_urls.py), which check
the post is the service's (basic auth with ANYMAIL_WEBHOOK_SECRET, and the service's signature
where it signs). Anymail sends its `tracking` signal for each event; sending/receivers.py hands
the ones that mean the address does not work (bounced, rejected by the service, or a complaint:
the carer marked it as spam) to `delivery_problem_record`, which marks the outbox row and the
carer. While the address that bounced is still the carer's, the carer stands as "e-mail bounced:
needs another way" (declarations.selectors.with_standing), gets no more invitations or
reminders, and is listed for a paper form or a personal link; a new address clears it.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from schools.models import Carer
from sending.models import OutboxMessage
from sending.signals import email_bounced

logger = logging.getLogger(__name__)

Problem = OutboxMessage.Problem
# Anymail's normalised event types that mean the address does not reach the carer.
PROBLEMS = {
    "bounced": Problem.BOUNCED,
    "rejected": Problem.REJECTED,
    "complained": Problem.COMPLAINED,
}


@transaction.atomic
def delivery_problem_record(
    *, event_type: str, message_id: str | None, recipient: str | None
) -> int:
    """Record that the e-mail service could not deliver an e-mail (or the carer complained).

    The e-mail is found by the service's message id (stored when it went); failing that, the
    carers whose address it was. Returns how many carers were marked; any other event, or one
    about an address no carer has any longer, changes nothing."""
    problem = PROBLEMS.get(event_type)
    if problem is None:
        return 0
    now = timezone.now()
    carers = Carer.objects.none()
    newly_marked = []
    if message_id:
        messages = OutboxMessage.objects.filter(provider_message_id=message_id)
        newly_marked = list(messages.filter(problem="").select_related("school"))
        messages.filter(problem="").update(problem=problem, problem_at=now)
        if recipient:
            messages = messages.filter(to_address__iexact=recipient)
        carers = Carer.objects.filter(pk__in=messages.values("carer_id"))
    if not carers.exists() and recipient:
        carers = Carer.objects.filter(email__iexact=recipient)
    if recipient:
        carers = carers.filter(email__iexact=recipient)  # still their address
    marked = 0
    for carer in carers.exclude(email="").select_for_update():
        Carer.objects.filter(pk=carer.pk).update(email_bounced=carer.email, email_bounced_at=now)
        marked += 1
    if marked:
        logger.info("E-mail service reported %s for %s carer(s)", problem, marked)
    for message in newly_marked:  # once per e-mail, however often the service reports it
        email_bounced.send(sender=OutboxMessage, message=message, reason=problem)
    return marked
