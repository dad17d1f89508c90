"""Staff pages for a school's families: import, pupils and carers, the audit log, and a carer's
erasure or a refused erasure request. (A carer's subject access export holds their declaration
PDFs, so it is evidence's: evidence/export_views.py, carer_subject_access.)

Only the school's headteacher and office staff see any of it (schools.permissions); for anyone
else every URL is a 404, never a hint that the school, pupil or carer exists. Each view checks
access, parses input, calls one service (or reads) and redirects. Every view of a pupil's or
carer's record is audited.

An import waits between its steps (upload → preview → confirm): the import service keeps the
upload (schools/imports/staging.py); these views keep only its StagedUpload in the session.
"""

import datetime

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Case, F, IntegerField, Prefetch, Q, Value, When
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from schools import audit, permissions, selectors, services
from schools.forms import (
    AuditFilterForm,
    CarerEraseForm,
    CarerFilterForm,
    ErasureRefusalForm,
    ImportUploadForm,
    PupilFilterForm,
)
from schools.imports import ImportRejected
from schools.imports.staging import StagedUpload
from schools.mfa import mfa_required
from schools.models import AuditEvent, Carer, Pupil, PupilCarer

PAGE_SIZE = 50

# Nursery, Reception, then Year 1 to 13: the order of Pupil.YearGroup, not of the stored text.
YEAR_ORDER = Case(
    *[When(year_group=value, then=Value(position)) for position, value in enumerate(Pupil.YearGroup.values)],
    output_field=IntegerField(),
)


# ---------------------------------------------------------------------------------------------
# Access


def _school_for(user, school_slug):
    return get_object_or_404(permissions.family_schools(user), slug=school_slug)


def _page_context(request, school, **context):
    return {"school": school, "can_read_audit_log": permissions.can_read_audit_log(request.user, school), **context}


def _words(text: str) -> list[str]:
    return text.split()[:5]


# ---------------------------------------------------------------------------------------------
# Pupils


@mfa_required
def pupil_list(request, school_slug):
    school = _school_for(request.user, school_slug)
    groups = (
        Pupil.objects.filter(school=school)
        .exclude(reg_group="")
        .annotate(year_order=YEAR_ORDER)
        .values_list("year_order", "reg_group")
        .distinct()
        .order_by("year_order", "reg_group")
    )
    form = PupilFilterForm(request.GET, reg_groups=list(dict.fromkeys(group for _, group in groups)))

    pupils = Pupil.objects.filter(school=school)
    status = form.value("status", "on_roll")
    if status == "on_roll":
        pupils = pupils.filter(on_roll=True)
    elif status == "left":
        pupils = pupils.filter(on_roll=False)
    if year := form.value("year"):
        pupils = pupils.filter(year_group=year)
    if reg := form.value("reg"):
        pupils = pupils.filter(reg_group=reg)
    for word in _words(form.value("q")):
        pupils = pupils.filter(Q(forename__icontains=word) | Q(surname__icontains=word))
    pupils = (
        pupils.annotate(year_order=YEAR_ORDER)
        .order_by("year_order", "reg_group", "surname", "forename", "pk")
        .prefetch_related(
            Prefetch(
                "carer_links",
                queryset=PupilCarer.objects.select_related("carer").order_by(
                    F("priority").asc(nulls_last=True), "carer__surname", "carer__forename"
                ),
            )
        )
    )
    page = Paginator(pupils, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request, "families/pupil_list.html", _page_context(request, school, form=form, page=page, status=status)
    )


@mfa_required
def pupil_detail(request, school_slug, pupil_id):
    school = _school_for(request.user, school_slug)
    pupil = get_object_or_404(Pupil, pk=pupil_id, school=school)
    links = list(
        pupil.carer_links.select_related("carer").order_by(F("priority").asc(nulls_last=True), "carer__surname")
    )
    statuses = services.carer_eligibilities(school.pk, [link.carer_id for link in links])
    for link in links:
        link.carer.status = statuses[link.carer_id]
    audit.audit_record(
        actor=request.user, school=school, action=AuditEvent.Action.VIEW_PUPIL, pupil=pupil, request=request
    )
    return render(request, "families/pupil_detail.html", _page_context(request, school, pupil=pupil, links=links))


# ---------------------------------------------------------------------------------------------
# Carers


