"""Staff pages for signing: who has signed, declined or is outstanding; paper forms; new links.

Every page shows carers' personal data, so every one needs a second factor (schools.mfa), and
only a headteacher or office staff member of the school may see it (schools.permissions):
anyone else gets a 404, never a hint that the school or the carer exists.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_safe

from declarations import form_reference, selectors, services
from declarations.forms import PaperForm, StatusFilterForm
from schools import permissions
from schools.mfa import mfa_required
from schools.models import Pupil
from schools.selectors import groups_on_roll


def _school(request, school_slug):
    return get_object_or_404(permissions.family_schools(request.user), slug=school_slug)


def _carer(school, carer_id):
    return get_object_or_404(selectors.carers_asked_to_sign(school).select_related("school"), pk=carer_id)


@mfa_required
@require_safe
def index(request):
    schools = list(permissions.family_schools(request.user))
    if not schools:
        raise Http404("No school.")
    if len(schools) == 1:
        return redirect("declarations_staff:status", school_slug=schools[0].slug)
    return render(request, "declarations/staff/index.html", {"schools": schools})


@mfa_required
@require_safe
def status(request, school_slug):
    """Every carer asked to sign the version in force: signed, declined or outstanding, and why."""
    school = _school(request, school_slug)
    version = selectors.version_to_sign(school)
    year_groups, reg_groups = groups_on_roll(school)
    form = StatusFilterForm(request.GET, year_groups=year_groups, reg_groups=reg_groups)
    year_group, reg_group = form.value("year"), form.value("reg")
    report = (
        selectors.school_status(school, version, year_group=year_group, reg_group=reg_group) if version else None
    )
    return render(
        request,
        "declarations/staff/status.html",
        {
            "school": school,
            "version": version,
            "report": report,
            "form": form,
            "year_group": year_group,
            "reg_group": reg_group,
        },
    )


@mfa_required
def record_paper(request, school_slug, carer_id):
    """Record a declaration the carer signed on paper, with a scan of the form."""
    school = _school(request, school_slug)
    carer = _carer(school, carer_id)
    version = selectors.version_to_sign(school)
    if version is None:
        messages.error(request, "Your school has no code of conduct in force to sign.")
        return redirect("declarations_staff:status", school_slug=school.slug)
    signed = selectors.current_declaration(carer, version)
    if signed is not None:
        messages.info(request, f"{carer.full_name} has already signed version {signed.version.number}.")
        return redirect("declarations_staff:status", school_slug=school.slug)
    children = Pupil.objects.filter(school=school, on_roll=True, carer_links__carer=carer).distinct()
    posted = request.method == "POST"
    form = PaperForm(
        request.POST if posted else None,
        request.FILES if posted else None,
        children=children.order_by("forename", "surname"),
        named_by_default=selectors.children_to_name(carer),
    )
    if posted and form.is_valid():
        try:
            services.declaration_record_paper(
                carer=carer,
                version=version,
                signed_on=form.cleaned_data["signed_on"],
                name_as_written=form.cleaned_data["name_as_written"],
                children=list(form.cleaned_data["children"]),
                scan=form.cleaned_data["scan"],
                recorded_by=request.user,
                http_request=request,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Paper form recorded: {carer.full_name} has signed version {version.number}.")
            return redirect("declarations_staff:status", school_slug=school.slug)
    return render(
        request,
        "declarations/staff/paper_form.html",
        {
            "school": school,
            "carer": carer,
            "version": version,
            "form": form,
            "reference": form_reference.form_reference(carer),
        },
    )


@mfa_required
@require_safe
def paper_find(request, school_slug):
    """A returned paper form's reference (?reference=PF-1234-K) opens its carer's record-paper page."""
    school = _school(request, school_slug)
    reference = request.GET.get("reference", "").strip()[:40]
    carer = form_reference.carer_for_reference(selectors.carers_asked_to_sign(school), reference)
    if carer is None:
        messages.error(
            request,
            f"No paper form of {school.name} has the reference “{reference}”. Check it against the form "
            "(PF-, a number and a letter).",
        )
        return redirect("declarations_staff:status", school_slug=school.slug)
    return redirect("declarations_staff:paper", school_slug=school.slug, carer_id=carer.pk)
