"""Staff accounts: inviting people, accepting an invitation, changing roles and removing people.

Who may do what is decided in schools/permissions.py; every change is recorded in the
organisation's audit log (schools/audit.py) in the same transaction as the change.

An invitation link works for 7 days and once. Its token is an HMAC-SHA256 of the invitation's id
and a random nonce under the portal's secret (as signing links are: declarations/tokens.py), so
only its SHA-256 is stored and the worker that e-mails it can write it again from the id.
"""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from declarations.tokens import hash_token
from onboarding.emails import send_staff_invitation
from onboarding.models import INVITATION_VALID, StaffInvitation
from onboarding.tokens import invitation_token
from portal.tasks import enqueue_with_transaction
from schools import permissions
from schools.audit import audit_record
from schools.models import AuditEvent, Organisation, StaffRole

Role = StaffRole.Role
# Roles an organisation cannot be left without: someone must be able to invite the next person.
LEADING_ROLE = {Organisation.Kind.SCHOOL: Role.HEADTEACHER, Organisation.Kind.ASSOCIATION: Role.ASSOCIATION_ADMIN}


def invitation_for_token(token: str) -> StaffInvitation | None:
    """The invitation whose link this is, if it is still open (unused, not withdrawn, not expired)."""
    invitation = (
        StaffInvitation.objects.select_related("organisation").filter(token_hash=hash_token(token)).first()
    )
    return invitation if invitation is not None and invitation.is_open else None


def existing_user_for(email: str):
    return get_user_model().objects.filter(email__iexact=email, is_active=True).order_by("pk").first()


def invitation_create(
    *, user, organisation: Organisation, email: str, role: str, job_title: str = "", request=None
) -> StaffInvitation:
    """Invite `email` to take `role` at `organisation`, and queue the e-mail with its link.

    PermissionDenied unless `user` may invite to that role there (`user` None is the operator's
    setup_organisation command). ValidationError if the person already has that role, or the
    role does not fit the organisation. An open invitation to the same address and role is
    withdrawn: only the newest link works. Recorded in the audit log.
    """
    email = email.strip()
    if user is not None and role not in permissions.invitable_roles(user, organisation):
        raise PermissionDenied("You cannot invite people to that role here.")
    if (role == Role.ASSOCIATION_ADMIN) != organisation.is_association:
        raise ValidationError("Association admins act for an association; headteachers and office staff for a school.")
    if StaffRole.objects.filter(organisation=organisation, role=role, user__email__iexact=email).exists():
        raise ValidationError(f"{email} is already {Role(role).label.lower()} at {organisation.name}.")
    now = timezone.now()
    with transaction.atomic():
        StaffInvitation.objects.filter(
            organisation=organisation, email__iexact=email, role=role, accepted_at__isnull=True, revoked_at__isnull=True
        ).update(revoked_at=now)
        invitation = StaffInvitation.objects.create(
            organisation=organisation,
            email=email,
            role=role,
            job_title=job_title,
            nonce=secrets.token_hex(16),
            invited_by=user,
            created_at=now,
            expires_at=now + INVITATION_VALID,
        )
        invitation.token_hash = hash_token(invitation_token(invitation))
        invitation.save(update_fields=["token_hash"])
        audit_record(
            actor=user,
            school=organisation,
            action=AuditEvent.Action.STAFF_INVITE,
            target=f"Invitation #{invitation.pk}",
            detail={"role": role},
            request=request,
        )
        enqueue_with_transaction(send_staff_invitation, invitation.pk)
    return invitation


def invitation_revoke(*, user, invitation: StaffInvitation, request=None) -> None:
    """Withdraw an invitation not yet accepted: its link stops working."""
    if not permissions.can_see_staff(user, invitation.organisation):
        raise PermissionDenied("You cannot manage staff here.")
    with transaction.atomic():
        changed = StaffInvitation.objects.filter(
            pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True
        ).update(revoked_at=timezone.now())
        if changed:
            audit_record(
                actor=user,
                school=invitation.organisation,
                action=AuditEvent.Action.STAFF_INVITE_REVOKE,
                target=f"Invitation #{invitation.pk}",
                request=request,
            )


