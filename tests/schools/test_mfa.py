"""Staff must set up and use a second factor (authenticator app or recovery code) before any
view that shows pupils' or carers' personal data."""

import datetime
import io
import re

import pytest
import time_machine
from django.core.management import call_command
from django.http import HttpResponse
from django.urls import include, path
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from pytest_django.asserts import assertInHTML

from demo.accounts import DEMO_RECOVERY_CODES, load_demo_accounts
from schools import mfa
from tests.test_settings import PRODUCTION_ENV, run_manage


@mfa.mfa_required
def pupil_records(request):
    return HttpResponse("Pupil records")


# A stand-in for the families views: the whole portal plus one view behind mfa_required.
urlpatterns = [
    path("records/", pupil_records),
    path("", include("portal.urls")),
]
pytestmark = pytest.mark.urls(__name__)

SETUP = "/staff/account/setup/"
VERIFY = "/staff/account/verify/"
RECOVERY_CODES = "/staff/account/recovery-codes/"
NEW_RECOVERY_CODES = "/staff/account/recovery-codes/new/"


def code_now(device, steps=0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift + steps)
    return f"{totp.token():06d}"


def wrong_code(device) -> str:
    """A 6-digit code that is none of those the app could show now (one step either way)."""
    right = {code_now(device, steps) for steps in (-1, 0, 1)}
    return next(candidate for candidate in ("000000", "111111", "222222", "333333") if candidate not in right)


def with_app(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="Phone", confirmed=True)


def test_anonymous_visitors_are_sent_to_sign_in(client, db):
    response = client.get("/records/")
    assert response.status_code == 302
    assert response["Location"] == "/staff/login/?next=/records/"


def test_staff_without_an_authenticator_app_are_sent_to_set_up_and_cannot_see_records(client, headteacher):
    client.force_login(headteacher)
    response = client.get("/records/")
    assert response.status_code == 302
    assert response["Location"] == f"{SETUP}?next=%2Frecords%2F"
    assert client.get(RECOVERY_CODES)["Location"].startswith(SETUP)


def test_password_sign_in_sends_staff_without_an_app_to_set_up(client, headteacher):
    response = client.post("/staff/login/", {"username": headteacher.username, "password": "correct-horse-battery"})
    assert response.status_code == 302
    assert response["Location"] == f"{SETUP}?next=%2Fstaff%2F"


def test_password_sign_in_sends_staff_with_an_app_to_verify_then_where_they_were_going(client, headteacher):
    with_app(headteacher)
    response = client.post(
        "/staff/login/", {"username": headteacher.username, "password": "correct-horse-battery", "next": "/records/"}
    )
    assert response["Location"] == f"{VERIFY}?next=%2Frecords%2F"


def test_set_up_shows_a_qr_code_and_the_key_without_inline_script_or_style(client, headteacher):
    client.force_login(headteacher)
    response = client.get(SETUP)
    assert response.status_code == 200
    html = response.content.decode()
    device = TOTPDevice.objects.get(user=headteacher)
    assert not device.confirmed
    assert 'src="data:image/svg+xml;base64,' in html
    key = re.search(r'<code class="fs-5" id="setup-key">([A-Z2-7 ]+)</code>', html).group(1)
    assert key.replace(" ", "") == device.config_url.split("secret=")[1].split("&")[0]
    assert "issuer=Codes%20of%20conduct%20portal" in device.config_url
    assert 'autocomplete="one-time-code"' in html and 'inputmode="numeric"' in html
    assert "<script" not in html and "<style" not in html and " style=" not in html
    assert html.count("<h1") == 1
    # Reloading the page keeps the same secret, so a code scanned before still works.
    client.get(SETUP)
    assert TOTPDevice.objects.filter(user=headteacher).count() == 1


def test_set_up_confirms_with_a_correct_code_and_shows_recovery_codes_once(client, headteacher):
    client.force_login(headteacher)
    client.get(f"{SETUP}?next=/records/")
    device = TOTPDevice.objects.get(user=headteacher)

    response = client.post(SETUP, {"code": code_now(device), "next": "/records/"})
    assert response.status_code == 302
    assert response["Location"] == f"{NEW_RECOVERY_CODES}?next=%2Frecords%2F"
    device.refresh_from_db()
    assert device.confirmed

    page = client.get(response["Location"]).content.decode()
    codes = set(StaticToken.objects.filter(device__user=headteacher).values_list("token", flat=True))
    assert len(codes) == mfa.RECOVERY_CODE_COUNT
    assert all(code in page for code in codes)
    assert 'href="/records/"' in page
    # Shown once only.
    assert client.get(NEW_RECOVERY_CODES)["Location"] == RECOVERY_CODES
    # The session that set the app up is verified.
    assert client.get("/records/").content == b"Pupil records"


