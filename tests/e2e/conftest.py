"""Shared fixtures for the end-to-end tests: one Chromium for the session, a fresh context per test.

Playwright's own browser download cannot work here, so Debian's Chromium is driven instead
(override its path with the CHROMIUM environment variable).

Playwright's sync API keeps an asyncio event loop running in the main thread for as long as the
browser is open, and Django refuses ORM calls from a thread with a running loop. The tests only
ever call the ORM synchronously from the main thread (loading seeds, factories, flushing the
database), so that check is switched off for the test process.
"""

import os
import re

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

import pytest  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from tests.e2e import accessibility  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
# Generous enough for a loaded 2-core machine, short enough that a missing element fails fast.
TIMEOUT_MS = 10_000
PASSWORD = "correct-horse-battery"  # tests.factories.UserFactory's


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def _new_context(browser, live_server, **options):
    # Reduced motion: Bootstrap then jumps to a link's target instead of scrolling there smoothly,
    # so "the summary's link takes you to the field" is checked when the page has arrived, not
    # while an animation on a busy machine is still on its way (or cut short by the next action).
    options.setdefault("reduced_motion", "reduce")
    context = browser.new_context(
        base_url=live_server.url, locale="en-GB", timezone_id="Europe/London", **options
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    return context


@pytest.fixture
def context(browser, live_server):
    context = _new_context(browser, live_server, viewport={"width": 1280, "height": 900})
    yield context
    context.close()


@pytest.fixture
def page(context):
    return context.new_page()


@pytest.fixture
def phone(browser, live_server):
    """A page in a phone-sized context: 390×844, like a current iPhone."""
    context = _new_context(
        browser,
        live_server,
        viewport={"width": 390, "height": 844},
        device_scale_factor=3,
        is_mobile=True,
        has_touch=True,
    )
    yield context.new_page()
    context.close()


@pytest.fixture
def assert_accessible():
    """assert_accessible(page): fail with axe-core's report if the page has any violation."""
    return accessibility.assert_accessible


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test: a fixture can then tell whether the test passed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def axe_audit(request):
    """axe_audit.check(page) on each page of a journey, then axe_audit.assert_clean() at its end.

    A test that checks a page and never asserts the result fails at teardown. (A test that failed
    already is left with its own failure.)
    """
    audit = accessibility.AxeAudit()
    yield audit
    call = getattr(request.node, "report_call", None)
    if audit.unasserted and call is not None and call.passed:
        pages = "\n".join(audit.unasserted)
        pytest.fail(
            f"axe-core checked {len(audit.unasserted)} page(s) whose result was never asserted "
            f"(call axe_audit.assert_clean() after the last check):\n{pages}",
            pytrace=False,
        )


@pytest.fixture
def seeds(transactional_db):
    """The real seed codes: the Halton associations and members, Whitefield, Peartree, Alsop."""
    from codes.seeding import load_seed_codes

    return load_seed_codes()


def _authenticator_for(user):
    """A confirmed authenticator app for `user`, or None where the portal has no second factor."""
    try:
        from django_otp.plugins.otp_totp.models import TOTPDevice
    except ImportError:
        return None
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device or TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)


@pytest.fixture
def sign_in(live_server):
    """sign_in(page, user): sign in through the login page as a member of staff would.

    The user has an authenticator app; if the portal asks for its code after the password, the
    code the app would show now is typed in. Pass audit=axe_audit to check the pages on the way.
    """

    def sign_in(page, user, password=PASSWORD, audit=None):
        device = _authenticator_for(user)
        page.goto("/staff/login/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r"/staff/(account/verify/.*)?$"))
        if "/account/verify/" in page.url:
            from django_otp.oath import TOTP

            if audit:
                audit.check(page)
            code = f"{TOTP(device.bin_key).token():06d}"  # what the app shows now
            page.get_by_label("6-digit code from your authenticator app").fill(code)
            page.get_by_role("button", name="Continue", exact=True).click()
            page.wait_for_url("**/staff/")

    return sign_in
