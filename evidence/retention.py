"""Retention: declarations are kept while they can matter, then deleted, and the deletion recorded.

The rule (each school sets N, Organisation.declaration_retention_years, 6 by default): a
declaration is kept until N years after the last of the children named in it left the school
(Pupil.left_on). It is never deleted while any child named in it, or any other child of the
carer, is on roll. A child who left without a leaving date counts from when their record last
changed; a declaration whose children cannot be found at all is kept.

    retention_run()                 # what `manage.py run_scheduled` calls, daily
    retention_run(dry_run=True)     # what would go, changing nothing

Each deletion is one audit event (AuditEvent.Action.RETENTION_DELETE) saying what was destroyed:
the declaration's number, version, date signed, how, and its PDF's SHA-256 (so the verification
page can still say "issued here, deleted under retention"), never a name. The PDF and any paper
scan are deleted from storage once the deletion has committed. Running it again deletes nothing
more: it is idempotent. Finished ZIP exports are deleted after 7 days, their row kept.

The same run purges what else has outlived its use (evidence/purges.py): audit events past the
log's period, e-mail addresses in old outbox rows, signing requests whose link expired long ago,
carers whose children all left longer ago than the school's period, and finished background
task rows. What it did at each school is recorded in one audit event per school and run
(AuditEvent.Action.RETENTION_RUN: counts, never names), in the same transaction as the school's
deletions.
"""

from __future__ import annotations

import datetime
import logging
from collections import Counter
from dataclasses import dataclass, field

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from declarations.models import Declaration
from evidence import purges
from evidence.models import DeclarationPdf, Export
from evidence.purges import Periods, add_years
from evidence.zip_exports import EXPORT_KEEP_DAYS
from schools.audit import audit_record
from schools.models import AuditEvent, Organisation, Pupil, PupilCarer

logger = logging.getLogger(__name__)


@dataclass
class RetentionSummary:
    today: datetime.date
    dry_run: bool = False
    deleted: int = 0
    pdfs_deleted: int = 0
    scans_deleted: int = 0
    exports_expired: int = 0
    by_school: dict[str, int] = field(default_factory=dict)
    declaration_ids: list[int] = field(default_factory=list)
    # The other purges (evidence/purges.py), by what was purged: in total, and by school.
    purged: Counter = field(default_factory=Counter)
    purged_by_school: dict[str, Counter] = field(default_factory=dict)
    task_results_deleted: int = 0

    def __str__(self) -> str:
        verb = "Would delete" if self.dry_run else "Deleted"
        schools = ", ".join(f"{slug}: {n}" for slug, n in sorted(self.by_school.items()))
        others = "; ".join(f"{self.purged[label]} {label}" for label in PURGED if self.purged[label])
        return (
            f"{verb} {self.deleted} declaration{'s' if self.deleted != 1 else ''} past their retention period"
            f"{f' ({schools})' if schools else ''}, with {self.pdfs_deleted} PDF(s) and {self.scans_deleted} "
            f"paper scan(s); {self.exports_expired} old export file(s); {self.task_results_deleted} finished "
            f"task row(s)." + (f" {'Also, if run' if self.dry_run else 'Also'}: {others}." if others else "")
        )


# What each school's run counts, in the order it is said.
AUDIT_EVENTS, ADDRESSES, LINKS = "audit events deleted", "e-mail addresses removed", "expired links deleted"
CARERS, DECLINES, CARER_RECORDS = "carers erased", "declines deleted", "carer records deleted"
PURGED = [AUDIT_EVENTS, ADDRESSES, LINKS, CARERS, DECLINES, CARER_RECORDS]


def _left_on(pupil: Pupil) -> datetime.date:
    return pupil.left_on or timezone.localdate(pupil.updated)


def expiry_date(declaration: Declaration, pupils: dict[int, Pupil], years: int) -> datetime.date | None:
    """When this declaration may be deleted, or None while it must be kept (a child named is on
    roll, or none of them can be found)."""
    named = [pupils.get(child.get("id")) for child in declaration.children_named or []]
    named = [pupil for pupil in named if pupil is not None]
    if not named or any(pupil.on_roll for pupil in named):
        return None
    return add_years(max(_left_on(pupil) for pupil in named), years)


def expired_declarations(school: Organisation, *, today: datetime.date) -> list[Declaration]:
    """The school's declarations whose retention period has ended by `today`."""
    candidates = list(
        Declaration.objects.filter(school=school)
        .exclude(Exists(PupilCarer.objects.filter(carer=OuterRef("carer"), pupil__on_roll=True)))
        .select_related("version")
        .order_by("pk")
    )
    ids = {child.get("id") for d in candidates for child in (d.children_named or []) if child.get("id")}
    pupils = {pupil.pk: pupil for pupil in Pupil.objects.filter(pk__in=ids, school=school)}
    years = school.declaration_retention_years
    return [d for d in candidates if (expires := expiry_date(d, pupils, years)) is not None and expires <= today]


