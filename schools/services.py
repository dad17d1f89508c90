"""Writes to a school's families data that staff make from the web (and the import command).

Each service checks who may act (schools.permissions), runs in one transaction and records
itself in the audit log (schools/audit.py) in that same transaction: the change and its audit
event are stored together or not at all.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from schools import permissions, selectors
from schools.audit import audit_record
from schools.imports import (
    ImportPlan,
    ImportRejected,
    ImportResult,
    import_apply,
    import_preview,
    staging,
)
from schools.imports.staging import StagedUpload
from schools.models import AuditEvent, Carer, Organisation, PupilCarer, StaffRole
from schools.signals import families_imported

ERASED_FORENAME = "Erased"


def _check_may_import(user, school: Organisation) -> None:
    if user is not None and not permissions.can_manage_families(user, school):
        raise PermissionDenied("You can only import families for your own school.")


def families_import(
    *,
    school: Organisation,
    filename: str,
    data: bytes,
    user=None,
    expected_sha256: str | None = None,
    expected_changes_sha256: str | None = None,
    source: str = "web",
    request=None,
) -> ImportResult:
    """Import a school's MIS export (schools/imports: import_apply) and audit it.

    Guarantees what import_apply guarantees (all of the plan or nothing; ImportRejected if the
    file or the changes are not those previewed), plus: PermissionDenied unless the user may
    manage the school's families; a successful import is recorded in the audit log (file name,
    SHA-256, rows, counts, source) in the same transaction, here and nowhere else. `user` None
    is the system (the command line). Once it has committed, if the school invites new
    families automatically and the import added pupils, carers or links, the carers of pupils
    who joined since the school's invitations went out are invited in the background
    (sending/scheduler.py).
    """
    _check_may_import(user, school)
    with transaction.atomic():
        result = import_apply(
            school=school,
            filename=filename,
            data=data,
            expected_sha256=expected_sha256,
            expected_changes_sha256=expected_changes_sha256,
        )
        plan = result.plan
        audit_record(
            actor=user,
            school=school,
            action=AuditEvent.Action.IMPORT,
            target=f"File {plan.file_sha256[:12]}",
            detail={
                "source": source,
                "filename": filename,
                "sha256": plan.file_sha256,
                "rows": plan.rows,
                "counts": plan.counts,
            },
            request=request,
        )
        families_imported.send(sender=Organisation, school=school, plan=plan)
    return result


# The web import waits between its steps: upload → preview → confirm (or cancel). The upload is
# kept by schools/imports/staging.py; these services stage, preview, import and discard it.


def families_import_stage(*, school: Organisation, user, upload, replacing: StagedUpload | None = None) -> StagedUpload:
    """Keep an uploaded export until it is previewed and confirmed.

    Guarantees: PermissionDenied unless the user may manage the school's families; the upload
    this user had waiting for the school (`replacing`) is deleted, and so is every upload older
    than a day. The new one is kept under a random name; nothing is read or imported yet.
    """
    _check_may_import(user, school)
    _discard_own(replacing, school=school, user=user)
    staging.delete_stale()
    return staging.stage(school=school, user=user, upload=upload)


@dataclass(frozen=True)
class StagedPreview:
    plan: ImportPlan | None  # None: no upload was waiting (confirmed, cancelled, or gone)
    staged: StagedUpload | None  # still waiting, to be confirmed; None once deleted


def families_import_preview(*, school: Organisation, user, staged: StagedUpload | None) -> StagedPreview:
    """What importing the waiting upload would change (schools/imports: import_preview).

    Guarantees: writes nothing to the school's families. An upload that the preview finds
    cannot be imported is deleted at once; one that can waits on, marked with its SHA-256 so
    that confirming imports exactly the file previewed. An upload that is not this user's for
    this school, is over a day old, or has gone, is no upload: plan None.
    """
    _check_may_import(user, school)
    data = staging.read(staged) if staged and staging.is_waiting(staged, school=school, user=user) else None
    if data is None:
        _discard_own(staged, school=school, user=user)
        return StagedPreview(plan=None, staged=None)
    plan = import_preview(school=school, filename=staged.filename, data=data)
    if not plan.is_valid:
        staging.discard(staged)  # nothing can be imported from it, so it is not kept
        return StagedPreview(plan=plan, staged=None)
    return StagedPreview(plan=plan, staged=staged.previewed(plan.file_sha256))


def families_import_confirm(
    *, school: Organisation, user, staged: StagedUpload | None, changes_sha256: str, request=None
) -> ImportResult:
    """Import the waiting upload as previewed (families_import, audited as from the web).

    Guarantees: what families_import guarantees; ImportRejected with reason NOT_WAITING if no
    previewed upload of this user's for this school is waiting (it was confirmed or cancelled
    already). The upload is deleted once imported, and when it is refused for any reason but
    FAMILIES_CHANGED (the user is shown a new preview of the same upload).
    """
    _check_may_import(user, school)
    waiting = staged and staged.sha256 and staging.is_waiting(staged, school=school, user=user)
    data = staging.read(staged) if waiting else None
    if data is None:
        _discard_own(staged, school=school, user=user)
        raise ImportRejected(
            "This import has already been confirmed or cancelled, so nothing more was imported.",
            reason=ImportRejected.Reason.NOT_WAITING,
        )
    try:
        result = families_import(
            school=school, filename=staged.filename, data=data, user=user, expected_sha256=staged.sha256,
            expected_changes_sha256=changes_sha256, source="web", request=request,
        )
    except ImportRejected as rejected:
        if rejected.reason != ImportRejected.Reason.FAMILIES_CHANGED:
            staging.discard(staged)
        raise
    staging.discard(staged)
    return result


def families_import_cancel(*, school: Organisation, user, staged: StagedUpload | None) -> None:
    """Delete the user's upload waiting for the school, if any. Nothing is imported."""
    _check_may_import(user, school)
    _discard_own(staged, school=school, user=user)


