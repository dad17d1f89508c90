"""Staff sign-in security pages: set up an authenticator app, verify a session, recovery codes,
and the page shown when too many wrong passwords have locked a sign-in out.

The rules live in schools/mfa.py; these views parse the form, call it and redirect.
"""

import base64
import io
from urllib.parse import urlencode

import qrcode
import qrcode.image.svg
from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from schools import mfa, services
from schools.account_forms import AuthenticatorCodeForm, RecoveryCodeForm

# The codes just made, kept in the session only until the page that shows them once.
NEW_RECOVERY_CODES_SESSION_KEY = "account_new_recovery_codes"


def _next_url(request) -> str:
    """Where to go afterwards: a `next` on this site, or the staff dashboard."""
    url = request.POST.get("next") or request.GET.get("next")
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _with_next(url_name: str, next_url: str) -> str:
    return f"{reverse(url_name)}?{urlencode({'next': next_url})}"


def _qr_code_data_uri(text: str) -> str:
    """The QR code as an SVG data: URI, so it needs no inline script or style (see SECURE_CSP)."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathFillImage, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _secret_for_typing(device) -> str:
    """The secret in base32, as authenticator apps ask for it, in groups of four to copy easily."""
    secret = base64.b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def setup(request):
    next_url = _next_url(request)
    replacing = mfa.has_authenticator(request.user)
    if replacing and not mfa.is_verified(request):
        # Changing the app needs the current one (or a recovery code): a password alone is not enough.
        return redirect(_with_next("account:verify", request.get_full_path()))
    device = mfa.authenticator_start(user=request.user)
    form = AuthenticatorCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = mfa.authenticator_confirm(request=request, device=device, code=form.cleaned_data["code"])
        except ValidationError as error:
            form.add_error("code", error)
        else:
            request.session[NEW_RECOVERY_CODES_SESSION_KEY] = codes
            return redirect(_with_next("account:recovery_codes_new", next_url))
    return render(
        request,
        "account/setup.html",
        {
            "form": form,
            "next": next_url,
            "replacing": replacing,
            "qr_code": _qr_code_data_uri(device.config_url),
            "secret": _secret_for_typing(device),
            "issuer": settings.OTP_TOTP_ISSUER,
        },
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def verify(request):
    next_url = _next_url(request)
    if not mfa.has_authenticator(request.user):
        return redirect(_with_next("account:setup", next_url))
    if mfa.is_verified(request):
        return redirect(next_url)
    app_form = AuthenticatorCodeForm(request.POST if request.POST.get("method") == "app" else None)
    recovery_form = RecoveryCodeForm(request.POST if request.POST.get("method") == "recovery" else None)
    if request.method == "POST":
        try:
            if app_form.is_bound and app_form.is_valid():
                mfa.verify_with_authenticator(request=request, code=app_form.cleaned_data["code"])
                return redirect(next_url)
            if recovery_form.is_bound and recovery_form.is_valid():
                mfa.verify_with_recovery_code(request=request, code=recovery_form.cleaned_data["recovery_code"])
                return redirect(next_url)
        except ValidationError as error:
            if app_form.is_bound:
                app_form.add_error("code", error)
            else:
                recovery_form.add_error("recovery_code", error)
    return render(
        request,
        "account/verify.html",
        {"app_form": app_form, "recovery_form": recovery_form, "next": next_url},
    )


@never_cache
@mfa.mfa_required
def recovery_codes_new(request):
    """The recovery codes just made, shown this once."""
    codes = request.session.pop(NEW_RECOVERY_CODES_SESSION_KEY, None)
    if not codes:
        return redirect("account:recovery_codes")
    return render(request, "account/recovery_codes_new.html", {"codes": codes, "next": _next_url(request)})


@never_cache
@mfa.mfa_required
@require_http_methods(["GET", "POST"])
def recovery_codes(request):
    """How many recovery codes are left, and a button to replace them all."""
    if request.method == "POST":
        request.session[NEW_RECOVERY_CODES_SESSION_KEY] = mfa.recovery_codes_replace(user=request.user)
        return redirect(_with_next("account:recovery_codes_new", reverse("account:recovery_codes")))
    return render(request, "account/recovery_codes.html", {"left": mfa.recovery_codes_left(request.user)})


def locked_out(request, original_response=None, credentials=None):
    """django-axes's lockout response (AXES_LOCKOUT_CALLABLE): a page in plain English."""
    cool_off = get_cool_off(request)
    minutes = round(cool_off.total_seconds() / 60) if cool_off else None
    return render(
        request,
        "account/locked_out.html",
        {"minutes": minutes, "failure_limit": settings.AXES_FAILURE_LIMIT},
        status=429,
    )


@never_cache
@mfa.mfa_required
@require_http_methods(["GET", "POST"])
def weekly_digest(request):
    """Turn the weekly completion e-mail off or on, for each school or association the user leads."""
    roles = list(services.weekly_digest_roles(request.user))
    if request.method == "POST":
        wanted = {role.pk for role in roles if request.POST.get(f"role-{role.pk}") == "on"}
        services.weekly_digest_choose(user=request.user, wanted=wanted)
        messages.success(request, "Saved: you will get the weekly completion e-mail for what is ticked.")
        return redirect("account:weekly_digest")
    return render(request, "account/weekly_digest.html", {"roles": roles})