@mfa_required
def carer_list(request, school_slug):
    school = _school_for(request.user, school_slug)
    form = CarerFilterForm(request.GET)
    carers = {
        "eligible": selectors.eligible_carers,
        "paper": selectors.carers_needing_paper_forms,
        "not_eligible": selectors.carers_not_eligible,
    }.get(form.value("status"), lambda s: Carer.objects.filter(school=s))(school)
    for word in _words(form.value("q")):
        carers = carers.filter(Q(forename__icontains=word) | Q(surname__icontains=word) | Q(email__icontains=word))
    carers = carers.order_by("surname", "forename", "pk").prefetch_related(
        Prefetch(
            "pupil_links",
            queryset=PupilCarer.objects.select_related("pupil").order_by("pupil__surname", "pupil__forename"),
        )
    )
    page = Paginator(carers, PAGE_SIZE).get_page(request.GET.get("page"))
    statuses = services.carer_eligibilities(school.pk, [carer.pk for carer in page])
    for carer in page:
        carer.status = statuses[carer.pk]
    return render(request, "families/carer_list.html", _page_context(request, school, form=form, page=page))


def _carer_for(request, school_slug, carer_id):
    school = _school_for(request.user, school_slug)
    return school, get_object_or_404(Carer, pk=carer_id, school=school)


@mfa_required
def carer_detail(request, school_slug, carer_id):
    school, carer = _carer_for(request, school_slug, carer_id)
    return _carer_page(request, school, carer)


def _carer_page(request, school, carer, *, refusal_form=None):
    """The carer's page (recorded as a view of their record), with the refusal form for the
    headteacher: `refusal_form` bound when it comes back with errors."""
    links = carer.pupil_links.select_related("pupil").order_by("pupil__surname", "pupil__forename")
    audit.audit_record(
        actor=request.user, school=school, action=AuditEvent.Action.VIEW_CARER, carer=carer, request=request
    )
    can_erase = permissions.can_erase_carer(request.user, carer)
    if can_erase and not carer.erased_at and refusal_form is None:
        refusal_form = ErasureRefusalForm(action=_refusal_url(school, carer))
    return render(
        request,
        "families/carer_detail.html",
        _page_context(
            request,
            school,
            carer=carer,
            links=links,
            status=services.carer_eligibility(carer),
            can_erase=can_erase,
            refusal_form=refusal_form,
            refusals=services.erasure_refusals(carer),
        ),
    )


def _refusal_url(school, carer) -> str:
    return reverse("families:carer_refuse_erasure", kwargs={"school_slug": school.slug, "carer_id": carer.pk})


@mfa_required
@require_POST
def carer_refuse_erasure(request, school_slug, carer_id):
    """Record a refused erasure request (headteachers): back to the carer's page, which lists it."""
    school, carer = _carer_for(request, school_slug, carer_id)
    if not permissions.can_erase_carer(request.user, carer):
        raise Http404("No such carer.")
    form = ErasureRefusalForm(request.POST, action=_refusal_url(school, carer))
    if not form.is_valid():
        return _carer_page(request, school, carer, refusal_form=form)
    try:
        services.carer_erasure_refuse(
            carer=carer,
            user=request.user,
            received_on=form.cleaned_data["received_on"],
            reason=form.cleaned_data["reason"],
            request=request,
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "The refused erasure request has been recorded in the audit log.")
    return redirect("families:carer", school_slug=school.slug, carer_id=carer.pk)


@mfa_required
def carer_erase(request, school_slug, carer_id):
    school, carer = _carer_for(request, school_slug, carer_id)
    if not permissions.can_erase_carer(request.user, carer):
        raise Http404("No such carer.")
    if carer.erased_at:
        messages.info(request, "This carer's personal data has already been erased.")
        return redirect("families:carer", school_slug=school.slug, carer_id=carer.pk)
    form = CarerEraseForm(request.POST) if request.method == "POST" else CarerEraseForm()
    if form.is_bound and form.is_valid():
        try:
            services.carer_erase(carer=carer, user=request.user, reason=form.cleaned_data["reason"], request=request)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, "The carer's personal data has been erased. The reason is in the audit log.")
        return redirect("families:carer", school_slug=school.slug, carer_id=carer.pk)
    return render(
        request,
        "families/carer_erase.html",
        _page_context(request, school, carer=carer, form=form, children=carer.pupil_links.count()),
    )


# ---------------------------------------------------------------------------------------------
# Import: upload → preview → confirm → result


def _session_key(school) -> str:
    return f"families_import:{school.pk}"


def _result_key(school) -> str:
    return f"families_import_result:{school.pk}"


