"""Repeated wrong passwords pause signing in (django-axes): 5 for one username from one address,
for 15 minutes, with a page that says so in plain English."""

import datetime

import pytest
import time_machine

pytestmark = pytest.mark.usefixtures("axes_on")

LOGIN = "/staff/login/"
PASSWORD = "correct-horse-battery"
START = datetime.datetime(2026, 10, 1, 9, 0, tzinfo=datetime.UTC)


def sign_in(client, username, password):
    return client.post(LOGIN, {"username": username, "password": password})


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_five_wrong_passwords_pause_signing_in_until_the_lockout_expires(client, headteacher):
    with time_machine.travel(START, tick=False) as traveller:
        for _ in range(4):
            response = sign_in(client, headteacher.username, "not-the-password")
            assert response.status_code == 200
            assert "Please enter a correct username and password" in response.content.decode()

        response = sign_in(client, headteacher.username, "still-not-the-password")
        assert response.status_code == 429
        html = response.content.decode()
        assert "<h1>Signing in is paused</h1>" in html
        assert 'role="alert"' in html
        assert "The password was wrong 5 times" in html
        assert "Wait 15 minutes, then" in html

        # The right password is refused too while the pause lasts...
        traveller.shift(datetime.timedelta(minutes=10))
        response = sign_in(client, headteacher.username, PASSWORD)
        assert response.status_code == 429
        assert not signed_in(client)

        # ...and each attempt starts the 15 minutes again.
        traveller.shift(datetime.timedelta(minutes=14))
        assert sign_in(client, headteacher.username, PASSWORD).status_code == 429

        traveller.shift(datetime.timedelta(minutes=16))
        response = sign_in(client, headteacher.username, PASSWORD)
        assert response.status_code == 302
        assert response["Location"].startswith("/staff/account/setup/")
        assert signed_in(client)


def test_the_pause_is_for_that_username_only(client, headteacher, other_school):
    from schools.models import StaffRole
    from tests.factories import StaffRoleFactory

    colleague = StaffRoleFactory(organisation=other_school, role=StaffRole.Role.HEADTEACHER).user
    for _ in range(5):
        sign_in(client, headteacher.username, "not-the-password")
    assert sign_in(client, headteacher.username, PASSWORD).status_code == 429

    assert sign_in(client, colleague.username, PASSWORD).status_code == 302


def test_a_successful_sign_in_clears_earlier_wrong_passwords(client, headteacher):
    for _ in range(4):
        sign_in(client, headteacher.username, "not-the-password")
    assert sign_in(client, headteacher.username, PASSWORD).status_code == 302
    client.post("/staff/logout/")

    for _ in range(4):
        assert sign_in(client, headteacher.username, "not-the-password").status_code == 200
    assert sign_in(client, headteacher.username, PASSWORD).status_code == 302


def test_force_login_still_works_with_throttling_on(client, headteacher):
    client.force_login(headteacher)
    assert client.get("/staff/").status_code == 200