def _discard_own(staged: StagedUpload | None, *, school: Organisation, user) -> None:
    if staged is not None and staged.user_id == user.pk and staged.school_id == school.pk:
        staging.discard(staged)


def carer_eligibility(carer: Carer) -> str:
    """'erased', 'eligible', 'paper' (needs a paper form) or 'not eligible', by the selectors' rules."""
    return carer_eligibilities(carer.school_id, [carer.pk])[carer.pk]


def carer_eligibilities(school_id: int, carer_ids) -> dict[int, str]:
    """carer_eligibility for many carers of one school in three queries, whatever their number."""
    carer_ids = list(carer_ids)
    erased = set(Carer.objects.filter(pk__in=carer_ids, erased_at__isnull=False).values_list("pk", flat=True))
    eligible = set(selectors.eligible_carers(school_id).filter(pk__in=carer_ids).values_list("pk", flat=True))
    paper = set(selectors.carers_needing_paper_forms(school_id).filter(pk__in=carer_ids).values_list("pk", flat=True))
    return {
        pk: "erased" if pk in erased else "eligible" if pk in eligible else "paper" if pk in paper else "not eligible"
        for pk in carer_ids
    }


def _person(user) -> str:
    if user is None:
        return "The portal (an automatic process)"
    return user.get_full_name() or user.get_username()


