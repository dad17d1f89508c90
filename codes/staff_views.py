"""Staff pages for codes: the dashboard, drafting, previewing, comparing and publishing.

Each view checks access through schools.permissions, parses input, calls one service and
redirects. Another organisation's code is a 404, never a hint that it exists.
"""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import get_language_info
from django.views.decorators.http import require_POST

from codes import selectors, services, translations
from codes.compare import compare_versions
from codes.forms import CompareForm, DraftForm, PublishForm, ReviewForm, TranslationForm
from codes.models import Code, CodeVersion
from codes.views import version_context
from schools import permissions
from schools.mfa import mfa_required


class LoginView(auth_views.LoginView):
    template_name = "staff/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        from django.conf import settings

        providers = [(name, config) for name, config in settings.PORTAL_OIDC_PROVIDERS.items() if config.get("client_id")]
        return {**super().get_context_data(**kwargs), "sign_in_providers": providers}

    def get_success_url(self):
        """After the password, the second factor: set up an authenticator app, or use it."""
        from schools import mfa

        url = super().get_success_url()
        return mfa.second_factor_redirect(self.request, url) or url


def _code_for(user, code_id, *, manage=False) -> Code:
    code = get_object_or_404(Code.objects.select_related("owner"), pk=code_id)
    allowed = permissions.can_manage_code(user, code) if manage else permissions.can_view_code_admin(user, code)
    if not allowed:
        raise Http404("No such code.")
    return code


def _version_for(user, version_id, *, manage=False) -> CodeVersion:
    version = get_object_or_404(CodeVersion.objects.select_related("code__owner"), pk=version_id)
    _code_for(user, version.code_id, manage=manage)
    return version


@login_required
def dashboard(request):
    managed = permissions.managed_organisations(request.user)
    schools = permissions.visible_schools(request.user).select_related("association")
    codes = Code.objects.filter(owner__in=managed).select_related("owner")
    return render(
        request,
        "staff/dashboard.html",
        {
            "overviews": [selectors.code_overview(code) for code in codes],
            "schools": schools,
            "family_schools": set(permissions.family_schools(request.user)),
            "associations": permissions.administered_associations(request.user),
            "managed": set(managed),
            "roles": request.user.staff_roles.select_related("organisation"),
            # API keys and webhooks (api/, webhooks/): those who manage a code manage these too.
            "integrations": managed,
        },
    )


@login_required
def code_detail(request, code_id):
    code = _code_for(request.user, code_id)
    history = selectors.version_history(code, include_drafts=True)
    return render(
        request,
        "staff/code_detail.html",
        {
            "code": code,
            "overview": selectors.code_overview(code),
            "history": history,
            "can_manage": permissions.can_manage_code(request.user, code),
            "translatable_languages": translations.translatable_languages(),
            "numbers": [v.number for v, _ in history],
            "review_form": ReviewForm(initial={"review_due": services.code_review_due(code)}),
        },
    )


@login_required
@require_POST
def code_review(request, code_id):
    """The annual review found no change needed: the review date moves on a year, nothing else."""
    code = _code_for(request.user, code_id, manage=True)
    form = ReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The review could not be recorded: reload the page and try again.")
        return redirect("staff:code", code_id=code.pk)
    try:
        review = services.code_review_record(
            code=code, user=request.user, note=form.cleaned_data["note"],
            review_due_answered=form.cleaned_data["review_due"],
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            f"Review recorded: no change needed. The next review is due on {review.next_review_due:%-d %B %Y}. "
            "The code is unchanged and nobody is asked to sign again.",
        )
    return redirect("staff:code", code_id=code.pk)


