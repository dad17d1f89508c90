"""Staff accounts: invitations by e-mail (7 days, stored hashed, once), accepting one with a
password and a second factor, changing roles, removing people, and the audit log of each."""

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from onboarding import invitations
from onboarding.models import StaffInvitation
from schools.models import AuditEvent, StaffRole
from tests.factories import SchoolFactory, StaffRoleFactory, UserFactory
from tests.onboarding.conftest import link_in

Role = StaffRole.Role
PASSWORD = "a long enough staff password"


@pytest.fixture
def head(school, verified_client, client):
    user = UserFactory(first_name="Helen", last_name="Head")
    StaffRoleFactory(user=user, organisation=school, role=Role.HEADTEACHER)
    verified_client(client, user)
    return user


def invite(client, school, django_capture_on_commit_callbacks, email="olive@school.example.org", role=Role.OFFICE):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(f"/staff/organisations/{school.slug}/people/", {"email": email, "role": role})


def test_a_headteacher_invites_office_staff_who_get_a_link_by_e_mail(client, school, head, django_capture_on_commit_callbacks):
    response = invite(client, school, django_capture_on_commit_callbacks)

    assert response.status_code == 302
    [email] = mail.outbox
    assert email.to == ["olive@school.example.org"]
    assert school.name in email.subject
    token = link_in(email).split("/")[-2]
    invitation = StaffInvitation.objects.get()
    assert invitation.email_status == StaffInvitation.EmailStatus.SENT
    assert token not in str(StaffInvitation.objects.values().get())  # only its hash is stored
    assert invitation.expires_at - invitation.created_at == datetime.timedelta(days=7)
    event = AuditEvent.objects.get(action=AuditEvent.Action.STAFF_INVITE)
    assert (event.actor, event.school, event.detail) == (head, school, {"role": "office"})
    assert "olive" not in event.target


def test_the_invitee_sets_a_password_then_must_set_up_their_authenticator(
    client, school, head, django_capture_on_commit_callbacks
):
    invite(client, school, django_capture_on_commit_callbacks)
    client.logout()
    response = client.get(link_in(mail.outbox[0]))
    assert response.url == "/staff/invitation/accept/"  # the token leaves the address bar at once

    response = client.post(
        "/staff/invitation/accept/",
        {"first_name": "Olive", "last_name": "Okafor", "password1": PASSWORD, "password2": PASSWORD},
    )

    assert response.url.startswith("/staff/account/setup/")
    olive = get_user_model().objects.get(email="olive@school.example.org")
    assert olive.check_password(PASSWORD)
    assert StaffRole.objects.filter(user=olive, organisation=school, role=Role.OFFICE).exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.STAFF_JOIN, actor=olive).exists()
    # Signed in, but nothing with pupils' data opens before the second factor is set up.
    assert client.get(f"/staff/families/{school.slug}/pupils/").url.startswith("/staff/account/setup/")


def test_an_invitation_works_once(client, school, head, django_capture_on_commit_callbacks):
    invite(client, school, django_capture_on_commit_callbacks)
    link = link_in(mail.outbox[0])
    client.logout()
    client.get(link)
    client.post("/staff/invitation/accept/", {"first_name": "O", "last_name": "O", "password1": PASSWORD, "password2": PASSWORD})
    client.logout()

    response = client.get(link)

    assert response.status_code == 404
    assert b"already been used" in response.content
    assert get_user_model().objects.filter(email="olive@school.example.org").count() == 1


def test_an_invitation_expires_after_seven_days(client, school, head, django_capture_on_commit_callbacks, now):
    invite(client, school, django_capture_on_commit_callbacks)
    client.logout()
    now.shift(datetime.timedelta(days=7, seconds=1))

    assert client.get(link_in(mail.outbox[0])).status_code == 404


def test_a_wrong_token_is_not_found(client, db):
    assert client.get("/staff/invitation/not-a-real-token-at-all/").status_code == 404


def test_mismatched_passwords_create_no_account(client, school, head, django_capture_on_commit_callbacks):
    invite(client, school, django_capture_on_commit_callbacks)
    client.logout()
    client.get(link_in(mail.outbox[0]))

    response = client.post(
        "/staff/invitation/accept/",
        {"first_name": "O", "last_name": "O", "password1": PASSWORD, "password2": PASSWORD + "x"},
    )

    assert b"The two passwords are not the same" in response.content
    assert not get_user_model().objects.filter(email="olive@school.example.org").exists()


def test_office_staff_cannot_invite_or_see_the_staff_page(client, school, office, verified_client):
    verified_client(client, office)

    assert client.get(f"/staff/organisations/{school.slug}/people/").status_code == 404
    with pytest.raises(PermissionDenied):
        invitations.invitation_create(user=office, organisation=school, email="x@example.org", role=Role.HEADTEACHER)


def test_a_headteacher_cannot_invite_to_another_school(client, head, other_school):
    assert client.get(f"/staff/organisations/{other_school.slug}/people/").status_code == 404