def carer_subject_access_export(*, carer: Carer, user, request=None, detail: dict | None = None) -> dict:
    """Everything the portal holds about one carer, for a subject access request: the data of
    the ZIP that evidence.subject_access.carer_subject_access_zip hands out (with the PDFs).

    Guarantees: the carer's own fields, their children as linked (with relationship, parental
    responsibility and priority), whether they are asked to sign, and every audit event about
    them (what the apps built on this one hold, such as declarations and e-mails, they add);
    staff IP addresses and browsers are the staff's data and are left out. The
    export is itself recorded in the audit log (with `detail`), in the same transaction.
    """
    if not permissions.can_manage_families(user, carer.school):
        raise PermissionDenied("You can only export carers of your own school.")
    with transaction.atomic():
        links = (
            PupilCarer.objects.filter(carer=carer).select_related("pupil").order_by("pupil__surname", "pupil__forename")
        )
        events = carer.audit_events.select_related("actor").order_by("at", "pk")
        export = {
            "exported_at": timezone.now().isoformat(),
            "exported_by": _person(user),
            "school": {"name": carer.school.name, "slug": carer.school.slug},
            "carer": {
                "id": carer.pk,
                "mis_id": carer.mis_id,
                "title": carer.title,
                "forename": carer.forename,
                "surname": carer.surname,
                "email": carer.email,
                "home_language": carer.language,
                "added": carer.created.isoformat(),
                "last_updated": carer.updated.isoformat(),
                "erased_at": carer.erased_at.isoformat() if carer.erased_at else None,
                "asked_to_sign": carer_eligibility(carer),
            },
            "children": [
                {
                    "mis_id": link.pupil.mis_id,
                    "forename": link.pupil.forename,
                    "surname": link.pupil.surname,
                    "year_group": link.pupil.get_year_group_display(),
                    "registration_group": link.pupil.reg_group,
                    "on_roll": link.pupil.on_roll,
                    "left_on": link.pupil.left_on.isoformat() if link.pupil.left_on else None,
                    "relationship": link.relationship,
                    "parental_responsibility": link.parental_responsibility,
                    "priority": link.priority,
                }
                for link in links
            ],
            "audit_events": [
                {
                    "at": event.at.isoformat(),
                    "action": event.get_action_display(),
                    "by": _person(event.actor),
                    "detail": event.detail,
                }
                for event in events
            ],
        }
        audit_record(
            actor=user,
            school=carer.school,
            action=AuditEvent.Action.EXPORT_CARER_DATA,
            carer=carer,
            detail=detail,
            request=request,
        )
    return export


def carer_erase(*, carer: Carer, user, reason: str, request=None) -> Carer:
    """Erase a carer's personal data, keeping what the school must keep; record who, why, when.

    Guarantees, in one transaction with its audit event (which holds the reason):
    - the carer's title, names, e-mail address and MIS identifier are replaced by placeholders
      ("Erased", "carer #<id>", no e-mail, "erased-<id>") and `erased_at` is set, so they are
      never asked to sign again (schools/selectors.py);
    - their links to pupils are removed (a later import that still lists them creates a new
      carer: the school must remove them from its MIS too);
    - the e-mail outbox forgets their address (and any error text, which may quote it), e-mails
      not yet sent are not sent, and their signing links stop working;
    - the Carer row itself is kept, never deleted. Evidence the school must keep points at that
      row with on_delete=PROTECT and keeps its own copy of what was signed, as it was signed:
      declarations (declarations/models.py, Declaration.carer_name, children_named) are such
      evidence and this service must never change or delete them. The audit log is kept too;
      it names no one (schools/audit.py).
    Refuses (ValidationError) an empty reason or a carer already erased; PermissionDenied
    unless the user is the headteacher of the carer's school.
    """
    if not permissions.can_erase_carer(user, carer):
        raise PermissionDenied("Only the headteacher of the carer's school can erase their data.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Give the reason for erasing this carer's data."})
    with transaction.atomic():
        carer = Carer.objects.select_for_update().get(pk=carer.pk)
        if carer.erased_at is not None:
            raise ValidationError("This carer's personal data has already been erased.")
        links_removed = carer_personal_data_erase(carer)
        audit_record(
            actor=user,
            school=carer.school,
            action=AuditEvent.Action.ERASE_CARER,
            carer=carer,
            detail={"reason": reason, "links_removed": links_removed},
            request=request,
        )
    return carer


