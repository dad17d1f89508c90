"""The carer's pages: open the e-mailed link, read the code, sign or decline, see a receipt.

The token in the link is swapped for a session at once and never appears in a page; every page
here sends `Cache-Control: no-store`, and `Referrer-Policy: no-referrer` (pages with a form:
`same-origin`, see signing_form_page). Everything works without JavaScript. Views parse input
and call declarations.services; the rules live there.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from codes.compare import compare_versions
from codes.markup import render_markdown
from codes.translations import translation_context, translation_for
from codes.views import version_context
from declarations import selectors, services, session
from declarations.forms import DeclineForm, SignForm
from portal import languages, ratelimit
from portal.client_ip import client_ip
from portal.pages import see_other, signing_form_page, signing_page

# The pages.


@require_safe
@signing_page
def link(request, token, then="sign"):
    """The e-mailed link. A GET or HEAD never signs or consumes anything: link scanners make
    them too. A GET swaps the token for a session and records "opened"; a HEAD changes nothing.
    Then on to the signing page, or (`then="changes"`, the invitation's second link) to what
    changed since the version the carer last signed."""
    signing_request, refused = _checked(request, lambda: services.link_check(token=token))
    if refused:
        return refused
    if request.method == "HEAD":
        return see_other(reverse(f"signing:{then}"))
    services.link_opened(signing_request=signing_request)
    # A new session key: whoever knew this browser's old one does not share the carer's.
    request.session.cycle_key()
    request.session[session.SESSION_KEY] = {"request": signing_request.pk, "link": signing_request.token_hash}
    # The carer's home language, where the portal has it, unless this browser chose one.
    request.session[languages.SESSION_KEY] = signing_request.carer.language
    return see_other(reverse(f"signing:{then}"))


@require_safe
@signing_page
def short_link(request, code):
    """A printed form's short address: on to the carer's link it stands for, counted against the
    same rate limits as the links themselves."""
    token, refused = _checked(request, lambda: services.short_link_check(code=code[:40]))
    if refused:
        return refused
    return see_other(reverse("signing:link", kwargs={"token": token}))


def _checked(request, check):
    """A link (or a short code) looked up by `check`, counted against the links' rate limits:
    (what `check` found, None), or (None, the page to show instead). A link not found or
    expired counts as a miss."""
    who = ratelimit.client(request)
    for name, over in (("link", ratelimit.count("link", who)), ("link_miss", ratelimit.is_over("link_miss", who))):
        if over:
            return None, ratelimit.too_many(request, name)
    try:
        return check(), None
    except services.LinkNotFound:
        ratelimit.count("link_miss", who)
        return None, session.link_problem(request, reason="unknown", status=404)
    except services.LinkExpired as refused:
        ratelimit.count("link_miss", who)
        return None, session.link_problem(request, reason="expired", status=410, school=refused.signing_request.school)


def _sign_context(signing_request, version, form, *, previous, notice="") -> dict:
    carer, school = signing_request.carer, signing_request.school
    children = selectors.signing_children(signing_request)
    statement = services.statement_for(carer=carer, version=version, children=children)
    context = version_context(version, school)
    context.update(
        {
            "carer": carer,
            "children": children,
            "declaration_html": render_markdown(statement),
            "form": form,
            "notice": notice,
            "previous": previous,
            "revisions": selectors.revisions_since(previous.version, version) if previous else [],
            "decline": selectors.current_decline(carer, version),
        }
    )
    context.update(
        translation_context(
            translation_for(version, translation.get_language()),
            school_name=school.name,
            carer=carer.full_name,
            children=selectors.names_in_words([child.full_name for child in children]),
        )
    )
    return context


@require_http_methods(["GET", "HEAD", "POST"])
@signing_form_page
def sign(request):
    signing_request = session.held_signing_request(request)
    if isinstance(signing_request, HttpResponse):
        return signing_request
    version, form, notice, status = None, None, "", 200
    if request.method == "POST":
        # The service checks everything again under the request's row lock (what is in force,
        # whether the carer has signed already), so the POST goes straight to it.
        form = SignForm(request.POST)
        if form.is_valid():
            try:
                services.declaration_sign(
                    signing_request=signing_request,
                    version_id_shown=form.cleaned_data["version"],
                    typed_name=form.cleaned_data["typed_name"],
                    agreed=form.cleaned_data["agreed"],
                    ip=client_ip(request),
                    user_agent=request.META.get("HTTP_USER_AGENT", ""),
                    language=translation.get_language(),
                )
            except services.VersionChanged as changed:
                version = changed.version
                notice = _(
                    "The school published a new version of its code while you were reading. "
                    "Nothing has been signed yet. Please read this version, then sign it."
                )
                form = SignForm(initial={"version": version.pk, "typed_name": form.cleaned_data["typed_name"]})
                status = 409
            except services.LinkExpired:
                return session.link_problem(request, reason="expired", status=410, school=signing_request.school)
            except services.NothingToSign as refused:
                return session.nothing_to_sign(request, signing_request, refused)
            else:
                return see_other(reverse("receipt:done"))
    if version is None:
        try:
            version = services.signing_version_for(signing_request)
        except services.NothingToSign as refused:
            return session.nothing_to_sign(request, signing_request, refused)
    current, previous = selectors.latest_declarations(signing_request.carer, version)
    if current is not None:
        return see_other(reverse("receipt:done"))
    if form is None:
        form = SignForm(initial={"version": version.pk})
    context = _sign_context(signing_request, version, form, previous=previous, notice=notice)
    return render(request, "declarations/sign.html", context, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
@signing_form_page
def decline(request):
    """A carer who does not want to sign says so, with a message for the school."""
    held = session.signing_session(request)
    if isinstance(held, HttpResponse):
        return held
    signing_request, version = held
    carer = signing_request.carer
    if selectors.current_declaration(carer, version) is not None:
        return see_other(reverse("receipt:done"))
    form = DeclineForm(initial={"version": version.pk})
    notice = ""
    if request.method == "POST":
        form = DeclineForm(request.POST)
        if form.is_valid():
            try:
                services.declaration_decline(
                    signing_request=signing_request,
                    version_id_shown=form.cleaned_data["version"],
                    message=form.cleaned_data["message"],
                    ip=client_ip(request),
                    user_agent=request.META.get("HTTP_USER_AGENT", ""),
                )
            except services.VersionChanged as changed:
                version = changed.version
                notice = _(
                    "The school published a new version of its code while you were on this page. "
                    "Nothing has been sent. Read the new version before you decide."
                )
                form = DeclineForm(initial={"version": version.pk, "message": form.cleaned_data["message"]})
            except services.LinkExpired:
                return session.link_problem(request, reason="expired", status=410, school=signing_request.school)
            except services.SigningRefused:
                return see_other(reverse("receipt:done"))
            else:
                return see_other(reverse("signing:declined"))
    return render(
        request,
        "declarations/decline.html",
        {
            "organisation": signing_request.school,
            "version": version,
            "form": form,
            "notice": notice,
            "decline": selectors.current_decline(carer, version),
        },
    )


@require_safe
@signing_page
def declined(request):
    held = session.signing_session(request)
    if isinstance(held, HttpResponse):
        return held
    signing_request, version = held
    decline = selectors.current_decline(signing_request.carer, version)
    if decline is None:
        return see_other(reverse("signing:sign"))
    return render(
        request,
        "declarations/declined.html",
        {"organisation": signing_request.school, "version": version, "decline": decline},
    )


@require_safe
@signing_page
def changes(request):
    """What changed between the version the carer last signed and the one they are asked to sign."""
    held = session.signing_session(request)
    if isinstance(held, HttpResponse):
        return held
    signing_request, version = held
    previous = selectors.previous_declaration(signing_request.carer, version)
    if previous is None:
        return see_other(reverse("signing:sign"))
    return render(
        request,
        "declarations/changes.html",
        {
            "organisation": signing_request.school,
            "old": previous.version,
            "new": version,
            "signed_at": previous.signed_at,
            "revisions": selectors.revisions_since(previous.version, version),
            "sections": compare_versions(previous.version, version),
        },
    )
