"""Staff are told, by the scheduler (sending/scheduler.py's steps):

- the office, when carers decline with a message: one e-mail listing them, at most one an hour
  per school (to the school's office staff, or the school's own address when it has none);
- headteachers and association admins, once a week (from Monday 08:00 UK time): how far their
  school, or each school of their association, has got. Each turns it off or on for themselves
  (StaffRole.weekly_digest, on their account's "Weekly completion e-mail" page).

Each e-mail is a StaffNotice row written before it goes (its unique constraint makes a second run
find it and send nothing); if the mail server refuses, the row is removed and the next run tries
again. Like the review reminders (sending/reviews.py), an e-mail in flight when the process dies
is not sent again by itself: never twice.
"""

from __future__ import annotations

import datetime
import logging
from collections import Counter

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from declarations.figures import standings_by_school
from declarations.models import Decline
from schools.models import Organisation, StaffRole
from sending.models import StaffNotice
from sending.reviews import _wrapped

logger = logging.getLogger(__name__)

Kind = StaffNotice.Kind
DECLINES_EVERY = datetime.timedelta(hours=1)
FIRST_LOOK_BACK = datetime.timedelta(days=1)  # a school's first declines e-mail covers the day before
RECENT = datetime.timedelta(days=8)  # declines older than this are not looked for again
WEEKLY_FROM = datetime.time(8, 0)  # Monday, UK time


def _send_once(kind, organisation, start, end, recipients, email) -> str:
    """Write the notice, send its e-mail, record how it went; "sent", "taken", "nobody" or "failed"."""
    try:
        with transaction.atomic():
            notice = StaffNotice.objects.create(
                kind=kind, organisation=organisation, period_start=start, period_end=end
            )
    except IntegrityError:
        return "taken"
    if not recipients:
        StaffNotice.objects.filter(pk=notice.pk).update(outcome="Nobody to e-mail.")
        return "nobody"
    try:
        email().send()
    except Exception:
        logger.exception("Could not send the %s e-mail to %s", kind, organisation.pk)
        StaffNotice.objects.filter(pk=notice.pk).delete()  # the next run tries again
        return "failed"
    StaffNotice.objects.filter(pk=notice.pk).update(sent_at=timezone.now(), recipients=len(recipients), outcome="Sent.")
    return "sent"


def _message(subject: str, template: str, context: dict, recipients: list[str]) -> EmailMessage:
    return EmailMessage(
        subject=subject,
        body=_wrapped(render_to_string(template, context)),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        headers={"Auto-Submitted": "auto-generated"},
    )


# The office: declines with a message.


def office_recipients(school: Organisation) -> list[str]:
    office = sorted(
        set(
            StaffRole.objects.filter(organisation=school, role=StaffRole.Role.OFFICE, user__is_active=True)
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        )
    )
    return office or ([school.email] if school.email else [])


def decline_notices_send(now: datetime.datetime | None = None) -> dict:
    """For every school with carers who declined with a message since its last such e-mail (sent
    at least an hour ago), e-mail the office the list. Returns counts."""
    now = now or timezone.now()
    counts = Counter()
    last = dict(
        StaffNotice.objects.filter(kind=Kind.DECLINES)
        .values_list("organisation_id")
        .annotate(end=Max("period_end"))
        .order_by()
    )
    waiting = (
        Decline.objects.exclude(message="")
        .filter(declined_at__lte=now, declined_at__gt=now - RECENT)
        .values_list("school_id", flat=True)
        .distinct()
    )
    for school in Organisation.objects.filter(pk__in=set(waiting)).order_by("pk"):
        since = last.get(school.pk) or now - FIRST_LOOK_BACK
        if now - since < DECLINES_EVERY:
            counts["waiting for the hour"] += 1
            continue
        declines = list(
            Decline.objects.filter(school=school, declined_at__gt=since, declined_at__lte=now)
            .exclude(message="")
            .select_related("carer", "version")
            .order_by("declined_at")
        )
        if not declines:
            continue
        recipients = office_recipients(school)
        context = {
            "school": school,
            "declines": declines,
            "status_page": settings.PORTAL_BASE_URL + reverse("declarations_staff:status", args=[school.slug]),
        }
        n = len(declines)
        subject = f"{n} parent{'s' if n != 1 else ''} declined to sign, with a message: {school.name}"
        counts[
            _send_once(
                Kind.DECLINES,
                school,
                since,
                now,
                recipients,
                lambda: _message(subject, "emails/staff_declines.txt", context, recipients),
            )
        ] += 1
    return dict(counts)


# Headteachers and association admins: the weekly completion e-mail.


def week_start(now: datetime.datetime) -> datetime.datetime:
    """This week's Monday 08:00, UK time."""
    today = timezone.localdate(now)
    monday = today - datetime.timedelta(days=today.weekday())
    return timezone.make_aware(datetime.datetime.combine(monday, WEEKLY_FROM))


def completion(schools) -> list[dict]:
    """Each school's figures for what it asks carers to sign now (the dashboards' counts)."""
    by_school = standings_by_school(schools)
    rows = []
    for school in schools:
        counted = by_school[school.pk]
        if counted.target is None:
            rows.append({"school": school, "version": None})
            continue
        figures = counted.figures
        rows.append(
            {
                "school": school,
                "version": counted.target.in_force,
                "figures": figures,
                "outstanding": [(standing.label, n) for standing, n in counted.outstanding_by_standing],
            }
        )
    return rows


def digest_recipients(organisation: Organisation) -> list[str]:
    role = StaffRole.Role.HEADTEACHER if organisation.is_school else StaffRole.Role.ASSOCIATION_ADMIN
    return sorted(
        set(
            StaffRole.objects.filter(organisation=organisation, role=role, weekly_digest=True, user__is_active=True)
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        )
    )


def weekly_digests_send(now: datetime.datetime | None = None) -> dict:
    """From Monday 08:00 UK time, once a week: each school's headteachers and each association's
    admins who have not turned it off get how far the school (or each member school) has got."""
    now = now or timezone.now()
    start = week_start(now)
    counts = Counter()
    if now < start:
        return {}
    organisations = Organisation.objects.exclude(
        pk__in=StaffNotice.objects.filter(kind=Kind.WEEKLY, period_start=start).values("organisation_id")
    ).order_by("pk")
    for organisation in organisations:
        recipients = digest_recipients(organisation)
        if not recipients:
            continue
        schools = [organisation] if organisation.is_school else list(organisation.members.order_by("name"))
        context = {
            "organisation": organisation,
            "rows": completion(schools),
            "week": start,
            "preferences": settings.PORTAL_BASE_URL + reverse("account:weekly_digest"),
        }
        subject = f"This week: how far parents have signed, {organisation.name}"
        counts[
            _send_once(
                Kind.WEEKLY,
                organisation,
                start,
                start + datetime.timedelta(days=7),
                recipients,
                lambda: _message(subject, "emails/staff_weekly.txt", context, recipients),
            )
        ] += 1
    return dict(counts)