def test_set_up_rejects_a_wrong_code_in_plain_english(client, headteacher):
    client.force_login(headteacher)
    client.get(SETUP)
    device = TOTPDevice.objects.get(user=headteacher)

    response = client.post(SETUP, {"code": wrong_code(device)})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'role="alert"' in html
    assert "That code is not right. Check it and try again." in html
    assert 'aria-invalid="true"' in html
    device.refresh_from_db()
    assert not device.confirmed
    assert client.get("/records/")["Location"].startswith(SETUP)

    response = client.post(SETUP, {"code": "12345"})
    assert "Enter the 6-digit code shown in your authenticator app" in response.content.decode()


def test_an_unverified_session_is_sent_to_the_verify_page(client, headteacher):
    with_app(headteacher)
    client.force_login(headteacher)
    response = client.get("/records/")
    assert response["Location"] == f"{VERIFY}?next=%2Frecords%2F"
    html = client.get(response["Location"]).content.decode()
    assert html.count("<h1") == 1
    assert 'autocomplete="one-time-code"' in html and 'inputmode="numeric"' in html
    assertInHTML('<label class="form-label fw-bold" for="id_code">6-digit code from your authenticator app</label>', html)
    assertInHTML('<label class="form-label fw-bold" for="id_recovery_code">Recovery code</label>', html)


def test_a_code_from_the_app_verifies_the_session(client, headteacher):
    device = with_app(headteacher)
    client.force_login(headteacher)
    response = client.post(VERIFY, {"method": "app", "code": code_now(device), "next": "/records/"})
    assert response["Location"] == "/records/"
    assert client.get("/records/").content == b"Pupil records"


def test_a_code_cannot_be_used_twice(client, headteacher):
    device = with_app(headteacher)
    with time_machine.travel(datetime.datetime(2026, 10, 1, 9, 0, tzinfo=datetime.UTC), tick=False):
        code = code_now(device)
        client.force_login(headteacher)
        assert client.post(VERIFY, {"method": "app", "code": code})["Location"] == "/staff/"
        client.post("/staff/logout/")
        client.force_login(headteacher)
        response = client.post(VERIFY, {"method": "app", "code": code})
        assert response.status_code == 200
        assert "That code is not right" in response.content.decode()


def test_wrong_codes_are_throttled(client, headteacher):
    device = with_app(headteacher)
    client.force_login(headteacher)
    with time_machine.travel(datetime.datetime(2026, 10, 1, 9, 0, tzinfo=datetime.UTC), tick=False) as traveller:
        for _ in range(3):
            client.post(VERIFY, {"method": "app", "code": wrong_code(device)})
            traveller.shift(datetime.timedelta(seconds=10))
        client.post(VERIFY, {"method": "app", "code": wrong_code(device)})  # 4th: must now wait 8 seconds
        response = client.post(VERIFY, {"method": "app", "code": code_now(device)})
        assert response.status_code == 200
        assert "After 4 wrong codes in a row, wait 8 seconds before trying again." in response.content.decode()

        traveller.shift(datetime.timedelta(seconds=9))
        response = client.post(VERIFY, {"method": "app", "code": code_now(device), "next": "/records/"})
        assert response["Location"] == "/records/"


def test_a_recovery_code_works_once_only(client, headteacher):
    with_app(headteacher)
    first, second, *_ = mfa.recovery_codes_replace(user=headteacher)
    client.force_login(headteacher)

    with time_machine.travel(datetime.datetime(2026, 10, 1, 9, 0, tzinfo=datetime.UTC), tick=False) as traveller:
        # Typed with capitals and a space, as people do.
        response = client.post(VERIFY, {"method": "recovery", "recovery_code": f" {first[:4].upper()} {first[4:]}"})
        assert response["Location"] == "/staff/"
        assert client.get("/records/").content == b"Pupil records"

        client.post("/staff/logout/")
        client.force_login(headteacher)
        response = client.post(VERIFY, {"method": "recovery", "recovery_code": first})
        assert response.status_code == 200
        assert "That recovery code is not right" in response.content.decode()
        assert client.get("/records/")["Location"].startswith(VERIFY)

        # django-otp makes a wrong code cost a wait (1, 2, 4, 8... seconds), right codes included.
        response = client.post(VERIFY, {"method": "recovery", "recovery_code": second})
        assert "After 1 wrong code in a row, wait 1 second before trying again." in response.content.decode()
        traveller.shift(datetime.timedelta(seconds=2))
        assert client.post(VERIFY, {"method": "recovery", "recovery_code": second})["Location"] == "/staff/"
    assert StaticToken.objects.filter(device__user=headteacher).count() == mfa.RECOVERY_CODE_COUNT - 2


