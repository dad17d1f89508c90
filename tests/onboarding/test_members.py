"""Associations manage their members: add an existing school, create one with its first
headteacher's invitation, remove one; a school that joins after the code came into force is
invited to sign it straight away."""

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from onboarding import organisations
from onboarding.models import StaffInvitation
from schools.models import AuditEvent, StaffRole
from sending.models import OutboxMessage, ScheduledStep
from tests.declarations.factories import family
from tests.factories import (
    CodeFactory,
    SchoolFactory,
    StaffRoleFactory,
    invitations_taken,
    published_version,
)


@pytest.fixture
def admin(association, client, verified_client):
    user = StaffRoleFactory(organisation=association, role=StaffRole.Role.ASSOCIATION_ADMIN).user
    verified_client(client, user)
    return user


@pytest.fixture
def code_in_force(association):
    """The association's code, in force since 1 September and its invitations long since sent."""
    SchoolFactory(association=association)
    return invitations_taken(published_version(CodeFactory(owner=association)))


def test_a_school_joining_after_the_code_came_into_force_is_invited_to_sign_it(
    client, association, admin, code_in_force, django_capture_on_commit_callbacks
):
    school = SchoolFactory(slug="whitefield")
    carer = family(school, email="mary@example.org")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/staff/organisations/{association.slug}/members/", {"action": "add", "school": "whitefield"})

    assert response.status_code == 302
    school.refresh_from_db()
    assert school.association == association
    assert OutboxMessage.objects.filter(carer=carer, version=code_in_force, kind="invitation", status="sent").exists()
    assert [email.to for email in mail.outbox] == [["mary@example.org"]]
    step = ScheduledStep.objects.get(school=school, kind="invite")
    assert step.done_at is not None and "Invited 1 carer" in step.outcome
    assert AuditEvent.objects.filter(action=AuditEvent.Action.MEMBER_ADD, school=school).exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.MEMBER_ADD, school=association).exists()


def test_joining_twice_invites_nobody_twice(association, admin, code_in_force, django_capture_on_commit_callbacks):
    school = SchoolFactory()
    family(school, email="mary@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        organisations.member_add(user=admin, association=association, school=school)
    organisations.member_remove(user=admin, association=association, school=school)
    with django_capture_on_commit_callbacks(execute=True):
        organisations.member_add(user=admin, association=association, school=school)

    assert len(mail.outbox) == 1


def test_an_admin_creates_a_member_school_and_invites_its_headteacher(
    client, association, admin, code_in_force, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/staff/organisations/{association.slug}/members/",
                    {"action": "create", "name": "Ashley High School", "headteacher_email": "head@ashley.example.org"})

    school = association.members.get(name="Ashley High School")
    invitation = StaffInvitation.objects.get(organisation=school)
    assert invitation.role == StaffRole.Role.HEADTEACHER
    assert [email.to for email in mail.outbox] == [["head@ashley.example.org"]]


def test_removing_a_school_keeps_its_families_and_declarations(client, association, admin, code_in_force):
    school = association.members.get()
    carer = family(school)

    client.post(f"/staff/organisations/{association.slug}/members/{school.pk}/remove/")

    school.refresh_from_db()
    assert school.association is None
    assert school.carers.filter(pk=carer.pk).exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.MEMBER_REMOVE, school=school).exists()


def test_a_school_in_another_association_cannot_be_taken(association, admin):
    from tests.factories import AssociationFactory

    school = SchoolFactory(association=AssociationFactory())
    with pytest.raises(ValidationError, match="belongs to another association"):
        organisations.member_add(user=admin, association=association, school=school)


def test_only_the_associations_admins_manage_its_members(client, association, headteacher, school, verified_client):
    verified_client(client, headteacher)
    assert client.get(f"/staff/organisations/{association.slug}/members/").status_code == 404
    with pytest.raises(PermissionDenied):
        organisations.member_add(user=headteacher, association=association, school=school)
