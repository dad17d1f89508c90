"""The carer's pages: open the e-mailed link, read the code, sign or decline, see a receipt.

The token in the link is swapped for a session at once and never appears in a page; every page
here sends `Cache-Control: no-store`, and `Referrer-Policy: no-referrer` (pages with a form:
`same-origin`, see signing_form_page). Everything works without JavaScript. Views parse input
and call declarations.services; the rules live there.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import time

from django.conf import settings
from django.core.cache import cache
from django.http import FileResponse, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods, require_safe

from codes.compare import compare_versions
from codes.markup import render_markdown
from codes.views import version_context
from declarations import selectors, services
from declarations.forms import DeclineForm, NewLinkForm, SignForm
from declarations.models import DeclarationPdf, SigningRequest
from declarations.pdf import pdf_download_name
from portal.client_ip import client_ip

SESSION_KEY = "signing"


def _private(referrer_policy: str):
    def decorator(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            response = view(request, *args, **kwargs)
            add_never_cache_headers(response)
            response.headers["Referrer-Policy"] = referrer_policy
            return response

        return wrapper

    return decorator


# No page of the signing flow is cached, or tells another site where the reader came from.
signing_page = _private("no-referrer")
# Pages that carry a form. Under "no-referrer" a browser sends the form's POST with
# "Origin: null" and no Referer, which CSRF protection rightly refuses (Django checks one or the
# other). "same-origin" still tells no other site anything; and the token never reaches these
# pages: it is only ever in /sign/t/…, whose every answer is "no-referrer".
signing_form_page = _private("same-origin")


def _see_other(url: str) -> HttpResponseRedirect:
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


# Rate limits: fixed-window counters in Django's cache (shared between processes when the cache
# is Redis). Settings: PORTAL_RATE_LIMITS = {name: (how many, per how many seconds)}.

RATE_LIMITS = {
    "link": (100, 600),  # every check of a link, per client address
    "link_miss": (20, 600),  # unknown or expired links, per client address
    "new_link_ip": (10, 3600),  # "send me a new link" requests, per client address
    "new_link_address": (3, 3600),  # new links e-mailed to one address
    "verify": (30, 600),  # verification page: codes looked up and PDFs checked, per client address
    "verify_miss": (10, 600),  # verification codes not found, per client address
}


def _rate(name: str) -> tuple[int, int]:
    return {**RATE_LIMITS, **getattr(settings, "PORTAL_RATE_LIMITS", {})}[name]


def _counter_key(name: str, who: str) -> tuple[str, int]:
    limit, period = _rate(name)
    window = int(time.time() // period)
    digest = hashlib.sha256(who.encode("utf-8")).hexdigest()[:32]  # no addresses in cache keys
    return f"portal:rate:{name}:{digest}:{window}", period


def _count(name: str, who: str) -> bool:
    """Count one more attempt; True when that takes `who` over the limit."""
    key, period = _counter_key(name, who)
    cache.add(key, 0, timeout=period + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=period + 1)
        count = 1
    return count > _rate(name)[0]


def _over(name: str, who: str) -> bool:
    """Whether `who` is already over the limit, without counting."""
    key, _ = _counter_key(name, who)
    return (cache.get(key) or 0) >= _rate(name)[0]


def _client(request) -> str:
    """Who to count as one client: their address, or for IPv6 their /64 (one household)."""
    address = client_ip(request)
    if address is None:
        return "unknown"
    parsed = ipaddress.ip_address(address)
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return address


def _too_many(request, *, minutes: int) -> HttpResponse:
    response = render(request, "declarations/rate_limited.html", {"minutes": minutes}, status=429)
    response.headers["Retry-After"] = str(minutes * 60)
    return response


# Problems with a link or a session.


def _link_problem(request, *, reason: str, status: int, school=None) -> HttpResponse:
    """A friendly page: what happened, how to get a new link, who to contact. Nothing else."""
    return render(
        request, "declarations/link_problem.html", {"reason": reason, "organisation": school}, status=status
    )


def _signing_request(request) -> SigningRequest | HttpResponse:
    """The request this browser opened a link for, or the page to show instead."""
    held = request.session.get(SESSION_KEY) or {}
    signing_request = None
    if held.get("request") and held.get("link"):
        signing_request = (
            SigningRequest.objects.select_related("school", "carer", "version").filter(pk=held["request"]).first()
        )
    if signing_request is None:
        return _link_problem(request, reason="no-session", status=403)
    if signing_request.carer.school_id == signing_request.school_id:  # always: a carer is the school's
        signing_request.carer.school = signing_request.school
    if signing_request.token_hash != held["link"]:
        # Staff re-issued the link, perhaps because it went astray: this session ends with it.
        del request.session[SESSION_KEY]
        return _link_problem(request, reason="replaced", status=403, school=signing_request.school)
    if not services.link_is_live(signing_request):
        return _link_problem(request, reason="expired", status=410, school=signing_request.school)
    return signing_request


def _nothing_to_sign(request, signing_request, refused) -> HttpResponse:
    return render(
        request,
        "declarations/nothing_to_sign.html",
        {"organisation": signing_request.school, "message": str(refused)},
    )


# The pages.


@require_safe
@signing_page
def link(request, token, then="sign"):
    """The e-mailed link. A GET or HEAD never signs or consumes anything: link scanners make
    them too. A GET swaps the token for a session and records "opened"; a HEAD changes nothing.
    Then on to the signing page, or (`then="changes"`, the invitation's second link) to what
    changed since the version the carer last signed."""
    who = _client(request)
    for name, over in (("link", _count("link", who)), ("link_miss", _over("link_miss", who))):
        if over:
            return _too_many(request, minutes=max(1, _rate(name)[1] // 60))
    try:
        signing_request = services.link_check(token=token)
    except services.LinkNotFound:
        _count("link_miss", who)
        return _link_problem(request, reason="unknown", status=404)
    except services.LinkExpired as refused:
        _count("link_miss", who)
        return _link_problem(request, reason="expired", status=410, school=refused.signing_request.school)
    if request.method == "HEAD":
        return _see_other(reverse(f"signing:{then}"))
    services.link_opened(signing_request=signing_request)
    # A new session key: whoever knew this browser's old one does not share the carer's.
    request.session.cycle_key()
    request.session[SESSION_KEY] = {"request": signing_request.pk, "link": signing_request.token_hash}
    return _see_other(reverse(f"signing:{then}"))


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
    return context


@require_http_methods(["GET", "HEAD", "POST"])
@signing_form_page
def sign(request):
    signing_request = _signing_request(request)
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
                )
            except services.VersionChanged as changed:
                version = changed.version
                notice = (
                    "The school published a new version of its code while you were reading. "
                    "Nothing has been signed yet. Please read this version, then sign it."
                )
                form = SignForm(initial={"version": version.pk, "typed_name": form.cleaned_data["typed_name"]})
                status = 409
            except services.LinkExpired:
                return _link_problem(request, reason="expired", status=410, school=signing_request.school)
            except services.NothingToSign as refused:
                return _nothing_to_sign(request, signing_request, refused)
            else:
                return _see_other(reverse("signing:done"))
    if version is None:
        try:
            version = services.signing_version_for(signing_request)
        except services.NothingToSign as refused:
            return _nothing_to_sign(request, signing_request, refused)
    current, previous = selectors.latest_declarations(signing_request.carer, version)
    if current is not None:
        return _see_other(reverse("signing:done"))
    if form is None:
        form = SignForm(initial={"version": version.pk})
    context = _sign_context(signing_request, version, form, previous=previous, notice=notice)
    return render(request, "declarations/sign.html", context, status=status)


@require_safe
@signing_page
def done(request):
    """The receipt: what was signed, when, and the version's fingerprint."""
    signing_request = _signing_request(request)
    if isinstance(signing_request, HttpResponse):
        return signing_request
    try:
        version = services.signing_version_for(signing_request)
    except services.NothingToSign as refused:
        return _nothing_to_sign(request, signing_request, refused)
    declaration = selectors.current_declaration(signing_request.carer, version)
    if declaration is None:
        return _see_other(reverse("signing:sign"))
    return render(
        request,
        "declarations/done.html",
        {
            "organisation": signing_request.school,
            "declaration": declaration,
            "version": declaration.version,
            "carer": signing_request.carer,
            "statement_html": render_markdown(declaration.statement),
            "pdf": DeclarationPdf.objects.filter(declaration=declaration).first(),
        },
    )


@require_safe
@signing_page
def copy(request):
    """The carer's own copy of their declaration: its sealed PDF, as stored, for this session's
    carer only. Rendered in the background just after signing; until then, a page that says so."""
    signing_request = _signing_request(request)
    if isinstance(signing_request, HttpResponse):
        return signing_request
    try:
        version = services.signing_version_for(signing_request)
    except services.NothingToSign as refused:
        return _nothing_to_sign(request, signing_request, refused)
    declaration = selectors.current_declaration(signing_request.carer, version)
    if declaration is None:
        return _see_other(reverse("signing:sign"))
    record = DeclarationPdf.objects.filter(declaration=declaration).first()
    if record is None:
        response = render(
            request, "declarations/copy_preparing.html", {"organisation": signing_request.school}, status=202
        )
        response.headers["Retry-After"] = "5"
        return response
    return FileResponse(
        record.file.open("rb"), as_attachment=True, filename=pdf_download_name(declaration), content_type="application/pdf"
    )


@require_http_methods(["GET", "HEAD", "POST"])
@signing_form_page
def decline(request):
    """A carer who does not want to sign says so, with a message for the school."""
    signing_request = _signing_request(request)
    if isinstance(signing_request, HttpResponse):
        return signing_request
    try:
        version = services.signing_version_for(signing_request)
    except services.NothingToSign as refused:
        return _nothing_to_sign(request, signing_request, refused)
    carer = signing_request.carer
    if selectors.current_declaration(carer, version) is not None:
        return _see_other(reverse("signing:done"))
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
                notice = (
                    "The school published a new version of its code while you were on this page. "
                    "Nothing has been sent. Read the new version before you decide."
                )
                form = DeclineForm(initial={"version": version.pk, "message": form.cleaned_data["message"]})
            except services.LinkExpired:
                return _link_problem(request, reason="expired", status=410, school=signing_request.school)
            except services.SigningRefused:
                return _see_other(reverse("signing:done"))
            else:
                return _see_other(reverse("signing:declined"))
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
    signing_request = _signing_request(request)
    if isinstance(signing_request, HttpResponse):
        return signing_request
    try:
        version = services.signing_version_for(signing_request)
    except services.NothingToSign as refused:
        return _nothing_to_sign(request, signing_request, refused)
    decline = selectors.current_decline(signing_request.carer, version)
    if decline is None:
        return _see_other(reverse("signing:sign"))
    return render(
        request,
        "declarations/declined.html",
        {"organisation": signing_request.school, "version": version, "decline": decline},
    )


@require_safe
@signing_page
def changes(request):
    """What changed between the version the carer last signed and the one they are asked to sign."""
    signing_request = _signing_request(request)
    if isinstance(signing_request, HttpResponse):
        return signing_request
    try:
        version = services.signing_version_for(signing_request)
    except services.NothingToSign as refused:
        return _nothing_to_sign(request, signing_request, refused)
    previous = selectors.previous_declaration(signing_request.carer, version)
    if previous is None:
        return _see_other(reverse("signing:sign"))
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


@require_http_methods(["GET", "HEAD", "POST"])
@signing_form_page
def new_link(request):
    """Ask for a new link by e-mail address. The reply never says whether the address is known."""
    form = NewLinkForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if _count("new_link_ip", _client(request)):
            return _too_many(request, minutes=max(1, _rate("new_link_ip")[1] // 60))
        if form.is_valid():
            email = form.cleaned_data["email"].strip().lower()
            # Past this limit, say the same but send nothing: no one can flood a parent's inbox.
            if not _count("new_link_address", email):
                services.new_link_request(email=email)
            return _see_other(reverse("signing:new_link_sent"))
    return render(request, "declarations/new_link.html", {"form": form})


@require_safe
@signing_page
def new_link_sent(request):
    return render(request, "declarations/new_link_sent.html")