def invitation_accept(
    *, invitation_id: int, user=None, first_name: str = "", last_name: str = "", password: str = "", request=None
):
    """Use an invitation: give its role to `user` (an existing account whose e-mail address is the
    one invited), or to a new account made here with the invited address as its username and
    e-mail, `first_name`, `last_name` and `password`. Returns the user.

    Works once: the invitation is locked, checked open and marked accepted in one transaction,
    so two tabs submitting together give one account and one role. ValidationError when the
    invitation has been used, withdrawn or has expired, or the user's address is not the one invited.
    """
    with transaction.atomic():
        invitation = (
            StaffInvitation.objects.select_for_update().select_related("organisation").filter(pk=invitation_id).first()
        )
        if invitation is None or not invitation.is_open:
            raise ValidationError(
                "This invitation has already been used, was withdrawn, or has expired. "
                "Ask whoever invited you to send a new one."
            )
        if user is None:
            if existing_user_for(invitation.email) is not None:
                raise ValidationError("You already have an account: sign in, then open the invitation again.")
            if get_user_model().objects.filter(username__iexact=invitation.email).exists():
                raise ValidationError(
                    "There is already an account with this address as its username. Ask whoever invited you "
                    "to invite that account's e-mail address instead."
                )
            user = get_user_model().objects.create_user(
                username=invitation.email.lower(),
                email=invitation.email,
                password=password,
                first_name=first_name,
                last_name=last_name,
            )
        elif user.email.lower() != invitation.email.lower():
            raise ValidationError(f"This invitation is for {invitation.email}. Sign in with that account to accept it.")
        StaffRole.objects.get_or_create(
            user=user,
            organisation=invitation.organisation,
            role=invitation.role,
            defaults={"job_title": invitation.job_title},
        )
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        audit_record(
            actor=user,
            school=invitation.organisation,
            action=AuditEvent.Action.STAFF_JOIN,
            target=f"User #{user.pk}",
            detail={"role": invitation.role, "invitation": invitation.pk},
            request=request,
        )
    return user


def _check_leaves_someone_in_charge(staff_role: StaffRole, *, new_role: str | None) -> None:
    leading = LEADING_ROLE[staff_role.organisation.kind]
    if staff_role.role != leading or new_role == leading:
        return
    others = (
        StaffRole.objects.select_for_update()
        .filter(organisation=staff_role.organisation, role=leading, user__is_active=True)
        .exclude(pk=staff_role.pk)
    )
    if not others.exists():
        raise ValidationError(
            f"{staff_role.organisation.name} needs at least one {Role(leading).label.lower()}. "
            f"Invite another {Role(leading).label.lower()} first."
        )


def staff_role_change(*, user, staff_role: StaffRole, role: str, request=None) -> StaffRole:
    """Change someone's role at a school (headteacher ⇄ office staff). Refused for the last
    headteacher, who would leave the school with nobody to manage its staff."""
    organisation = staff_role.organisation
    if not permissions.can_manage_staff(user, organisation):
        raise PermissionDenied("You cannot manage staff here.")
    if not organisation.is_school or role not in (Role.HEADTEACHER, Role.OFFICE):
        raise ValidationError("Choose headteacher or office staff.")
    with transaction.atomic():
        staff_role = StaffRole.objects.select_for_update().select_related("organisation").get(pk=staff_role.pk)
        if staff_role.role == role:
            return staff_role
        _check_leaves_someone_in_charge(staff_role, new_role=role)
        previous = staff_role.role
        if StaffRole.objects.filter(user_id=staff_role.user_id, organisation=organisation, role=role).exists():
            staff_role.delete()  # they held both roles: keep the one chosen
        else:
            staff_role.role = role
            staff_role.save(update_fields=["role"])
        audit_record(
            actor=user,
            school=organisation,
            action=AuditEvent.Action.STAFF_ROLE_CHANGE,
            target=f"User #{staff_role.user_id}",
            detail={"from": previous, "to": role},
            request=request,
        )
    return staff_role


def staff_remove(*, user, staff_role: StaffRole, request=None) -> None:
    """Take someone's role at an organisation away (their account stays, with any other roles).
    Refused for its last headteacher (or an association's last admin), themselves included."""
    organisation = staff_role.organisation
    if not permissions.can_manage_staff(user, organisation):
        raise PermissionDenied("You cannot manage staff here.")
    with transaction.atomic():
        staff_role = StaffRole.objects.select_for_update().select_related("organisation").filter(pk=staff_role.pk).first()
        if staff_role is None:
            return
        _check_leaves_someone_in_charge(staff_role, new_role=None)
        staff_role.delete()
        audit_record(
            actor=user,
            school=organisation,
            action=AuditEvent.Action.STAFF_REMOVE,
            target=f"User #{staff_role.user_id}",
            detail={"role": staff_role.role},
            request=request,
        )
