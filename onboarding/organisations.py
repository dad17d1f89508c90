"""Creating organisations, and associations' member schools.

A new deployment starts with `manage.py setup_organisation` (organisation_create with no user);
an association's admins create member schools (organisation_create) or add existing ones and
remove them (member_add, member_remove). Each change is in the audit log of the organisations
concerned.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.text import slugify

from codes import services as code_services
from codes.models import Code
from onboarding import invitations
from schools import permissions
from schools.audit import audit_record
from portal.tasks import enqueue_with_transaction
from schools.models import AuditEvent, Organisation, StaffRole
from sending.scheduler import invite_joined_school

Kind = Organisation.Kind
Role = StaffRole.Role


def unique_slug(name: str) -> str:
    base = slugify(name)[:70] or "organisation"
    slug, n = base, 2
    while Organisation.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def organisation_create(
    *,
    user,
    kind: str,
    name: str,
    first_email: str,
    slug: str = "",
    association: Organisation | None = None,
    job_title: str = "",
    request=None,
):
    """Create a school or association, with an empty draft code of its own (unless it is a school
    that adopts its association's code), and invite its first headteacher (or association admin).

    `user` None is the operator's setup_organisation command; otherwise the user must be an admin
    of `association` and `kind` a school. Returns (organisation, invitation).
    """
    name = name.strip()
    if not name:
        raise ValidationError("Enter the name of the school or association.")
    if kind == Kind.ASSOCIATION and association is not None:
        raise ValidationError("An association cannot belong to another association.")
    if association is not None and not association.is_association:
        raise ValidationError(f"{association.name} is not an association.")
    if user is not None and (kind != Kind.SCHOOL or association is None or not permissions.can_manage_members(user, association)):
        raise PermissionDenied("You can only create schools in your own association.")
    slug = slug or unique_slug(name)
    if Organisation.objects.filter(slug=slug).exists():
        raise ValidationError(f"The web address /schools/{slug}/ is taken. Choose another.")
    with transaction.atomic():
        organisation = Organisation.objects.create(kind=kind, name=name, slug=slug, association=association)
        if association is None:
            code = Code.objects.create(owner=organisation)
            code_services.version_create_first(code=code, user=None, body="")
        else:
            _record_membership(user=user, school=organisation, association=association, joined=True, request=request)
            enqueue_with_transaction(invite_joined_school, organisation.pk)
        first_role = Role.HEADTEACHER if kind == Kind.SCHOOL else Role.ASSOCIATION_ADMIN
        invitation = invitations.invitation_create(
            user=user, organisation=organisation, email=first_email, role=first_role, job_title=job_title, request=request
        )
    return organisation, invitation


def _record_membership(*, user, school, association, joined: bool, request=None) -> None:
    action = AuditEvent.Action.MEMBER_ADD if joined else AuditEvent.Action.MEMBER_REMOVE
    detail = {"school": school.slug, "association": association.slug}
    for organisation in (school, association):
        audit_record(actor=user, school=organisation, action=action, target=f"Organisation #{school.pk}",
                     detail=detail, request=request)


def member_add(*, user, association: Organisation, school: Organisation, request=None) -> None:
    """An existing school joins the association (one that belongs to no other): it adopts the
    association's code, and its carers are invited to sign the version in force, in the
    background, whenever it joins. Audited in both organisations' logs."""
    if not permissions.can_manage_members(user, association):
        raise PermissionDenied("You can only manage your own association's members.")
    with transaction.atomic():
        school = Organisation.objects.select_for_update().get(pk=school.pk)
        if not school.is_school:
            raise ValidationError(f"{school.name} is not a school.")
        if school.association_id == association.pk:
            raise ValidationError(f"{school.name} is already a member.")
        if school.association_id is not None:
            raise ValidationError(f"{school.name} belongs to another association. It must leave that one first.")
        school.association = association
        school.save(update_fields=["association"])
        _record_membership(user=user, school=school, association=association, joined=True, request=request)
        enqueue_with_transaction(invite_joined_school, school.pk)


def member_remove(*, user, association: Organisation, school: Organisation, request=None) -> None:
    """A school leaves the association. Its pupils, carers and declarations stay with it (they
    were always the school's); it no longer adopts the association's code. Audited in both logs."""
    if not permissions.can_manage_members(user, association):
        raise PermissionDenied("You can only manage your own association's members.")
    with transaction.atomic():
        school = Organisation.objects.select_for_update().get(pk=school.pk)
        if school.association_id != association.pk:
            raise ValidationError(f"{school.name} is not a member of {association.name}.")
        school.association = None
        school.save(update_fields=["association"])
        _record_membership(user=user, school=school, association=association, joined=False, request=request)
