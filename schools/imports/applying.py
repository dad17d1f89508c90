"""The two steps of an import, preview and apply, and the writes that apply makes."""

from __future__ import annotations

import hashlib

from django.db import transaction
from django.utils import timezone

from schools.imports.plan import ImportPlan, ImportRejected, ImportResult
from schools.imports.planning import plan_changes
from schools.imports.validation import parse
from schools.models import Carer, Organisation, Pupil, PupilCarer

BATCH = 500


def _check_school(school: Organisation) -> None:
    if not school.is_school:
        raise ValueError(f"{school} is not a school; families belong to schools.")


def import_preview(*, school: Organisation, filename: str, data: bytes) -> ImportPlan:
    """What importing this file would do to the school's families. Writes nothing.

    Guarantees: a plan that is not valid lists every problem (a file-level error, or every bad
    row with its line number) and no changes; a valid plan lists every pupil and carer to be
    added or changed (field by field, old → new), every pupil to be marked as left, and every
    link to be added, changed or removed.
    """
    _check_school(school)
    return plan_changes(school, filename, hashlib.sha256(data).hexdigest(), parse(filename, data))


def import_apply(
    *,
    school: Organisation,
    filename: str,
    data: bytes,
    expected_sha256: str | None = None,
    expected_changes_sha256: str | None = None,
) -> ImportResult:
    """Import the file: all of the plan, or nothing.

    Guarantees: the file is re-read and re-checked against the school's families as they are
    now, under a lock on the school, in one transaction; ImportRejected (nothing written) if
    any row is bad, if the file's SHA-256 is not `expected_sha256` (it is not the file that was
    previewed), or if the changes would no longer be those previewed (`expected_changes_sha256`:
    someone imported in between). Pupils are never deleted; carers are never deleted. Who may
    import is for the caller to check (schools/services.py, families_import).
    """
    _check_school(school)
    sha256 = hashlib.sha256(data).hexdigest()
    if expected_sha256 is not None and sha256 != expected_sha256:
        raise ImportRejected(
            "This file is not the one you previewed: it has changed since. Upload it again to see a new preview.",
            reason=ImportRejected.Reason.FILE_CHANGED,
        )
    parsed = parse(filename, data)  # reading the file needs no lock
    with transaction.atomic():
        Organisation.objects.select_for_update().get(pk=school.pk)
        plan = plan_changes(school, filename, sha256, parsed)
        if not plan.is_valid:
            raise ImportRejected(plan.problems, plan=plan)
        if expected_changes_sha256 is not None and plan.changes_sha256 != expected_changes_sha256:
            if not plan.has_changes:
                raise ImportRejected(
                    "These changes have already been imported, so nothing more was changed.",
                    plan=plan, reason=ImportRejected.Reason.ALREADY_IMPORTED,
                )
            raise ImportRejected(
                "The school's pupils and contacts have changed since your preview (another import, perhaps), "
                "so this file would now make different changes. Preview it again.",
                plan=plan, reason=ImportRejected.Reason.FAMILIES_CHANGED,
            )
        _write(school, plan)
    return ImportResult(plan=plan, applied_at=timezone.now())


def _chunks(items: list, size: int = BATCH):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _write(school: Organisation, plan: ImportPlan) -> None:
    writes = plan._writes
    now, today = timezone.now(), timezone.localdate()
    Pupil.objects.bulk_create(
        (
            Pupil(school=school, mis_id=p.mis_id, forename=p.forename, surname=p.surname, year_group=p.year_group,
                  reg_group=p.reg_group)
            for p in plan.added_pupils
        ),
        batch_size=BATCH,
    )
    for pupil in writes.changed_pupils:
        pupil.updated = now  # bulk_update does not touch auto_now fields
    Pupil.objects.bulk_update(
        writes.changed_pupils,
        ["forename", "surname", "year_group", "reg_group", "on_roll", "left_on", "updated"],
        batch_size=BATCH,
    )
    for ids in _chunks(writes.left_pupil_ids):
        Pupil.objects.filter(pk__in=ids).update(on_roll=False, left_on=today, updated=now)

    Carer.objects.bulk_create(
        (
            Carer(
                school=school, mis_id=c.mis_id, title=c.title, forename=c.forename, surname=c.surname,
                email=c.email, mobile=c.mobile, language=c.language,
            )
            for c in plan.added_carers
        ),
        batch_size=BATCH,
    )
    for carer in writes.changed_carers:
        carer.updated = now
    Carer.objects.bulk_update(
        writes.changed_carers, ["mis_id", "title", "forename", "surname", "email", "mobile", "language", "updated"], batch_size=BATCH
    )

    for ids in _chunks(writes.removed_link_ids):
        PupilCarer.objects.filter(pk__in=ids).delete()
    PupilCarer.objects.bulk_update(
        writes.changed_links, ["relationship", "parental_responsibility", "priority"], batch_size=BATCH
    )
    if writes.new_links:
        pupil_pks = dict(Pupil.objects.filter(school=school).values_list("mis_id", "pk"))
        carer_pks = dict(Carer.objects.filter(school=school).values_list("mis_id", "pk"))
        PupilCarer.objects.bulk_create(
            [
                PupilCarer(
                    pupil_id=pupil_pks[record.pupil_id], carer_id=carer_pks[record.carer_key],
                    relationship=record.relationship, parental_responsibility=record.parental_responsibility,
                    priority=record.priority,
                )
                for record in writes.new_links
            ],
            batch_size=BATCH,
        )
