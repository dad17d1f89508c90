"""Staff multi-factor authentication: the one place for its rules.

Staff sign in with a password, then prove a second factor once per session before any view that
shows pupils' or carers' personal data, as the DfE cyber security standards for schools expect.
The second factor is an authenticator app (TOTP: django-otp's TOTPDevice), with one-time
recovery codes (django-otp's StaticDevice) for when the phone is lost or left at home.

django-otp does the cryptography, refuses a code already used, and throttles wrong codes per
device with an exponential back-off (1, 2, 4, 8... seconds); its OTPMiddleware marks
`request.user` verified for the rest of the session. Signing out ends the verification.
"""

import functools
import math
from urllib.parse import urlencode

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from schools.models import ProviderSignIn

AUTHENTICATOR_NAME = "Authenticator app"
RECOVERY_CODES_NAME = "Recovery codes"
RECOVERY_CODE_COUNT = 10


def authenticator_for(user) -> TOTPDevice | None:
    """The user's confirmed authenticator app, if they have set one up."""
    if not user.is_authenticated:
        return None
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).order_by("-pk").first()


def has_authenticator(user) -> bool:
    return authenticator_for(user) is not None


def is_verified(request) -> bool:
    """Whether this session has passed the second factor (set by django-otp's OTPMiddleware)."""
    user = request.user
    return bool(user.is_authenticated and getattr(user, "is_verified", lambda: False)())


def _with_next(url_name: str, next_url: str | None) -> str:
    url = reverse(url_name)
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def second_factor_redirect(request, next_url: str | None) -> str | None:
    """Where a signed-in member of staff must go before `next_url`, or None if they may go on.

    No authenticator app yet: set one up. One, but this session has not used it: verify.
    """
    user = request.user
    if is_verified(request) and isinstance(getattr(user, "otp_device", None), (TOTPDevice, ProviderSignIn)):
        # Verified with the app itself (so it exists: no query needed), or by a Microsoft or
        # Google sign-in that reported multi-factor authentication, which stands in for the app.
        return None
    if not has_authenticator(user):
        return _with_next("account:setup", next_url)
    if not is_verified(request):
        return _with_next("account:verify", next_url)
    return None


def mfa_required(view):
    """Staff views that show pupil or carer data: signed in AND verified with a second factor.

    Anonymous visitors go to the sign-in page; signed-in staff without an authenticator app to
    set-up; staff whose session has not used it yet to the verify page. Each comes back here after.
    """

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        step = second_factor_redirect(request, request.get_full_path())
        if step is not None:
            return redirect(step)
        return view(request, *args, **kwargs)

    return wrapper


# Setting up and using the second factor.


def authenticator_start(*, user) -> TOTPDevice:
    """The unconfirmed authenticator being set up: the same secret every time the page is shown
    (so a QR code scanned before a reload still works) until it is confirmed."""
    with transaction.atomic():
        device = TOTPDevice.objects.devices_for_user(user, confirmed=False).order_by("-pk").first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)
    return device


def authenticator_confirm(*, request, device: TOTPDevice, code: str) -> list[str]:
    """Confirm a new authenticator app with a code it shows, and verify this session with it.

    It replaces any earlier authenticator app, and comes with a fresh set of recovery codes
    (returned, to be shown once). Raises ValidationError for a wrong code; wrong codes are
    throttled like any other.
    """
    if device.user_id != request.user.pk or device.confirmed:
        raise ValidationError("This set-up has expired. Start again.")
    device = _check_code(device, code)
    with transaction.atomic():
        TOTPDevice.objects.filter(user=request.user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = recovery_codes_replace(user=request.user)
    _verify_session(request, device)
    return codes


def verify_with_authenticator(*, request, code: str) -> None:
    """Verify this session with a 6-digit code from the user's authenticator app."""
    device = authenticator_for(request.user)
    if device is None:
        raise ValidationError("You have not set up an authenticator app yet.")
    _verify_session(request, _check_code(device, code))


def verify_with_recovery_code(*, request, code: str) -> None:
    """Verify this session with one of the user's recovery codes, which then stops working."""
    device = StaticDevice.objects.devices_for_user(request.user, confirmed=True).order_by("pk").first()
    if device is None:
        raise ValidationError("That recovery code is not right. Check it and try again.")
    _verify_session(request, _check_code(device, normalise_recovery_code(code), what="recovery code"))


def verify_with_provider(*, request, provider: str) -> None:
    """Count a Microsoft or Google sign-in as this session's second factor. Only for a sign-in
    whose ID token's `amr` claim says multi-factor authentication was used (onboarding/oidc.py)."""
    device, _ = ProviderSignIn.objects.get_or_create(
        user=request.user, provider=provider, defaults={"name": f"Sign-in with {provider}", "confirmed": True}
    )
    _verify_session(request, device)


def recovery_codes_replace(*, user) -> list[str]:
    """A fresh set of one-time recovery codes for the user; every earlier one stops working.

    Returns the new codes: they are shown to the user once.
    """
    with transaction.atomic():
        device = StaticDevice.objects.devices_for_user(user).order_by("pk").first()
        if device is None:
            device = StaticDevice.objects.create(user=user, name=RECOVERY_CODES_NAME)
        device.token_set.all().delete()
        codes = []
        while len(codes) < RECOVERY_CODE_COUNT:
            code = StaticToken.random_token()
            if code not in codes:
                codes.append(code)
        StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def recovery_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def normalise_recovery_code(code: str) -> str:
    """Recovery codes are stored in lower case; people type them with spaces, dashes or capitals."""
    return "".join(code.split()).replace("-", "").lower()


def _check_code(device, code: str, *, what="code"):
    """The device, locked and updated, if `code` is right for it; ValidationError otherwise.

    Deliberately no transaction around the failure path: the throttling counter django-otp keeps
    on the device must be saved when a code is wrong.
    """
    allowed, details = device.verify_is_allowed()
    if not allowed:
        raise ValidationError(_throttled_message(details))
    with transaction.atomic():
        locked = type(device).objects.select_for_update().get(pk=device.pk)
        right = locked.verify_token(code)
    if not right:
        locked.refresh_from_db()
        allowed, details = locked.verify_is_allowed()
        if not allowed and details.get("failure_count", 0) > 2:
            raise ValidationError(f"That {what} is not right. " + _throttled_message(details))
        raise ValidationError(f"That {what} is not right. Check it and try again.")
    return locked


def _throttled_message(details) -> str:
    details = details or {}
    failures = details.get("failure_count", 1)
    locked_until = details.get("locked_until")
    seconds = max(1, math.ceil((locked_until - timezone.now()).total_seconds())) if locked_until else 1
    wait = f"{seconds} second{'s' if seconds != 1 else ''}" if seconds <= 90 else f"{math.ceil(seconds / 60)} minutes"
    return f"After {failures} wrong code{'s' if failures != 1 else ''} in a row, wait {wait} before trying again."


def _verify_session(request, device) -> None:
    otp_login(request, device)
    # A new session id once the second factor is passed, as Django does after the password.
    request.session.cycle_key()
