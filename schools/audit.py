"""The audit log of a school's families data: recording an event, and reading it back.

    audit_record(actor=request.user, school=school, action=AuditEvent.Action.VIEW_CARER,
                 carer=carer, request=request)

Every import, every view of a pupil's or carer's record, every subject access export and every
erasure is recorded, in the same transaction as what it records where there is one. Events are
never changed, and never deleted (the model and database triggers refuse) but by audit_purge,
which the retention job (evidence/retention.py) calls for events past the log's period.

Never put a name or an e-mail address into `target` or `detail`: the log outlives a carer's
erasure. Point at the record with `carer=` or `pupil=` instead; the log page shows the
record's current name, which after erasure is a placeholder.
"""

from __future__ import annotations

import datetime

from django.db import transaction

from portal.client_ip import client_ip
from schools.imports import ImportPlan
from schools.models import AuditEvent, AuditPurge, Carer, Organisation, Pupil

USER_AGENT_LENGTH = AuditEvent._meta.get_field("user_agent").max_length
# The order an import's counts are shown in (PostgreSQL's jsonb does not keep a dict's order).
IMPORT_COUNTS = list(ImportPlan(school_id=0, filename="", file_sha256="").counts)


def audit_record(
    *,
    actor,
    school: Organisation,
    action: str,
    target: str = "",
    detail: dict | None = None,
    request=None,
    carer: Carer | None = None,
    pupil: Pupil | None = None,
) -> AuditEvent:
    """Append one event to the school's audit log and return it.

    `actor` is the member of staff, or None when the system acted (an import from the command
    line). With a `request`, where it came from (IP address, user agent) is recorded too.
    """
    if actor is not None and not actor.is_authenticated:
        actor = None
    if not target:
        target = describe_target(carer=carer, pupil=pupil)
    return AuditEvent.objects.create(
        actor=actor,
        school=school,
        action=action,
        target=target,
        carer=carer,
        pupil=pupil,
        detail=detail or {},
        ip_address=client_ip(request) if request is not None else None,
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_LENGTH] if request is not None else "",
    )


def audit_purge(*, school: Organisation, older_than: datetime.datetime, keep: tuple[str, ...] = ()) -> int:
    """Delete the school's events recorded before `older_than`, except those whose action is in
    `keep`; returns how many. For the retention job only.

    The database lets these deletions through and no others: a permit (AuditPurge) for this
    school and cut-off is written first and removed before the transaction ends, so it is never
    visible outside it, and the triggers still refuse every other deletion and every change.
    """
    with transaction.atomic():
        permit = AuditPurge.objects.create(school=school, older_than=older_than)
        deleted, _ = (
            AuditEvent.objects.filter(school=school, at__lt=older_than).exclude(action__in=keep).delete()
        )
        permit.delete()
    return deleted


def describe_target(*, carer: Carer | None = None, pupil: Pupil | None = None) -> str:
    """A description without personal data: the record's kind and database number."""
    if carer is not None:
        return f"Carer #{carer.pk}"
    if pupil is not None:
        return f"Pupil #{pupil.pk}"
    return ""


def school_log(school: Organisation, *, action: str = ""):
    """The school's events, newest first, with who did them and what they were about."""
    events = AuditEvent.objects.filter(school=school).select_related("actor", "carer", "pupil")
    return events.filter(action=action) if action else events


def summary(event: AuditEvent) -> str:
    """The event's detail in a line of plain English, for the log page."""
    detail = event.detail or {}
    if event.action == AuditEvent.Action.IMPORT:
        counts = detail.get("counts", {})
        labels = sorted(counts, key=lambda label: IMPORT_COUNTS.index(label) if label in IMPORT_COUNTS else 99)
        changed = ", ".join(f"{counts[label]} {label}" for label in labels if counts[label]) or "no changes"
        source = f" ({detail['source']})" if detail.get("source") else ""
        return f"{detail.get('filename', 'a file')}, {detail.get('rows', 0)} rows: {changed}{source}"
    if event.action == AuditEvent.Action.ERASE_CARER:
        return f"Reason: {detail.get('reason', '')}"
    if event.action == AuditEvent.Action.REFUSE_ERASURE:
        return f"Request received {detail.get('received_on', 'on an unknown date')}. Reason: {detail.get('reason', '')}"
    if event.action == AuditEvent.Action.RETENTION_RUN:
        counts = detail.get("counts", {})
        done = ", ".join(f"{counts[label]} {label}" for label in sorted(counts) if counts[label]) or "nothing"
        return f"{done} (run on {detail.get('run_on', '')})"
    return ", ".join(f"{key}: {value}" for key, value in detail.items())
