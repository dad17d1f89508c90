"""Staff pages for evidence out: one declaration's PDF, a ZIP of many, the registers, and a
carer's subject access ZIP.

Every page shows or hands out carers' personal data, so every one needs a second factor
(schools.mfa) and only a headteacher or office staff member of the school may use it
(schools.permissions.family_schools): anyone else gets a 404. What is handed out, and its record
in the school's audit log, are evidence/services.py's; these views read the request, call a
service and send its answer. Files are served as stored: a PDF is never re-rendered here.
"""

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from codes.services import code_for_school, published_versions
from declarations import selectors
from declarations.models import Declaration
from evidence import link_export, paper_forms, services, subject_access
from evidence.exports import REGISTERS
from evidence.forms import ExportForm, RegisterFilterForm
from evidence.models import Export
from schools import permissions
from schools.mfa import mfa_required
from schools.models import Carer
from schools.selectors import groups_on_roll

EXPORTS_SHOWN = 10


def _school(request, school_slug):
    return get_object_or_404(permissions.family_schools(request.user), slug=school_slug)


def _private(response):
    add_never_cache_headers(response)
    return response


def _attachment(download: services.Download):
    if isinstance(download.content, bytes):
        response = HttpResponse(download.content, content_type=download.content_type)
        response["Content-Disposition"] = f'attachment; filename="{download.filename}"'
    else:
        response = FileResponse(
            download.content, as_attachment=True, filename=download.filename, content_type=download.content_type
        )
    return _private(response)


def _export_form(school, data=None) -> ExportForm:
    code = code_for_school(school)
    versions = list(published_versions(code).values_list("number", flat=True)) if code else []
    year_groups, reg_groups = groups_on_roll(school)
    return ExportForm(data, versions=sorted(versions, reverse=True), year_groups=year_groups, reg_groups=reg_groups)


@mfa_required
@require_http_methods(["GET", "HEAD", "POST"])
def home(request, school_slug):
    """Choose declarations for a ZIP of their PDFs; the registers; recent exports."""
    school = _school(request, school_slug)
    form = _export_form(school, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        export = services.export_request(user=request.user, school=school, filters=form.filters(), request=request)
        if export.total == 0:
            messages.info(request, "No declarations match what you chose; the ZIP will be empty.")
        return redirect("exports:detail", school_slug=school.slug, export_id=export.pk)
    year_groups, reg_groups = groups_on_roll(school)
    return render(
        request,
        "declarations/exports/home.html",
        {
            "school": school,
            "form": form,
            "version": selectors.version_to_sign(school),
            "exports": Export.objects.filter(school=school).select_related("requested_by")[:EXPORTS_SHOWN],
            "signed_count": Declaration.objects.filter(school=school).count(),
            "link_choices": link_export.Who.choices,
            "year_groups": year_groups,
            "reg_groups": reg_groups,
        },
    )


@mfa_required
@require_POST
def personal_links(request, school_slug):
    """The personal links CSV for the school's messaging app (evidence/link_export.py)."""
    school = _school(request, school_slug)
    who = request.POST.get("who", link_export.Who.UNREACHED)
    if who not in link_export.Who.values:
        messages.error(request, "Choose whose links to export.")
        return redirect("exports:home", school_slug=school.slug)
    exported = link_export.personal_links_export(user=request.user, school=school, who=who, request=request)
    if exported is None:
        messages.error(request, "Your school has no code of conduct in force, so there are no links to sign.")
        return redirect("exports:home", school_slug=school.slug)
    return _attachment(exported.download)


@mfa_required
@require_POST
def print_paper_forms(request, school_slug):
    """Prefilled paper forms as one PDF (evidence/paper_forms.py): one carer's (carer=ID), or
    those `who` names, optionally of one year group (year=) or registration group (reg=)."""
    school = _school(request, school_slug)
    who = request.POST.get("who", link_export.Who.UNREACHED)
    try:
        carer_id = int(request.POST.get("carer", "") or 0) or None
    except ValueError:
        carer_id = None
    if who not in link_export.Who.values:
        messages.error(request, "Choose whose paper forms to print.")
        return redirect("exports:home", school_slug=school.slug)
    printed = paper_forms.paper_forms_print(
        user=request.user,
        school=school,
        who=who,
        year_group=request.POST.get("year", "").strip()[:2],
        reg_group=request.POST.get("reg", "").strip()[:40],
        carer_id=carer_id,
        request=request,
    )
    if printed is None:
        messages.error(request, "Your school has no code of conduct in force, so there is nothing to sign.")
        return redirect("exports:home", school_slug=school.slug)
    if printed.download is None:
        messages.info(request, "Nobody you chose needs a paper form: there is nothing to print.")
        return redirect("exports:home", school_slug=school.slug)
    return _attachment(printed.download)


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
    export = get_object_or_404(Export.objects.select_related("school"), school=school, pk=export_id)
    download = services.export_download(user=request.user, export=export, request=request)
    if download is None:
        raise Http404("No file.")
    return _attachment(download)


@mfa_required
@require_safe
def register(request, school_slug, file_format):
    """The register as CSV or Excel, for the version in force (or ?version=N), optionally one
    year group (?year=) or registration group (?reg=)."""
    school = _school(request, school_slug)
    if file_format not in REGISTERS:
        raise Http404("No such format.")
    form = RegisterFilterForm(request.GET)
    download = services.register_export(
        user=request.user, school=school, file_format=file_format, filters=form.filters(), request=request
    )
    if download is None:
        raise Http404("No such version.")
    return _attachment(download)


@mfa_required
@require_safe
def declaration_pdf(request, school_slug, declaration_id):
    """One declaration's sealed PDF, as stored (made now if the background worker has not yet)."""
    school = _school(request, school_slug)
    declaration = get_object_or_404(Declaration.objects.select_related("school", "version", "carer"), school=school, pk=declaration_id)
    return _attachment(services.declaration_pdf_download(user=request.user, declaration=declaration, request=request))


@mfa_required
@require_POST
def carer_subject_access(request, school_slug, carer_id):
    """Everything held about one carer, as a ZIP (evidence/subject_access.py). A POST, from the
    carer's page: a link, or a browser prefetching one, never makes (and audits) an export."""
    school = _school(request, school_slug)
    carer = get_object_or_404(Carer.objects.select_related("school"), school=school, pk=carer_id)
    return _attachment(subject_access.carer_subject_access_zip(carer=carer, user=request.user, request=request))
