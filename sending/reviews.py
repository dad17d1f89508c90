"""E-mails to headteachers and association admins when their code's review is near or past
(rule 7 of the product), taken by the scheduler once per code, review date and kind."""

import datetime
import logging
import textwrap

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from codes.models import Code, CodeVersion, ReviewReminder
from codes.services import code_review_due
from schools.models import StaffRole
from sending.emails import possessive

logger = logging.getLogger(__name__)

REVIEW_NOTICE_DAYS = 30  # headteachers are e-mailed this many days before a review is due


def review_reminder_kind(review_due: datetime.date, today: datetime.date) -> str | None:
    """Which review e-mail is due today, if any: 30 days before the date, then once it has passed."""
    if today > review_due:
        return ReviewReminder.Kind.PASSED
    if today >= review_due - datetime.timedelta(days=REVIEW_NOTICE_DAYS):
        return ReviewReminder.Kind.DUE_SOON
    return None


def review_recipients(code: Code) -> list[str]:
    """Who hears about a code's review: its school's headteachers, or its association's admins."""
    role = StaffRole.Role.HEADTEACHER if code.owner.is_school else StaffRole.Role.ASSOCIATION_ADMIN
    return sorted(
        set(
            StaffRole.objects.filter(organisation_id=code.owner_id, role=role, user__is_active=True)
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        )
    )


def review_reminders_send(now: datetime.datetime | None = None) -> dict:
    """E-mail the headteachers of every code whose review is due within 30 days, or has passed:
    once each per code, review date and kind, however often this runs.

    The ReviewReminder row is committed before the e-mail goes: a second run finds it and sends
    nothing. If the mail server refuses, the row is removed so the next run tries again; if the
    process dies in between, the e-mail is not sent again by itself (never twice: an operator who
    sees it unsent in Django admin deletes the row and the next run sends it). Recording a
    review or publishing a version moves the review date, which stops them.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    counts = {"sent": 0, "nobody": 0, "failed": 0}
    codes = Code.objects.filter(versions__status=CodeVersion.Status.PUBLISHED).distinct().select_related("owner")
    for code in codes.order_by("pk"):
        review_due = code_review_due(code, today)
        kind = review_reminder_kind(review_due, today) if review_due else None
        if kind is None:
            continue
        try:
            with transaction.atomic():
                reminder = ReviewReminder.objects.create(code=code, review_due=review_due, kind=kind)
        except IntegrityError:
            continue  # already sent (or being sent) for this date
        recipients = review_recipients(code)
        if not recipients:
            ReviewReminder.objects.filter(pk=reminder.pk).update(
                outcome="Nobody to e-mail: no headteacher (or association admin) with an e-mail address."
            )
            counts["nobody"] += 1
            continue
        try:
            _review_email(code, review_due, kind, recipients, today).send()
        except Exception:
            logger.exception("Could not e-mail the review reminder for code %s", code.pk)
            ReviewReminder.objects.filter(pk=reminder.pk).delete()  # the next run tries again
            counts["failed"] += 1
            continue
        ReviewReminder.objects.filter(pk=reminder.pk).update(
            sent_at=timezone.now(), recipients=len(recipients), outcome="Sent."
        )
        counts["sent"] += 1
    return counts


def _wrapped(text: str, width: int = 70) -> str:
    """Plain text wrapped so it travels as it reads (not quoted-printable); links left whole."""
    lines = []
    for line in text.splitlines():
        if len(line) <= width or "://" in line:
            lines.append(line)
        else:
            lines.append(textwrap.fill(line, width, subsequent_indent="  " if line.startswith("- ") else "",
                                       break_long_words=False, break_on_hyphens=False))
    return "\n".join(lines) + "\n"


def _review_email(code: Code, review_due: datetime.date, kind: str, recipients: list[str], today) -> EmailMessage:
    passed = kind == ReviewReminder.Kind.PASSED
    context = {
        "code": code,
        "organisation": code.owner,
        "whose": possessive(code.owner.name),
        "review_due": review_due,
        "passed": passed,
        "days_left": (review_due - today).days,
        "code_page": settings.PORTAL_BASE_URL + reverse("staff:code", args=[code.pk]),
    }
    subject = (
        f"Review overdue: {possessive(code.owner.name)} social media code of conduct"
        if passed
        else f"Review due on {review_due:%-d %B %Y}: {possessive(code.owner.name)} social media code of conduct"
    )
    return EmailMessage(
        subject=subject,
        body=_wrapped(render_to_string("emails/review_due.txt", context)),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        headers={"Auto-Submitted": "auto-generated"},
    )