def test_an_association_admin_invites_headteachers_of_member_schools_only(association):
    member = SchoolFactory(association=association)
    admin = StaffRoleFactory(organisation=association, role=Role.ASSOCIATION_ADMIN).user

    invitations.invitation_create(user=admin, organisation=member, email="head@member.example.org", role=Role.HEADTEACHER)
    invitations.invitation_create(user=admin, organisation=association, email="a2@example.org", role=Role.ASSOCIATION_ADMIN)
    with pytest.raises(PermissionDenied):
        invitations.invitation_create(user=admin, organisation=member, email="o@member.example.org", role=Role.OFFICE)
    with pytest.raises(PermissionDenied):
        invitations.invitation_create(user=admin, organisation=SchoolFactory(), email="h@x.example.org", role=Role.HEADTEACHER)


def test_an_existing_account_accepts_by_signing_in(client, school, head, django_capture_on_commit_callbacks, verified_client):
    other_head = StaffRoleFactory(organisation=SchoolFactory(), role=Role.HEADTEACHER).user
    invite(client, school, django_capture_on_commit_callbacks, email=other_head.email.upper(), role=Role.HEADTEACHER)
    client.logout()
    client.get(link_in(mail.outbox[0]))
    assert b"Sign in with that account" in client.get("/staff/invitation/accept/").content

    verified_client(client, other_head)
    session = client.session
    session["onboarding_invitation"] = StaffInvitation.objects.get().pk
    session.save()
    client.post("/staff/invitation/accept/")

    assert StaffRole.objects.filter(user=other_head, organisation=school, role=Role.HEADTEACHER).exists()


def test_a_headteacher_changes_a_role_and_it_is_audited(client, school, head, office):
    role = office.staff_roles.get()

    client.post(f"/staff/organisations/{school.slug}/people/{role.pk}/role/", {"role": Role.HEADTEACHER})

    role.refresh_from_db()
    assert role.role == Role.HEADTEACHER
    event = AuditEvent.objects.get(action=AuditEvent.Action.STAFF_ROLE_CHANGE)
    assert event.detail == {"from": "office", "to": "headteacher"}


def test_a_headteacher_removes_someone_and_it_is_audited(client, school, head, office):
    role = office.staff_roles.get()

    client.post(f"/staff/organisations/{school.slug}/people/{role.pk}/remove/")

    assert not StaffRole.objects.filter(pk=role.pk).exists()
    assert get_user_model().objects.filter(pk=office.pk).exists()  # the account stays
    assert AuditEvent.objects.filter(action=AuditEvent.Action.STAFF_REMOVE, actor=head).exists()


def test_the_last_headteacher_cannot_remove_or_demote_themselves(client, school, head):
    role = head.staff_roles.get()

    response = client.post(f"/staff/organisations/{school.slug}/people/{role.pk}/remove/", follow=True)
    assert b"needs at least one headteacher" in response.content
    with pytest.raises(ValidationError):
        invitations.staff_role_change(user=head, staff_role=role, role=Role.OFFICE)

    assert StaffRole.objects.filter(pk=role.pk, role=Role.HEADTEACHER).exists()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.STAFF_REMOVE).exists()


def test_a_second_headteacher_lets_the_first_leave(school, head):
    StaffRoleFactory(organisation=school, role=Role.HEADTEACHER)

    invitations.staff_remove(user=head, staff_role=head.staff_roles.get())

    assert not head.staff_roles.exists()


def test_a_withdrawn_invitation_stops_working(client, school, head, django_capture_on_commit_callbacks):
    invite(client, school, django_capture_on_commit_callbacks)
    invitation = StaffInvitation.objects.get()

    client.post(f"/staff/organisations/{school.slug}/invitations/{invitation.pk}/withdraw/")
    client.logout()

    assert client.get(link_in(mail.outbox[0])).status_code == 404
    assert AuditEvent.objects.filter(action=AuditEvent.Action.STAFF_INVITE_REVOKE).exists()


def test_the_invitation_e_mail_is_sent_once_however_often_its_task_runs(school, head, django_capture_on_commit_callbacks):
    from onboarding.emails import send_staff_invitation

    with django_capture_on_commit_callbacks(execute=True):
        invitation = invitations.invitation_create(user=head, organisation=school, email="o@example.org", role=Role.OFFICE)
    send_staff_invitation.call(invitation.pk)

    assert len(mail.outbox) == 1


def test_an_address_taken_as_another_accounts_username_gets_a_clear_message(school, head):
    UserFactory(username="olive@school.example.org", email="olive.personal@example.org")
    invitation = invitations.invitation_create(user=head, organisation=school, email="olive@school.example.org", role=Role.OFFICE)

    with pytest.raises(ValidationError, match="already an account with this address as its username"):
        invitations.invitation_accept(invitation_id=invitation.pk, first_name="O", last_name="O", password=PASSWORD)
    assert not StaffRole.objects.filter(role=Role.OFFICE).exists()
