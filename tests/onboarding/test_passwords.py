"""Password reset and change: Django's views, the same reply for any address, rate-limited, and
never a way past the second factor."""

import pytest
from django.core import mail
from django_otp.plugins.otp_totp.models import TOTPDevice

from schools.models import StaffRole
from tests.factories import StaffRoleFactory, UserFactory
from tests.onboarding.conftest import link_in

NEW_PASSWORD = "a brand new long password"


@pytest.fixture
def head(school):
    user = UserFactory(username="helen", email="helen@school.example.org")
    StaffRoleFactory(user=user, organisation=school, role=StaffRole.Role.HEADTEACHER)
    TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
    return user


def ask_for_reset(client, capture, email):
    with capture(execute=True):
        return client.post("/staff/password/reset/", {"email": email})


def test_known_and_unknown_addresses_get_the_same_reply(client, head, django_capture_on_commit_callbacks):
    known = ask_for_reset(client, django_capture_on_commit_callbacks, "helen@school.example.org")
    unknown = ask_for_reset(client, django_capture_on_commit_callbacks, "nobody@school.example.org")

    assert (known.status_code, known.url) == (unknown.status_code, unknown.url) == (302, "/staff/password/reset/sent/")
    assert [email.to for email in mail.outbox] == [["helen@school.example.org"]]


def test_a_reset_link_sets_a_new_password_and_still_asks_for_the_second_factor(
    client, head, django_capture_on_commit_callbacks
):
    ask_for_reset(client, django_capture_on_commit_callbacks, "HELEN@school.example.org")
    response = client.get(link_in(mail.outbox[0]))  # Django swaps the token for the session
    response = client.post(response.url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    assert response.url == "/staff/password/reset/done/"
    head.refresh_from_db()
    assert head.check_password(NEW_PASSWORD)
    assert "_auth_user_id" not in client.session  # not signed in by the reset
    response = client.post("/staff/login/", {"username": "helen", "password": NEW_PASSWORD})
    assert response.url.startswith("/staff/account/verify/")


def test_a_reset_link_works_once(client, head, django_capture_on_commit_callbacks):
    ask_for_reset(client, django_capture_on_commit_callbacks, "helen@school.example.org")
    link = link_in(mail.outbox[0])
    client.post(client.get(link).url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    response = client.get(link, follow=True)

    assert b"This link does not work" in response.content


def test_reset_requests_are_rate_limited_per_address_without_saying_so(client, head, django_capture_on_commit_callbacks, settings):
    settings.PORTAL_RATE_LIMITS = {**settings.PORTAL_RATE_LIMITS, "password_reset_address": (2, 3600)}
    replies = [ask_for_reset(client, django_capture_on_commit_callbacks, "helen@school.example.org") for _ in range(4)]

    assert {reply.url for reply in replies} == {"/staff/password/reset/sent/"}
    assert len(mail.outbox) == 2


def test_reset_requests_are_rate_limited_per_client(client, head, django_capture_on_commit_callbacks, settings):
    settings.PORTAL_RATE_LIMITS = {**settings.PORTAL_RATE_LIMITS, "password_reset_ip": (2, 3600)}
    for _ in range(2):
        ask_for_reset(client, django_capture_on_commit_callbacks, "someone@example.org")

    assert ask_for_reset(client, django_capture_on_commit_callbacks, "helen@school.example.org").status_code == 429
    assert mail.outbox == []


def test_changing_a_password_needs_the_second_factor_and_the_old_password(client, head, verified_client):
    client.force_login(head)
    assert client.get("/staff/password/change/").url.startswith("/staff/account/verify/")

    verified_client(client, head)
    wrong = client.post("/staff/password/change/", {"old_password": "not it", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert wrong.status_code == 200
    client.post("/staff/password/change/", {"old_password": "correct-horse-battery", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    head.refresh_from_db()
    assert head.check_password(NEW_PASSWORD)