def carer_personal_data_erase(carer: Carer) -> int:
    """The erasure itself, as carer_erase describes it, with no check and no audit event: for
    carer_erase, and for the retention job (which records its own event per school). Call it
    in a transaction with the carer's row locked. Returns how many links to pupils it removed."""
    links_removed, _ = PupilCarer.objects.filter(carer=carer).delete()
    carer.outbox.filter(status__in=["pending", "sending"]).update(status="skipped")
    carer.outbox.update(to_address="", error="")
    carer.signing_requests.update(token_hash=None, expires_at=timezone.now())
    carer.title = ""
    carer.forename = ERASED_FORENAME
    carer.surname = f"carer #{carer.pk}"
    carer.email = ""
    carer.language = ""
    carer.mis_id = f"erased-{carer.pk}"
    carer.erased_at = timezone.now()
    carer.save(update_fields=["title", "forename", "surname", "email", "language", "mis_id", "erased_at", "updated"])
    return links_removed


def carer_erasure_refuse(*, carer: Carer, user, received_on, reason: str, request=None) -> AuditEvent:
    """Record that a request to erase the carer's data was refused, and why, in the audit log.

    Under UK GDPR a school may refuse erasure (for example where it must keep the data to perform
    a public task) and must then tell the person why, and that they may complain to the ICO; this
    keeps the school's record of that decision. Nothing about the carer changes. Refuses
    (ValidationError) an empty reason, a request received in the future, or a carer already
    erased; PermissionDenied unless the user is the headteacher of the carer's school (who may
    erase, and so decides not to).
    """
    if not permissions.can_erase_carer(user, carer):
        raise PermissionDenied("Only the headteacher of the carer's school can decide on an erasure request.")
    reason = (reason or "").strip()
    errors = {}
    if not reason:
        errors["reason"] = "Give the reason for refusing the request."
    if received_on is None:
        errors["received_on"] = "Enter the date the request was received."
    elif received_on > timezone.localdate():
        errors["received_on"] = "The date the request was received must be today or in the past."
    if errors:
        raise ValidationError(errors)
    if Carer.objects.filter(pk=carer.pk, erased_at__isnull=False).exists():
        raise ValidationError("This carer's personal data has already been erased.")
    return audit_record(
        actor=user,
        school=carer.school,
        action=AuditEvent.Action.REFUSE_ERASURE,
        carer=carer,
        detail={"received_on": received_on.isoformat(), "reason": reason},
        request=request,
    )


@dataclass(frozen=True)
class ErasureRefusal:
    received_on: datetime.date | None
    reason: str
    recorded_at: datetime.datetime
    recorded_by: str


def erasure_refusals(carer: Carer) -> list[ErasureRefusal]:
    """The refused erasure requests recorded for the carer, newest first (kept as long as the
    audit log keeps its events: evidence/retention.py)."""
    events = carer.audit_events.filter(action=AuditEvent.Action.REFUSE_ERASURE).select_related("actor")
    refusals = []
    for event in events.order_by("-at", "-pk"):
        try:
            received_on = datetime.date.fromisoformat(event.detail.get("received_on", ""))
        except (TypeError, ValueError):
            received_on = None
        refusals.append(ErasureRefusal(received_on, event.detail.get("reason", ""), event.at, _person(event.actor)))
    return refusals


# A member of staff's own e-mail preferences.

DIGEST_ROLES = (StaffRole.Role.HEADTEACHER, StaffRole.Role.ASSOCIATION_ADMIN)


def weekly_digest_roles(user):
    """The user's roles that get the weekly completion e-mail (sending/staff_notices.py)."""
    return StaffRole.objects.filter(user=user, role__in=DIGEST_ROLES).select_related("organisation").order_by(
        "organisation__name"
    )


@transaction.atomic
def weekly_digest_choose(*, user, wanted: set[int]) -> None:
    """Turn the weekly completion e-mail on for the user's roles in `wanted` (role ids), off for
    their others. Only the user's own roles change."""
    roles = weekly_digest_roles(user)
    roles.filter(pk__in=wanted).update(weekly_digest=True)
    roles.exclude(pk__in=wanted).update(weekly_digest=False)
