"""What the retention job purges besides declarations: old audit events, e-mail addresses in the
outbox, expired signing requests, carers whose children all left long ago, and finished
background task rows. evidence/retention.py runs them, school by school, and records what each
purged in one audit event per school.

Each takes the school and the day of the run and returns how many it purged, or with
dry_run=True how many it would, changing nothing. Running one again purges nothing more. Every
cut-off is a midnight (UK time): run_scheduled runs every few minutes, and so each school's
purges happen, and are recorded, once a day rather than a few rows at a time. The periods are
settings (portal/settings.py, "Retention"), except the carers' one, which is each school's own
`declaration_retention_years`, the rule declarations follow.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from declarations.models import Declaration, Decline, SigningRequest
from declarations.selectors import signing_target
from schools.audit import audit_purge
from schools.models import AuditEvent, Carer, Organisation, PupilCarer
from schools.services import carer_personal_data_erase
from sending.models import OutboxMessage

# Audit events kept whatever their age: the record of a declaration deleted under retention
# names no one and is how /verify/ can still say what became of its PDF.
AUDIT_KEPT = (AuditEvent.Action.RETENTION_DELETE,)
# Outbox rows whose sending is over: their address is needed no more (a retry refreshes it).
FINISHED = [OutboxMessage.Status.SENT, OutboxMessage.Status.FAILED, OutboxMessage.Status.SKIPPED]


@dataclass(frozen=True)
class Periods:
    """How long each kind of data is kept (portal/settings.py)."""

    audit_log_years: int
    email_address_days: int
    expired_link_days: int
    task_result_days: int

    @classmethod
    def from_settings(cls) -> Periods:
        return cls(
            audit_log_years=settings.PORTAL_AUDIT_LOG_KEEP_YEARS,
            email_address_days=settings.PORTAL_EMAIL_ADDRESS_KEEP_DAYS,
            expired_link_days=settings.PORTAL_EXPIRED_LINK_KEEP_DAYS,
            task_result_days=settings.PORTAL_TASK_RESULT_KEEP_DAYS,
        )


def add_years(day: datetime.date, years: int) -> datetime.date:
    """`day` `years` later (earlier, if negative); 29 February → 28th."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def local_midnight(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


# The audit log.


def audit_events_purge(school: Organisation, *, today: datetime.date, periods: Periods, dry_run: bool = False) -> int:
    """Delete the school's audit events older than the log's period (PORTAL_AUDIT_LOG_KEEP_YEARS),
    through the one deletion the database allows (schools.audit.audit_purge)."""
    older_than = local_midnight(add_years(today, -periods.audit_log_years))
    if dry_run:
        return AuditEvent.objects.filter(school=school, at__lt=older_than).exclude(action__in=AUDIT_KEPT).count()
    return audit_purge(school=school, older_than=older_than, keep=AUDIT_KEPT)


# The outbox.


def email_addresses_forget(school: Organisation, *, today: datetime.date, periods: Periods, dry_run: bool = False) -> int:
    """Blank the address, and any error text (which may quote it), of the school's e-mails that
    were sent, failed or were not needed longer ago than PORTAL_EMAIL_ADDRESS_KEEP_DAYS. The row
    is kept: it says what was sent to whom (the carer's record) and when."""
    cutoff = local_midnight(today - datetime.timedelta(days=periods.email_address_days))
    rows = (
        OutboxMessage.objects.filter(school=school, status__in=FINISHED)
        .filter(Q(sent_at__lt=cutoff) | Q(sent_at__isnull=True, created_at__lt=cutoff))
        .exclude(to_address="", error="")
    )
    return rows.count() if dry_run else rows.update(to_address="", error="")


# Signing requests.


def expired_links_delete(school: Organisation, *, today: datetime.date, periods: Periods, dry_run: bool = False) -> int:
    """Delete the school's signing requests whose link expired longer ago than
    PORTAL_EXPIRED_LINK_KEEP_DAYS, except:

    - one a declaration or a decline points at (the evidence trail of what was signed; the
      foreign keys PROTECT them too, so a deletion that tried would fail, not lose evidence);
    - a carer's request for what the school asks them to sign now, while they are asked to
      sign: where they stand ("link expired") is read from it, and staff re-issue it.
    """
    cutoff = local_midnight(today - datetime.timedelta(days=periods.expired_link_days))
    requests = (
        SigningRequest.objects.filter(school=school, expires_at__lt=cutoff)
        .exclude(Exists(Declaration.objects.filter(request=OuterRef("pk"))))
        .exclude(Exists(Decline.objects.filter(request=OuterRef("pk"))))
    )
    target = signing_target(school, today)
    if target is not None:
        requests = requests.exclude(Q(**target.counts()) & Q(carer__in=Carer.objects.asked_to_sign()))
    if dry_run:
        return requests.count()
    deleted = requests.delete()[1]
    return deleted.get(SigningRequest._meta.label, 0)


