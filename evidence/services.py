"""Evidence out, for staff: a declaration's PDF, a ZIP of many, and the registers.

    export = export_request(user=request.user, school=school, filters=filters, request=request)
    download = register_export(user=request.user, school=school, file_format="csv", filters=filters)
    download = declaration_pdf_download(user=request.user, declaration=declaration)

Every service takes the member of staff acting, refuses (PermissionDenied) anyone who may not see
the school's families (schools.permissions.can_manage_families: its headteacher and office staff),
and records what was handed out in the school's audit log. `user=None` is the system acting (the
command line, `manage.py export_declarations`): nobody to check, and the event says its `source`.
With a `request`, the audit event records where it came from (IP address, browser).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

from django.core.exceptions import PermissionDenied
from django.db import transaction

from declarations.models import Declaration
from evidence.exports import REGISTERS, DeclarationFilters
from evidence.models import Export
from evidence.pdf import declaration_pdf_issue
from evidence.zip_exports import (
    DeclarationsZip,
    build_export,
    export_download_name,
    family_pdf_name,
    pupils_named,
)
from schools import permissions
from schools.audit import audit_record
from schools.models import AuditEvent, Organisation


@dataclass(frozen=True)
class Download:
    """A file to hand to staff: its name, its type, and its bytes or an open file to stream."""

    filename: str
    content_type: str
    content: bytes | BinaryIO


def _check_may_export(user, school: Organisation) -> None:
    if user is not None and not permissions.can_manage_families(user, school):
        raise PermissionDenied("Only the school's headteacher and office staff may export its declarations.")


def _audit_export(user, school: Organisation, detail: dict, *, request=None, source: str = "", carer=None) -> None:
    if source:
        detail = {**detail, "source": source}
    audit_record(
        actor=user,
        school=school,
        action=AuditEvent.Action.EXPORT_DECLARATIONS,
        detail=detail,
        carer=carer,
        request=request,
    )


def export_request(*, user, school: Organisation, filters: DeclarationFilters, request=None) -> Export:
    """Record a request for a ZIP of the chosen declarations' PDFs, and queue its building
    (evidence.zip_exports.build_export) once this commits. Audited in the same transaction."""
    _check_may_export(user, school)
    with transaction.atomic():
        export = Export.objects.create(
            school=school,
            requested_by=user if getattr(user, "is_authenticated", False) else None,
            filters=filters.as_dict(),
            description=filters.describe(),
            total=DeclarationsZip(school, filters=filters).count(),
        )
        _audit_export(user, school, {"format": "zip", "filters": filters.as_dict(), "export": export.pk}, request=request)
        transaction.on_commit(lambda: build_export.enqueue(export.pk))
    return export


def export_download(*, user, export: Export, request=None) -> Download | None:
    """The finished ZIP, opened for streaming, as stored; None when there is none to download
    (not finished, failed, deleted after its days, or its file gone)."""
    _check_may_export(user, export.school)
    if export.status != Export.Status.DONE or not export.file or not export.file.storage.exists(export.file.name):
        return None
    _audit_export(
        user, export.school, {"format": "zip", "export": export.pk, "download": True, "count": export.total}, request=request
    )
    return Download(export_download_name(export), "application/zip", export.file.open("rb"))


def register_export(
    *, user, school: Organisation, file_format: str, filters: DeclarationFilters, request=None, source: str = ""
) -> Download | None:
    """The register ("csv" or "xlsx") of the version filters.version, or of the version in force;
    None when the school has no such version."""
    _check_may_export(user, school)
    exporter = REGISTERS[file_format](school, filters=filters)
    if exporter.version() is None:
        return None
    filename, content_type, data = exporter.render()
    _audit_export(user, school, {"format": file_format, "filters": filters.as_dict()}, request=request, source=source)
    return Download(filename, content_type, data)


def declarations_zip_write(*, user, school: Organisation, filters: DeclarationFilters, file: BinaryIO, source: str = "") -> int:
    """Write the ZIP of the chosen declarations' PDFs to an open file, here and now (rendering
    any PDF not made yet); returns how many it holds."""
    _check_may_export(user, school)
    count = DeclarationsZip(school, filters=filters).write_to(file)
    _audit_export(user, school, {"format": "zip", "filters": filters.as_dict()}, source=source)
    return count


def declaration_pdf_download(*, user, declaration: Declaration, request=None) -> Download:
    """One declaration's sealed PDF, opened for streaming, as stored; made now if the background
    worker has not made it yet (once: declaration_pdf_issue never makes a second)."""
    _check_may_export(user, declaration.school)
    record = declaration_pdf_issue(declaration_id=declaration.pk)
    _audit_export(
        user, declaration.school, {"format": "pdf", "declaration": declaration.pk}, request=request, carer=declaration.carer
    )
    filename = family_pdf_name(declaration, pupils_named([declaration]))
    return Download(filename, "application/pdf", record.file.open("rb"))
