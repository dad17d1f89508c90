"""Staff sessions end after 8 hours without use and 24 hours after signing in; a parent's signing
session is not a staff session and keeps working."""

import datetime
import html

import pytest
import time_machine
from django.contrib.auth import SESSION_KEY

from tests.declarations.factories import family, issued_link

pytestmark = pytest.mark.django_db

START = datetime.datetime(2026, 11, 23, 8, 0, tzinfo=datetime.UTC)
HOUR = datetime.timedelta(hours=1)
MINUTE = datetime.timedelta(minutes=1)


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def signed_in(client) -> bool:
    return SESSION_KEY in client.session


def dashboard(client):
    return client.get("/staff/")


def test_a_staff_session_stays_while_used_and_ends_after_eight_idle_hours(client, clock, headteacher):
    client.force_login(headteacher)
    for _ in range(3):  # used every 7h59m: 24 hours would pass, so stop before that
        clock.shift(7 * HOUR + 59 * MINUTE)
        assert dashboard(client).status_code == 200
    clock.shift(-3 * (7 * HOUR + 59 * MINUTE))  # (back to START for the second half)

    client.force_login(headteacher)
    clock.shift(8 * HOUR + MINUTE)
    response = dashboard(client)
    assert response.status_code == 302 and response.url == "/staff/login/?next=/staff/"
    assert not signed_in(client)
    page = html.unescape(client.get(response.url).content.decode())
    assert "You were signed out after 8 hours without using the portal. Sign in again to carry on." in page
    assert dashboard(client).url.startswith("/staff/login/")  # and stays signed out


def test_a_staff_session_ends_twenty_four_hours_after_signing_in_however_busy(client, clock, headteacher):
    client.force_login(headteacher)
    for _ in range(5):  # every 4 hours: never idle, up to 20 hours in all
        clock.shift(4 * HOUR)
        assert dashboard(client).status_code == 200
    clock.shift(4 * HOUR + MINUTE)
    response = dashboard(client)
    assert response.status_code == 302 and response.url.startswith("/staff/login/")
    assert not signed_in(client)
    page = html.unescape(client.get(response.url).content.decode())
    assert "You were signed out because you had been signed in for 24 hours." in page


def test_signing_in_again_starts_the_clock_again(client, clock, headteacher):
    client.force_login(headteacher)
    for _ in range(3):
        clock.shift(7 * HOUR)
        assert dashboard(client).status_code == 200
    client.post("/staff/logout/")
    client.force_login(headteacher)
    clock.shift(7 * HOUR)
    assert dashboard(client).status_code == 200


def test_the_limits_are_settings(client, clock, headteacher, settings):
    settings.PORTAL_STAFF_IDLE_HOURS = 0.5
    client.force_login(headteacher)
    clock.shift(29 * MINUTE)
    assert dashboard(client).status_code == 200
    clock.shift(31 * MINUTE)
    assert dashboard(client).status_code == 302 and not signed_in(client)


def test_the_session_cookie_expires_no_later_than_the_session(client, clock, headteacher):
    client.force_login(headteacher)
    for _ in range(4):
        clock.shift(5 * HOUR)
        response = dashboard(client)
    cookie = response.cookies.get("sessionid") or client.cookies["sessionid"]
    # What is left of 24 hours, and an hour to say why on the next visit; not Django's two weeks.
    assert 0 < int(cookie["max-age"]) <= 5 * 3600


def test_a_post_after_the_session_ended_changes_nothing(client, clock, headteacher, school_code):
    client.force_login(headteacher)
    clock.shift(9 * HOUR)
    response = client.post(f"/staff/codes/{school_code.pk}/draft/")
    assert response.status_code == 302 and response.url.startswith("/staff/login/")
    assert not school_code.versions.filter(status="draft").exists()


def test_a_parents_signing_session_is_not_ended_by_the_staff_limits(client, clock, school, school_code):
    carer = family(school)
    _, token = issued_link(carer, school_code.versions.get())
    assert client.get(f"/sign/t/{token}/").status_code == 303
    clock.shift(9 * HOUR)  # the phone put down overnight
    assert client.get("/sign/").status_code == 200
    clock.shift(20 * HOUR)  # and again the next evening: more than 24 hours after opening the link
    response = client.get("/sign/")
    assert response.status_code == 200
    assert "I agree" in response.content.decode()
