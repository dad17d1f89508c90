"""A school's (or association's) own settings, changed by its headteachers (or admins): name,
logo, brand colour, contact details, and for a school its reminders, link validity, retention
and whether new families are invited after an import. The fields are the organisation's own
(schools.models.Organisation); the rules for logos and colours are in schools/branding.py."""

from __future__ import annotations

import hashlib

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction

from schools import permissions
from schools.audit import audit_record
from schools.branding import LogoRefused, brand_colour_problem, logo_reencode
from schools.models import AuditEvent, Organisation

CONTACT_FIELDS = ["name", "brand_colour", "email", "phone", "address", "sign_in_provider", "staff_email_domain"]
SCHOOL_FIELDS = [
    *CONTACT_FIELDS,
    "reminder_days",
    "max_reminders",
    "link_valid_days",
    "declaration_retention_years",
    "invite_starters_automatically",
    "sending_hours_from",
    "sending_hours_until",
    "sending_days",
]


def settings_fields(organisation: Organisation) -> list[str]:
    return SCHOOL_FIELDS if organisation.is_school else CONTACT_FIELDS


def organisation_settings_update(
    *,
    user,
    organisation: Organisation,
    changes: dict,
    logo: bytes | None = None,
    remove_logo: bool = False,
    request=None,
) -> list[str]:
    """Change the organisation's settings; returns the names of the fields that changed.

    PermissionDenied unless the user may change its settings; ValidationError (by field) for a
    brand colour white text is not readable on (under 4.5:1), a logo that is not a PNG or JPEG
    within the limits, or any value the model refuses, and then nothing changes. A logo is drawn
    again by Pillow before it is stored. The change (field names, not values) is audited.
    """
    if not permissions.can_change_settings(user, organisation):
        raise PermissionDenied("You cannot change this organisation's settings.")
    unknown = set(changes) - set(settings_fields(organisation))
    if unknown:
        raise TypeError(f"Not a setting here: {', '.join(sorted(unknown))}")
    if "staff_email_domain" in changes:
        changes = {**changes, "staff_email_domain": changes["staff_email_domain"].strip().lower().lstrip("@")}
    if changes.get("sign_in_provider") and not changes.get("staff_email_domain", organisation.staff_email_domain):
        raise ValidationError({"staff_email_domain": "Enter your staff's e-mail domain, e.g. whitefield.sch.uk, to let them sign in with the provider."})
    if "brand_colour" in changes and (problem := brand_colour_problem(changes["brand_colour"])):
        raise ValidationError({"brand_colour": problem})
    png = None
    if logo is not None:
        try:
            png = logo_reencode(logo)
        except LogoRefused as refused:
            raise ValidationError({"logo": str(refused)}) from None
    with transaction.atomic():
        organisation = Organisation.objects.select_for_update().get(pk=organisation.pk)
        changed = [name for name, value in changes.items() if getattr(organisation, name) != value]
        for name in changed:
            setattr(organisation, name, changes[name])
        organisation.full_clean(exclude=["logo"])
        if png is not None:
            name = f"{organisation.slug}-{hashlib.sha256(png).hexdigest()[:12]}.png"
            organisation.logo.save(name, ContentFile(png), save=False)
            changed.append("logo")
        elif remove_logo and organisation.logo:
            organisation.logo = ""
            changed.append("logo")
        if not changed:
            return []
        organisation.save()
        audit_record(
            actor=user,
            school=organisation,
            action=AuditEvent.Action.SETTINGS_CHANGE,
            target=f"Organisation #{organisation.pk}",
            detail={"changed": changed},
            request=request,
        )
    return changed