@login_required
@require_POST
def draft_start(request, code_id):
    code = _code_for(request.user, code_id, manage=True)
    try:
        draft = services.draft_start(code=code, user=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("staff:code", code_id=code.pk)
    messages.success(request, f"Version {draft.number} is a draft. Nothing changes for parents until you publish it.")
    return redirect("staff:edit", version_id=draft.pk)


@login_required
def draft_edit(request, version_id):
    version = _version_for(request.user, version_id, manage=True)
    if not version.is_draft:
        messages.error(request, "A published version can never change. Start a new draft instead.")
        return redirect("staff:code", code_id=version.code_id)
    form = DraftForm(request.POST or None, instance=version)
    if request.method == "POST" and form.is_valid():
        try:
            services.draft_update(
                version=version, user=request.user, **{f: form.cleaned_data[f] for f in DraftForm.Meta.fields}
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Draft saved.")
            return redirect("staff:preview", version_id=version.pk)
    return render(request, "staff/draft_edit.html", {"form": form, "version": version, "code": version.code})


@login_required
def version_preview(request, version_id):
    version = _version_for(request.user, version_id)
    if version.is_draft and not permissions.can_manage_code(request.user, version.code):
        raise Http404("No such version.")
    context = version_context(version, version.code.owner)
    context.update({"code": version.code, "can_manage": permissions.can_manage_code(request.user, version.code)})
    return render(request, "staff/version_preview.html", context)


@mfa_required  # publishing e-mails every carer at every school using the code
def version_publish(request, version_id):
    version = _version_for(request.user, version_id, manage=True)
    if not version.is_draft:
        messages.info(request, f"Version {version.number} is already published.")
        return redirect("staff:code", code_id=version.code_id)
    form = PublishForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            published = services.version_publish(version=version, user=request.user, **form.cleaned_data)
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            effective = f"{form.cleaned_data['effective_from']:%-d %B %Y}"
            messages.success(
                request,
                f"Version {version.number} is published. It comes into force on {effective}. "
                + (
                    "Every parent and carer will be asked to sign it from that day; the e-mails go in the background."
                    if published.requires_signing
                    else "Nobody is asked to sign again."
                ),
            )
            return redirect("staff:code", code_id=version.code_id)
    context = {"form": form, "version": version, "code": version.code, "reach": selectors.publish_reach(version.code)}
    return render(request, "staff/version_publish.html", context)


@login_required
@require_POST
def draft_discard(request, version_id):
    version = _version_for(request.user, version_id, manage=True)
    try:
        services.draft_discard(version=version, user=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"The draft of version {version.number} was discarded.")
    return redirect("staff:code", code_id=version.code_id)


@login_required
def compare(request, code_id):
    code = _code_for(request.user, code_id)
    visible = code.versions.all() if permissions.can_manage_code(request.user, code) else services.published_versions(code)
    numbers = sorted(visible.values_list("number", flat=True))
    if len(numbers) < 2:
        messages.info(request, "There is only one version, so there is nothing to compare yet.")
        return redirect("staff:code", code_id=code.pk)

    form = CompareForm({"from": numbers[-2], "to": numbers[-1], **request.GET.dict()}, numbers=numbers)
    old_number = form.value("from", numbers[-2])
    new_number = form.value("to", numbers[-1])
    old, new = visible.get(number=old_number), visible.get(number=new_number)
    sections = compare_versions(old, new)
    if not any(section.changed for section in sections):
        sections = []
    context = {"code": code, "old": old, "new": new, "sections": sections, "form": form}
    return render(request, "staff/compare.html", context | {"show_all": request.GET.get("all") == "1"})


@login_required
def version_translation(request, version_id, language):
    """Attach or correct the translation of a published version into one shipped language."""
    version = _version_for(request.user, version_id, manage=True)
    languages = dict(translations.translatable_languages())
    if language not in languages or not version.is_published:
        raise Http404("No such translation.")
    existing = translations.translation_for(version, language)
    form = TranslationForm(request.POST or None, instance=existing)
    if request.method == "POST" and form.is_valid():
        try:
            translations.version_translation_save(
                user=request.user, version=version, language=language, **form.cleaned_data
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                f"The {languages[language]} translation of version {version.number} is saved. Parents reading "
                f"in {languages[language]} see it beside the English, which is the text they sign.",
            )
            return redirect("staff:code", code_id=version.code_id)
    return render(
        request,
        "staff/version_translation.html",
        {
            "version": version,
            "code": version.code,
            "language": language,
            "language_name": languages[language],
            "form": form,
            "existing": existing,
            "rtl": get_language_info(language)["bidi"],
        },
    )
