"""Who may see and do what: the one place for the portal's access rules.

Staff act for organisations through StaffRole rows. A headteacher or office staff member acts
for one school; an association admin acts for an association and can see its member schools.
Views ask these functions; they never decide access themselves.
"""

from django.db.models import Q

from schools.models import Organisation, StaffRole

Role = StaffRole.Role


def _roles(user):
    if not user.is_authenticated:
        return StaffRole.objects.none()
    return StaffRole.objects.filter(user=user)


def is_staff_member(user) -> bool:
    return _roles(user).exists()


def managed_organisations(user):
    """Organisations whose own code this user may draft and publish."""
    return Organisation.objects.filter(
        Q(staff_roles__user=user, staff_roles__role=Role.HEADTEACHER, kind=Organisation.Kind.SCHOOL)
        | Q(staff_roles__user=user, staff_roles__role=Role.ASSOCIATION_ADMIN, kind=Organisation.Kind.ASSOCIATION)
    ).distinct() if user.is_authenticated else Organisation.objects.none()


def visible_schools(user):
    """Schools whose staff pages this user may see: their own, or an association's members."""
    if not user.is_authenticated:
        return Organisation.objects.none()
    return Organisation.objects.filter(
        Q(kind=Organisation.Kind.SCHOOL)
        & (
            Q(staff_roles__user=user, staff_roles__role__in=[Role.HEADTEACHER, Role.OFFICE])
            | Q(association__staff_roles__user=user, association__staff_roles__role=Role.ASSOCIATION_ADMIN)
        )
    ).distinct()


def completion_schools(user):
    """Schools whose completion figures (counts only, never a carer's name) this user may see:
    their own school as headteacher or office staff, or their association's member schools."""
    return visible_schools(user)


def administered_associations(user):
    """Associations whose member schools' completion figures this user may see side by side."""
    if not user.is_authenticated:
        return Organisation.objects.none()
    return Organisation.objects.filter(
        kind=Organisation.Kind.ASSOCIATION, staff_roles__user=user, staff_roles__role=Role.ASSOCIATION_ADMIN
    ).distinct()


def can_manage_code(user, code) -> bool:
    """Headteachers manage their school's own code; association admins their association's."""
    return managed_organisations(user).filter(pk=code.owner_id).exists()


def can_view_code_admin(user, code) -> bool:
    """Staff pages of a code: its managers, and staff of schools that use it (read-only)."""
    if can_manage_code(user, code):
        return True
    return visible_schools(user).filter(Q(pk=code.owner_id) | Q(association_id=code.owner_id)).exists()


def family_schools(user):
    """Schools whose pupils and carers this user may see and import: a headteacher's or office
    staff member's own school, nothing else.

    Association admins see their members' completion figures, never their families; a superuser
    without a role at the school gets nothing here either (least privilege).
    """
    if not user.is_authenticated:
        return Organisation.objects.none()
    return Organisation.objects.filter(
        kind=Organisation.Kind.SCHOOL,
        staff_roles__user=user,
        staff_roles__role__in=[Role.HEADTEACHER, Role.OFFICE],
    ).distinct()


def can_manage_families(user, school) -> bool:
    """See the school's pupils and carers, import them, and export one carer's data."""
    return family_schools(user).filter(pk=school.pk).exists()


def _is_headteacher_of(user, school_id) -> bool:
    return _roles(user).filter(organisation_id=school_id, role=Role.HEADTEACHER).exists()


def can_read_audit_log(user, school) -> bool:
    """The school's audit log: its headteacher only (office staff's own actions are in it)."""
    return _is_headteacher_of(user, school.pk)


def can_erase_carer(user, carer) -> bool:
    """Erasing a carer's personal data cannot be undone: the headteacher of the carer's school."""
    return _is_headteacher_of(user, carer.school_id)


# Staff accounts, organisation settings and association members (onboarding/).


def _is_association_admin_of(user, association_id) -> bool:
    return _roles(user).filter(organisation_id=association_id, role=Role.ASSOCIATION_ADMIN).exists()


def invitable_roles(user, organisation) -> list[str]:
    """The roles this user may invite someone to at `organisation`: a school's headteachers invite
    headteachers and office staff; an association's admins invite other admins, and headteachers
    of its member schools."""
    if not user.is_authenticated:
        return []
    if organisation.is_school:
        if _is_headteacher_of(user, organisation.pk):
            return [Role.HEADTEACHER, Role.OFFICE]
        if organisation.association_id and _is_association_admin_of(user, organisation.association_id):
            return [Role.HEADTEACHER]
        return []
    return [Role.ASSOCIATION_ADMIN] if _is_association_admin_of(user, organisation.pk) else []


def can_manage_staff(user, organisation) -> bool:
    """Change people's roles and remove them: a school's headteachers, an association's admins."""
    return managed_organisations(user).filter(pk=organisation.pk).exists()


def can_see_staff(user, organisation) -> bool:
    """The organisation's staff page: those who manage its staff or may invite anyone to it."""
    return can_manage_staff(user, organisation) or bool(invitable_roles(user, organisation))


def can_change_settings(user, organisation) -> bool:
    """A school's settings (name, branding, contact details, timings): its headteachers; an
    association's: its admins."""
    return managed_organisations(user).filter(pk=organisation.pk).exists()


def can_manage_members(user, association) -> bool:
    """Add, create and remove an association's member schools: its admins."""
    return association.is_association and _is_association_admin_of(user, association.pk)


def may_sign_in_with(user, *, provider: str, email: str) -> bool:
    """Whether signing in with `provider` as `email` may open this (invited, active) account: the
    address is the account's own, and it has a role at an organisation that chose this provider
    with the address's domain as its staff e-mail domain."""
    if not user.is_active or not email or user.email.lower() != email.lower():
        return False
    domain = email.rsplit("@", 1)[-1].lower()
    return _roles(user).filter(
        organisation__sign_in_provider=provider, organisation__staff_email_domain=domain
    ).exists()
# Other systems: API keys and webhook endpoints (api/, webhooks/). A key acts for the member of
# staff who made it, within the organisation it was made for: it never reaches more than they
# may, and stops reaching anything once they no longer hold their role.


def can_manage_integrations(user, organisation) -> bool:
    """Make and revoke API keys and webhook endpoints: a school's headteachers, an association's
    admins (those who manage its own code)."""
    return managed_organisations(user).filter(pk=organisation.pk).exists()


def integration_schools(user, organisation):
    """Schools whose public details, codes and completion an API key of `organisation` made by
    `user` may read: the school itself, or an association's member schools."""
    return visible_schools(user).filter(Q(pk=organisation.pk) | Q(association_id=organisation.pk))


def integration_family_schools(user, organisation):
    """Schools whose pupils, carers and declarations such a key may read, import, invite and
    export: only the key's own school, and only while its maker may manage its families (never
    an association's members: their admins see figures, not families)."""
    return family_schools(user).filter(pk=organisation.pk)