def _staged(request, school) -> StagedUpload | None:
    """The upload waiting for this school in this session (the service checks whose it is)."""
    return StagedUpload.from_session(request.session.get(_session_key(school)))


def _keep_staged(request, school, staged: StagedUpload | None) -> None:
    if staged is None:
        request.session.pop(_session_key(school), None)
    else:
        request.session[_session_key(school)] = staged.to_session()


@mfa_required
def import_upload(request, school_slug):
    school = _school_for(request.user, school_slug)
    form = ImportUploadForm(request.POST, request.FILES) if request.method == "POST" else ImportUploadForm()
    if form.is_bound and form.is_valid():
        staged = services.families_import_stage(
            school=school, user=request.user, upload=form.cleaned_data["file"], replacing=_staged(request, school)
        )
        _keep_staged(request, school, staged)
        return redirect("families:import_preview", school_slug=school.slug)
    return render(request, "families/import_upload.html", _page_context(request, school, form=form))


@mfa_required
def import_preview_page(request, school_slug):
    school = _school_for(request.user, school_slug)
    preview = services.families_import_preview(school=school, user=request.user, staged=_staged(request, school))
    _keep_staged(request, school, preview.staged)
    if preview.plan is None:
        messages.info(request, "There is no import waiting for you to confirm. Upload a file to start one.")
        return redirect("families:import_upload", school_slug=school.slug)
    return render(request, "families/import_preview.html", _page_context(request, school, plan=preview.plan))


@mfa_required
@require_POST
def import_confirm(request, school_slug):
    school = _school_for(request.user, school_slug)
    try:
        result = services.families_import_confirm(
            school=school,
            user=request.user,
            staged=_staged(request, school),
            changes_sha256=request.POST.get("changes_sha256", ""),
            request=request,
        )
    except ImportRejected as rejected:
        reason = rejected.reason
        if reason == ImportRejected.Reason.FAMILIES_CHANGED:  # the upload waits on: show what it would do now
            messages.error(request, " ".join(rejected.messages))
            return redirect("families:import_preview", school_slug=school.slug)
        _keep_staged(request, school, None)
        if reason == ImportRejected.Reason.NOT_WAITING:
            messages.info(request, "This import has already been confirmed or cancelled, so nothing more was imported.")
            if request.session.get(_result_key(school)):
                return redirect("families:import_result", school_slug=school.slug)
            return redirect("families:import_upload", school_slug=school.slug)
        if reason == ImportRejected.Reason.ALREADY_IMPORTED:  # confirmed twice at once, or imported by someone else
            messages.info(request, "These changes have already been imported, so nothing more was changed.")
            return redirect("families:pupils", school_slug=school.slug)
        messages.error(request, " ".join(rejected.messages))
        return redirect("families:import_upload", school_slug=school.slug)
    _keep_staged(request, school, None)
    request.session[_result_key(school)] = {
        "filename": result.plan.filename,
        "rows": result.plan.rows,
        "counts": result.counts,
        "applied_at": result.applied_at.isoformat(),
    }
    messages.success(request, f"{result.plan.filename} has been imported.")
    return redirect("families:import_result", school_slug=school.slug)


@mfa_required
@require_POST
def import_cancel(request, school_slug):
    school = _school_for(request.user, school_slug)
    services.families_import_cancel(school=school, user=request.user, staged=_staged(request, school))
    _keep_staged(request, school, None)
    messages.info(request, "Import cancelled. Nothing was imported and the uploaded file has been deleted.")
    return redirect("families:import_upload", school_slug=school.slug)


@mfa_required
def import_result(request, school_slug):
    school = _school_for(request.user, school_slug)
    result = request.session.get(_result_key(school))
    if not result:
        return redirect("families:import_upload", school_slug=school.slug)
    result = {**result, "applied_at": datetime.datetime.fromisoformat(result["applied_at"])}
    return render(request, "families/import_result.html", _page_context(request, school, result=result))


# ---------------------------------------------------------------------------------------------
# Audit log


@mfa_required
def audit_log(request, school_slug):
    school = _school_for(request.user, school_slug)
    if not permissions.can_read_audit_log(request.user, school):
        raise Http404("No such page.")
    form = AuditFilterForm(request.GET)
    page = Paginator(audit.school_log(school, action=form.value("action")), PAGE_SIZE).get_page(request.GET.get("page"))
    for event in page:
        event.summary = audit.summary(event)
    return render(request, "families/audit_log.html", _page_context(request, school, form=form, page=page))
