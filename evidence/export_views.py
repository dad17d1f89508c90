"""Staff pages for evidence out: one declaration's PDF, a ZIP of many, and the registers.

Every page shows or hands out carers' personal data, so every one needs a second factor
(schools.mfa) and only a headteacher or office staff member of the school may use it
(schools.permissions.family_schools): anyone else gets a 404. Every download is recorded in the
school's audit log. Files are served from storage, as stored: a PDF is never re-rendered here.
"""

from django.contrib import messages
from django.core.files.storage import default_storage
from django.db import transaction
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods, require_safe

from codes.services import code_for_school, published_versions
from declarations import selectors
from declarations.models import Declaration
from evidence import exports
from evidence.forms import ExportForm
from evidence.models import Export
from evidence.pdf import declaration_pdf_issue
from schools import permissions
from schools.audit import audit_record
from schools.mfa import mfa_required
from schools.models import AuditEvent, Pupil
from schools.selectors import pupils_on_roll

EXPORTS_SHOWN = 10


def _school(request, school_slug):
    return get_object_or_404(permissions.family_schools(request.user), slug=school_slug)


def _private(response):
    add_never_cache_headers(response)
    return response


def _audit_export(request, school, **detail):
    audit_record(
        actor=request.user, school=school, action=AuditEvent.Action.EXPORT_DECLARATIONS, detail=detail, request=request
    )


def _export_form(school, data=None) -> ExportForm:
    code = code_for_school(school)
    versions = list(published_versions(code).values_list("number", flat=True)) if code else []
    on_roll = pupils_on_roll(school)
    present = set(on_roll.values_list("year_group", flat=True).distinct())
    return ExportForm(
        data,
        versions=sorted(versions, reverse=True),
        year_groups=[(value, label) for value, label in Pupil.YearGroup.choices if value in present],
        reg_groups=sorted(set(on_roll.exclude(reg_group="").values_list("reg_group", flat=True))),
    )


@mfa_required
@require_http_methods(["GET", "HEAD", "POST"])
def home(request, school_slug):
    """Choose declarations for a ZIP of their PDFs; the registers; recent exports."""
    school = _school(request, school_slug)
    form = _export_form(school, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        filters = form.filters()
        with transaction.atomic():
            export = exports.export_request(school=school, filters=filters, user=request.user)
            _audit_export(request, school, format="zip", filters=filters.as_dict(), export=export.pk)
        if export.total == 0:
            messages.info(request, "No declarations match what you chose; the ZIP will be empty.")
        return redirect("exports:detail", school_slug=school.slug, export_id=export.pk)
    return render(
        request,
        "declarations/exports/home.html",
        {
            "school": school,
            "form": form,
            "version": selectors.version_to_sign(school),
            "exports": Export.objects.filter(school=school).select_related("requested_by")[:EXPORTS_SHOWN],
            "signed_count": Declaration.objects.filter(school=school).count(),
        },
    )


@mfa_required
@require_safe
def detail(request, school_slug, export_id):
    school = _school(request, school_slug)
    export = get_object_or_404(Export.objects.select_related("requested_by"), school=school, pk=export_id)
    # Updating every few seconds is offered, never imposed (WCAG 2.2.1), as on the sending pages.
    auto = request.GET.get("auto") == "1" and export.in_progress
    percent = int(100 * export.done / export.total) if export.total else (100 if export.status == "done" else 0)
    return _private(
        render(
            request,
            "declarations/exports/detail.html",
            {"school": school, "export": export, "auto_refresh": auto, "percent": percent},
        )
    )


@mfa_required
@require_safe
def download(request, school_slug, export_id):
    school = _school(request, school_slug)
    export = get_object_or_404(Export, school=school, pk=export_id, status=Export.Status.DONE)
    if not export.file or not default_storage.exists(export.file.name):
        raise Http404("No file.")
    _audit_export(request, school, format="zip", export=export.pk, download=True, count=export.total)
    response = FileResponse(
        export.file.open("rb"), as_attachment=True, filename=exports.export_download_name(export), content_type="application/zip"
    )
    return _private(response)


@mfa_required
@require_safe
def register(request, school_slug, file_format):
    """The register as CSV or Excel, for the version in force (or ?version=N), optionally one
    year group (?year=) or registration group (?reg=)."""
    school = _school(request, school_slug)
    exporter_class = {"csv": exports.RegisterCsv, "xlsx": exports.RegisterXlsx}.get(file_format)
    if exporter_class is None:
        raise Http404("No such format.")
    try:
        version_number = int(request.GET.get("version", "") or 0) or None
    except ValueError:
        version_number = None
    filters = exports.DeclarationFilters(
        version=version_number,
        year_group=request.GET.get("year", "").strip()[:2],
        reg_group=request.GET.get("reg", "").strip()[:40],
    )
    exporter = exporter_class(school, filters=filters)
    if exporter.version() is None:
        raise Http404("No such version.")
    filename, content_type, data = exporter.render()
    _audit_export(request, school, format=file_format, filters=filters.as_dict())
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return _private(response)


@mfa_required
@require_safe
def declaration_pdf(request, school_slug, declaration_id):
    """One declaration's sealed PDF, as stored. If the background worker has not made it yet it
    is made now (once: declaration_pdf_issue never makes a second)."""
    school = _school(request, school_slug)
    declaration = get_object_or_404(Declaration.objects.select_related("school", "version", "carer"), school=school, pk=declaration_id)
    record = declaration_pdf_issue(declaration_id=declaration.pk)
    audit_record(
        actor=request.user,
        school=school,
        action=AuditEvent.Action.EXPORT_DECLARATIONS,
        carer=declaration.carer,
        detail={"format": "pdf", "declaration": declaration.pk},
        request=request,
    )
    filename = exports.pdf_name(declaration, exports.pupils_named([declaration]))
    response = FileResponse(record.file.open("rb"), as_attachment=True, filename=filename, content_type="application/pdf")
    return _private(response)
