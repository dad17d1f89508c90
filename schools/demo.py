"""Demo staff accounts for trying the portal out. Never in production (PORTAL_ENV=production)."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from schools.models import Organisation, StaffRole

DEMO_PASSWORD = "demo-portal-2026"

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


@transaction.atomic
def load_demo_accounts() -> list[tuple[str, str, str]]:
    """Create the demo accounts if missing; never changes an existing account's password.

    Returns (username, role, organisation) for each account, for printing.
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
        rows.append((username, StaffRole.Role(role).label, organisation.name))
    return rows
