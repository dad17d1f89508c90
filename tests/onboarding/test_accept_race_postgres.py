"""Two tabs (or two people with the forwarded e-mail) submitting one invitation at the same
moment: one account and one role, committed for real. The race needs PostgreSQL's row locks and
is skipped on SQLite (CI runs the suite on both)."""

import threading

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connection, connections

from onboarding import invitations
from schools.models import StaffRole
from tests.factories import StaffRoleFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks across connections need PostgreSQL")
def test_an_invitation_accepted_twice_at_once_gives_one_account(school):
    head = StaffRoleFactory(organisation=school, role=StaffRole.Role.HEADTEACHER).user
    invitation = invitations.invitation_create(user=head, organisation=school, email="olive@example.org",
                                               role=StaffRole.Role.OFFICE)
    start, outcomes = threading.Barrier(2), []

    def accept():
        try:
            start.wait()
            invitations.invitation_accept(invitation_id=invitation.pk, first_name="O", last_name="O",
                                          password="a long enough staff password")
            outcomes.append("accepted")
        except ValidationError:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=accept) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["accepted", "refused"]
    assert get_user_model().objects.filter(email="olive@example.org").count() == 1
    assert StaffRole.objects.filter(role=StaffRole.Role.OFFICE).count() == 1