def test_a_verified_session_reaches_the_view(client, headteacher, verified_client):
    verified_client(client, headteacher)
    assert client.get("/records/").content == b"Pupil records"
    assert client.get(f"{VERIFY}?next=/records/")["Location"] == "/records/"


def test_signing_out_ends_the_verification(client, headteacher, verified_client):
    verified_client(client, headteacher)
    client.post("/staff/logout/")
    client.force_login(headteacher)
    assert client.get("/records/")["Location"].startswith(VERIFY)


def test_new_recovery_codes_replace_the_old_ones(client, headteacher, verified_client):
    verified_client(client, headteacher)
    old = mfa.recovery_codes_replace(user=headteacher)
    assert "You have 10 unused recovery codes" in client.get(RECOVERY_CODES).content.decode()

    response = client.post(RECOVERY_CODES)
    assert response["Location"] == f"{NEW_RECOVERY_CODES}?next=%2Fstaff%2Faccount%2Frecovery-codes%2F"
    page = client.get(response["Location"]).content.decode()
    new = set(StaticToken.objects.filter(device__user=headteacher).values_list("token", flat=True))
    assert len(new) == 10 and not new & set(old)
    assert all(code in page for code in new)


def test_changing_the_app_needs_the_second_factor_not_just_the_password(client, headteacher, verified_client):
    old_device = with_app(headteacher)
    client.force_login(headteacher)
    assert client.get(SETUP)["Location"].startswith(VERIFY)

    verified_client(client, headteacher)
    client.get(SETUP)
    new_device = TOTPDevice.objects.get(user=headteacher, confirmed=False)
    client.post(SETUP, {"code": code_now(new_device)})
    assert list(TOTPDevice.objects.filter(user=headteacher)) == [new_device]
    assert not TOTPDevice.objects.filter(pk=old_device.pk).exists()
    assert client.get("/records/").content == b"Pupil records"


def test_next_must_be_on_this_site(client, headteacher):
    device = with_app(headteacher)
    client.force_login(headteacher)
    response = client.post(VERIFY, {"method": "app", "code": code_now(device), "next": "https://evil.example/"})
    assert response["Location"] == "/staff/"


def test_demo_accounts_sign_in_with_the_printed_code_or_a_demo_recovery_code(client, school):
    load_demo_accounts()  # the `school` fixture is Whitefield, so head.whitefield is created
    out = io.StringIO()
    call_command("demo_totp", "head.whitefield", stdout=out, stderr=io.StringIO())
    code = out.getvalue().strip()
    assert re.fullmatch(r"[0-9]{6}", code)

    response = client.post("/staff/login/", {"username": "head.whitefield", "password": "demo-portal-2026"})
    assert response["Location"] == f"{VERIFY}?next=%2Fstaff%2F"
    assert client.post(VERIFY, {"method": "app", "code": code})["Location"] == "/staff/"

    client.post("/staff/logout/")
    client.post("/staff/login/", {"username": "head.whitefield", "password": "demo-portal-2026"})
    assert client.post(VERIFY, {"method": "recovery", "recovery_code": DEMO_RECOVERY_CODES[0]})["Location"] == "/staff/"

    # Loading the demo again leaves the accounts as they are, and says which codes are left.
    rows = {row.username: row for row in load_demo_accounts()}
    assert rows["head.whitefield"].recovery_codes == list(DEMO_RECOVERY_CODES[1:])
    assert rows["head.whitefield"].demo_authenticator


def test_demo_totp_refuses_in_production():
    result = run_manage("demo_totp", "head.whitefield", extra_env=PRODUCTION_ENV)
    assert result.returncode != 0
    assert "never available with PORTAL_ENV=production" in result.stderr
