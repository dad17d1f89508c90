"""Public pages: anyone can read the code in force for a school or association, and its history."""

from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import get_language
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from codes import selectors
from codes.forms import DirectorySearchForm
from codes.markup import render_markdown
from codes.services import declaration_text, version_in_force
from codes.translations import translation_context, translation_for
from schools.branding import brand_stylesheet
from schools.models import Organisation


def version_context(version, organisation):
    """What the shared version partial needs, for public pages and staff previews alike."""
    return {
        "version": version,
        "organisation": organisation,
        "document_history": selectors.document_history(version) if selectors.has_document_control(version) else [],
        "body_html": render_markdown(version.body),
        "declaration_html": render_markdown(declaration_text(version, school_name=organisation.name)),
    }


@require_safe
def home(request):
    form = DirectorySearchForm(request.GET)
    query = form.value("q")
    organisations = selectors.organisations_for_directory(query)
    return render(
        request,
        "codes/home.html",
        {
            "form": form,
            "query": query,
            "associations": [o for o in organisations if o.is_association],
            "schools": [o for o in organisations if o.is_school],
        },
    )


@require_safe
def organisation_page(request, slug):
    organisation = get_object_or_404(Organisation.objects.select_related("association"), slug=slug)
    code = selectors.organisation_code(organisation)
    version = version_in_force(code) if code else None
    context = {
        "organisation": organisation,
        "code": code,
        "adopted_from": code.owner if code and code.owner_id != organisation.pk else None,
        "members": organisation.members.all() if organisation.is_association else [],
    }
    if version:
        context.update(version_context(version, organisation))
        context.update(translation_context(translation_for(version, get_language()), school_name=organisation.name))
        context["state"] = "in force"
    return render(request, "codes/organisation.html", context)


@require_safe
def version_list(request, slug):
    organisation = get_object_or_404(Organisation, slug=slug)
    code = selectors.organisation_code(organisation)
    if code is None:
        raise Http404("This organisation has no code of conduct.")
    return render(
        request,
        "codes/version_list.html",
        {"organisation": organisation, "code": code, "history": selectors.version_history(code)},
    )


@require_safe
def version_detail(request, slug, number):
    organisation = get_object_or_404(Organisation, slug=slug)
    code = selectors.organisation_code(organisation)
    if code is None:
        raise Http404("This organisation has no code of conduct.")
    version = selectors.public_version(code, number)
    in_force = version_in_force(code)
    context = version_context(version, organisation)
    context.update(translation_context(translation_for(version, get_language()), school_name=organisation.name))
    context.update(
        {
            "code": code,
            "in_force": in_force,
            "state": dict(selectors.version_history(code)).get(version),
            "adopted_from": code.owner if code.owner_id != organisation.pk else None,
        }
    )
    return render(request, "codes/version_detail.html", context)


@require_safe
@cache_control(max_age=300)
def brand_css(request, slug):
    """Each organisation's colour as a stylesheet: the CSP forbids inline styles."""
    organisation = get_object_or_404(Organisation, slug=slug)
    return HttpResponse(brand_stylesheet(organisation.brand_colour), content_type="text/css")


@require_safe
@cache_control(max_age=300)
def logo(request, slug):
    """The organisation's logo (a PNG the settings page drew again with Pillow), for its pages and e-mails."""
    organisation = get_object_or_404(Organisation, slug=slug)
    if not organisation.logo:
        raise Http404("No logo.")
    try:
        with organisation.logo.open("rb") as file:
            data = file.read()
    except (OSError, ValueError):
        raise Http404("No logo.") from None
    content_type = "image/jpeg" if data.startswith(b"\xff\xd8\xff") else "image/png"
    return HttpResponse(data, content_type=content_type)


@require_safe
def accessibility(request):
    return render(request, "accessibility.html")


@require_safe
def privacy(request):
    return render(request, "privacy.html")
