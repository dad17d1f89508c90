"""Demo staff accounts for trying the portal out. Never in production (PORTAL_ENV=production).

Staff need a second factor after the password (schools/mfa.py), so each demo account also gets an
authenticator app with a fixed, published secret and a fixed set of one-time recovery codes:
a newcomer signs in with a recovery code, or adds the secret to an authenticator app, or prints
the current code with `manage.py demo_totp USERNAME`.
"""

import base64
from typing import NamedTuple

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from schools import mfa
from schools.models import Organisation, StaffRole
from sending.hours import AT_ANY_TIME

DEMO_PASSWORD = "demo-portal-2026"
# Base32, as authenticator apps take it. Public on purpose: it only ever exists in development.
DEMO_TOTP_SECRET = "DEMOPORTALDEMOPORTALDEMOPORTAL22"
DEMO_RECOVERY_CODES = tuple(f"demo{n:04d}" for n in range(1, 11))  # demo0001 ... demo0010
DEMO_AUTHENTICATOR_NAME = "Demo authenticator (development only)"
SENDING_HOURS = ("sending_hours_from", "sending_hours_until", "sending_days")

# username, full name, role, organisation slug, job title
DEMO_ACCOUNTS = [
    ("head.whitefield", "Hannah Wright", StaffRole.Role.HEADTEACHER, "whitefield-primary", "Headteacher"),
    ("office.whitefield", "Omar Farooq", StaffRole.Role.OFFICE, "whitefield-primary", "School Business Manager"),
    ("head.alsop", "Alex Morgan", StaffRole.Role.HEADTEACHER, "alsop-high", "Headteacher"),
    ("head.peartree", "Priya Shah", StaffRole.Role.HEADTEACHER, "peartree-spring-primary", "Headteacher"),
    ("admin.halton-secondary", "Sam Taylor", StaffRole.Role.ASSOCIATION_ADMIN, "halton-secondary", "Association Secretary"),
    ("admin.halton-primary", "Jo Evans", StaffRole.Role.ASSOCIATION_ADMIN, "halton-primary", "Association Secretary"),
    ("office.ashley", "Chris Doyle", StaffRole.Role.OFFICE, "ashley-high-school", "Office Manager"),
]


class DemoAccount(NamedTuple):
    username: str
    role: str
    organisation: str
    recovery_codes: list[str]  # the demo recovery codes this account has not used yet
    demo_authenticator: bool  # False if someone has since set up their own app for it


def demo_totp_key_hex() -> str:
    return base64.b32decode(DEMO_TOTP_SECRET).hex()


@transaction.atomic
def load_demo_accounts() -> list[DemoAccount]:
    """Create the demo accounts if missing; never changes an existing account's password.

    Each new account gets a confirmed authenticator app with DEMO_TOTP_SECRET and the recovery
    codes DEMO_RECOVERY_CODES. An account that already has an app or recovery codes keeps them.
    Returns each account with its sign-in details, for printing.
    """
    if settings.PRODUCTION:
        raise ImproperlyConfigured("Demo accounts are never created with PORTAL_ENV=production.")
    User = get_user_model()
    rows = []
    for username, full_name, role, slug, job_title in DEMO_ACCOUNTS:
        organisation = Organisation.objects.filter(slug=slug).first()
        if organisation is None:
            continue
        first, last = full_name.split(" ", 1)
        user, created = User.objects.get_or_create(
            username=username, defaults={"first_name": first, "last_name": last, "email": f"{username}@example.org"}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        StaffRole.objects.get_or_create(
            user=user, organisation=organisation, role=role, defaults={"job_title": job_title}
        )
        _give_demo_second_factor(user)
        rows.append(
            DemoAccount(
                username=username,
                role=StaffRole.Role(role).label,
                organisation=organisation.name,
                recovery_codes=demo_recovery_codes_left(user),
                demo_authenticator=demo_authenticator_for(user) is not None,
            )
        )
    return rows


def _give_demo_second_factor(user) -> None:
    if settings.PRODUCTION:
        raise ImproperlyConfigured("Demo sign-in codes are never created with PORTAL_ENV=production.")
    if not TOTPDevice.objects.filter(user=user).exists():
        TOTPDevice.objects.create(user=user, name=DEMO_AUTHENTICATOR_NAME, key=demo_totp_key_hex(), confirmed=True)
    if not StaticDevice.objects.filter(user=user).exists():
        device = StaticDevice.objects.create(user=user, name=mfa.RECOVERY_CODES_NAME)
        StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in DEMO_RECOVERY_CODES)


def demo_recovery_codes_left(user) -> list[str]:
    unused = set(
        StaticToken.objects.filter(device__user=user, token__in=DEMO_RECOVERY_CODES).values_list("token", flat=True)
    )
    return [code for code in DEMO_RECOVERY_CODES if code in unused]


def demo_authenticator_for(user) -> TOTPDevice | None:
    """The account's authenticator app if it is the demo one (with the published secret)."""
    device = mfa.authenticator_for(user)
    return device if device is not None and device.key == demo_totp_key_hex() else None


def demo_totp_code(username: str) -> str:
    """The 6-digit code a demo account's authenticator app would show now."""
    if settings.PRODUCTION:
        raise ImproperlyConfigured("Demo sign-in codes are never available with PORTAL_ENV=production.")
    if username not in {account[0] for account in DEMO_ACCOUNTS}:
        raise ValueError(f"{username} is not a demo account. Demo accounts: {', '.join(a[0] for a in DEMO_ACCOUNTS)}.")
    user = get_user_model().objects.filter(username=username).first()
    device = demo_authenticator_for(user) if user is not None else None
    if device is None:
        raise ValueError(
            f"{username} has no demo authenticator app. Run `manage.py load_demo` first"
            " (an account whose app was changed in the portal keeps its own)."
        )
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def open_demo_sending_hours() -> int:
    """Let the demo schools send at any time of day, every day, so that a send tried in the
    evening or at a weekend arrives at once (in var/mail/). Only schools still on the portal's
    default hours: hours someone set on a settings page to try them are kept. Returns how many."""
    default = {field: Organisation._meta.get_field(field).default for field in SENDING_HOURS}
    return Organisation.objects.filter(kind=Organisation.Kind.SCHOOL, **default).update(**AT_ANY_TIME)