def retention_run(
    *, now: datetime.datetime | None = None, dry_run: bool = False, periods: Periods | None = None
) -> RetentionSummary:
    """Delete every school's expired declarations with their PDFs and scans, recording each in
    the school's audit log, and purge what else is past its period (evidence/purges.py); delete
    finished exports older than 7 days. Idempotent.

    One transaction per school: a school's deletions and purges, and their audit events, are
    committed together or not at all; the files go once it has committed. Then, for no school
    in particular, finished background task rows.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    periods = periods or Periods.from_settings()
    summary = RetentionSummary(today=today, dry_run=dry_run)
    for organisation in Organisation.objects.order_by("pk"):
        with transaction.atomic():
            _school_run(organisation, today=today, periods=periods, summary=summary)
    summary.exports_expired = _expire_exports(today=today, dry_run=dry_run)
    summary.task_results_deleted = purges.task_results_delete(today=today, periods=periods, dry_run=dry_run)
    if not dry_run and (summary.deleted or summary.exports_expired or summary.task_results_deleted or summary.purged):
        logger.info("%s", summary)
    return summary


def _school_run(school: Organisation, *, today: datetime.date, periods: Periods, summary: RetentionSummary) -> None:
    """One school's (or association's) part of the run, in the caller's transaction. The order
    matters: declarations go before the carers they point at, audit events and expired links
    before the carer records they would hold on to."""
    dry_run = summary.dry_run
    declarations = 0
    if school.is_school and (expired := expired_declarations(school, today=today)):
        declarations = len(expired)
        if dry_run:
            summary.deleted += declarations
            summary.declaration_ids += [d.pk for d in expired]
            summary.pdfs_deleted += DeclarationPdf.objects.filter(declaration__in=expired).count()
            summary.scans_deleted += sum(1 for d in expired if d.paper_scan)
        else:
            declarations = _delete(school, [d.pk for d in expired], today=today, summary=summary)
        if declarations:
            summary.by_school[school.slug] = declarations
    counts = Counter()
    if school.is_school:
        counts[LINKS] = purges.expired_links_delete(school, today=today, periods=periods, dry_run=dry_run)
        counts[ADDRESSES] = purges.email_addresses_forget(school, today=today, periods=periods, dry_run=dry_run)
    counts[AUDIT_EVENTS] = purges.audit_events_purge(school, today=today, periods=periods, dry_run=dry_run)
    if school.is_school:
        carers = purges.carers_purge(school, today=today, dry_run=dry_run)
        counts.update({CARERS: carers.erased, DECLINES: carers.declines_deleted, CARER_RECORDS: carers.records_deleted})
    counts = Counter({label: n for label, n in counts.items() if n})
    if counts:
        summary.purged.update(counts)
        summary.purged_by_school[school.slug] = counts
    if dry_run or not (counts or declarations):
        return
    audit_record(
        actor=None,
        school=school,
        action=AuditEvent.Action.RETENTION_RUN,
        target="Retention",
        detail={
            "counts": {"declarations deleted": declarations, **{label: counts[label] for label in PURGED}},
            "run_on": today.isoformat(),
            "periods": {
                "declarations and carers (years after the last child left)": school.declaration_retention_years,
                "audit log (years)": periods.audit_log_years,
                "e-mail addresses (days after sending)": periods.email_address_days,
                "expired links (days after expiry)": periods.expired_link_days,
            },
        },
    )


def _delete(school: Organisation, ids: list[int], *, today: datetime.date, summary: RetentionSummary) -> int:
    files: list[str] = []
    with transaction.atomic():
        # Locked first: a PDF being rendered for one of these at this moment finishes before.
        declarations = list(
            Declaration.objects.select_for_update().filter(pk__in=ids).select_related("version").order_by("pk")
        )
        pdfs = {record.declaration_id: record for record in DeclarationPdf.objects.filter(declaration_id__in=ids)}
        for declaration in declarations:
            record = pdfs.get(declaration.pk)
            audit_record(
                actor=None,
                school=school,
                action=AuditEvent.Action.RETENTION_DELETE,
                target=f"Declaration #{declaration.pk}",
                detail={
                    "declaration": declaration.pk,
                    "version": declaration.version.number,
                    "signed_on": timezone.localdate(declaration.signed_at).isoformat(),
                    "method": declaration.method,
                    "pdf_sha256": record.sha256 if record else "",
                    "retention_years": school.declaration_retention_years,
                    "run_on": today.isoformat(),
                },
            )
            if record is not None:
                files.append(record.file.name)
                record.delete()
                summary.pdfs_deleted += 1
            if declaration.paper_scan:
                files.append(declaration.paper_scan.name)
                summary.scans_deleted += 1
            summary.declaration_ids.append(declaration.pk)
            declaration.delete()
            summary.deleted += 1
        transaction.on_commit(lambda: _delete_files(files))
    return len(declarations)


def _delete_files(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:  # already gone, or storage refused: the record is gone either way
            logger.warning("Retention: could not delete %s from storage", name)


def _expire_exports(*, today: datetime.date, dry_run: bool) -> int:
    cutoff = timezone.make_aware(datetime.datetime.combine(today - datetime.timedelta(days=EXPORT_KEEP_DAYS), datetime.time(0)))
    old = Export.objects.filter(status=Export.Status.DONE, finished_at__lt=cutoff).exclude(file="")
    if dry_run:
        return old.count()
    count = 0
    for export in old:
        name = export.file.name
        if Export.objects.filter(pk=export.pk, status=Export.Status.DONE).update(status=Export.Status.EXPIRED, file=""):
            _delete_files([name])
            count += 1
    return count


def retention_step(now: datetime.datetime) -> dict:
    """retention_run as a step of `manage.py run_scheduled` (sending/scheduler.py): counts."""
    summary = retention_run(now=now)
    return {
        "declarations deleted": summary.deleted,
        "PDFs deleted": summary.pdfs_deleted,
        "paper scans deleted": summary.scans_deleted,
        "old exports deleted": summary.exports_expired,
        **{label: summary.purged[label] for label in PURGED},
        "finished task rows deleted": summary.task_results_deleted,
    }