# Carers.


def _carers_past_retention(school: Organisation, today: datetime.date):
    """Carers of the school, not erased, whose children (every pupil linked to them) all left
    more than the school's retention period ago, counted as declarations are
    (evidence/retention.py): from the leaving date, or the record's last change without one."""
    cutoff = add_years(today, -school.declaration_retention_years)
    still_counting = PupilCarer.objects.filter(carer=OuterRef("pk")).filter(
        Q(pupil__on_roll=True)
        | Q(pupil__left_on__gt=cutoff)
        | Q(pupil__left_on__isnull=True, pupil__updated__gte=local_midnight(cutoff + datetime.timedelta(days=1)))
    )
    return (
        Carer.objects.filter(school=school, erased_at__isnull=True)
        .filter(Exists(PupilCarer.objects.filter(carer=OuterRef("pk"))))
        .exclude(Exists(still_counting))
    )


@dataclass
class CarerCounts:
    erased: int = 0
    declines_deleted: int = 0
    records_deleted: int = 0


def carers_purge(school: Organisation, *, today: datetime.date, dry_run: bool = False) -> CarerCounts:
    """Carers whose children all left longer ago than the school's retention period: their
    personal data erased as a headteacher's erasure does (schools.services.carer_erase: names
    and address replaced by placeholders, links to pupils removed, links stopped), and their
    declines (with any message) deleted. Their declarations are evidence and follow their own
    rule (evidence/retention.py), which, counted from the same leaving dates, has deleted them
    already unless a child named cannot be found.

    Then every erased carer's record that nothing points at any more (no link, declaration,
    decline or audit event: those go by their own rules) is deleted, with the outbox rows and
    signing requests that were only about them. A record still pointed at stays, holding
    placeholders only, until a later run finds it free.
    """
    counts = CarerCounts()
    ids = list(_carers_past_retention(school, today).values_list("pk", flat=True))
    if dry_run:
        counts.erased = len(ids)
        counts.declines_deleted = Decline.objects.filter(carer_id__in=ids).count()
        counts.records_deleted = _unreferenced_erased_carers(school).count()
        return counts
    with transaction.atomic():
        # Again under the lock: an import may have linked one to a new pupil meanwhile.
        carers = _carers_past_retention(school, today).filter(pk__in=ids).select_for_update()
        for carer in carers.order_by("pk"):
            counts.declines_deleted += Decline.objects.filter(carer=carer).delete()[0]
            carer_personal_data_erase(carer)
            counts.erased += 1
        for carer in _unreferenced_erased_carers(school).select_for_update().order_by("pk"):
            OutboxMessage.objects.filter(carer=carer).delete()
            SigningRequest.objects.filter(carer=carer).delete()
            carer.delete()  # and its scheduled reminders (CASCADE)
            counts.records_deleted += 1
    return counts


def _unreferenced_erased_carers(school: Organisation):
    return (
        Carer.objects.filter(school=school, erased_at__isnull=False)
        .exclude(Exists(PupilCarer.objects.filter(carer=OuterRef("pk"))))
        .exclude(Exists(Declaration.objects.filter(carer=OuterRef("pk"))))
        .exclude(Exists(Decline.objects.filter(carer=OuterRef("pk"))))
        .exclude(Exists(AuditEvent.objects.filter(carer=OuterRef("pk"))))
    )


# Background tasks (no school: counted in the run's summary, not in a school's audit log).


def task_results_delete(*, today: datetime.date, periods: Periods, dry_run: bool = False) -> int:
    """Delete the rows of background tasks (django-tasks-db) that finished, succeeding or
    failing, longer ago than PORTAL_TASK_RESULT_KEEP_DAYS. Tasks waiting or running stay."""
    cutoff = local_midnight(today - datetime.timedelta(days=periods.task_result_days))
    rows = DBTaskResult.objects.finished().filter(finished_at__lt=cutoff)
    return rows.count() if dry_run else rows.delete()[0]
