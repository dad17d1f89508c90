"""Refused forms, forbidden pages and server errors get pages in the portal's own style that say
what to do next; a parent whose phone dropped the cookie is told how to carry on."""

import html

import pytest
from django.test import Client

from declarations.models import Declaration
from tests.declarations.factories import family, issued_link

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return html.unescape(response.content.decode())


def in_portal_style(page: str) -> bool:
    return "Skip to main content" in page and "css/portal.css" in page and "Accessibility statement" in page


@pytest.fixture
def carer_on_the_signing_page(school, school_code):
    """A parent's phone that opened the e-mailed link and shows the signing form."""
    browser = Client(enforce_csrf_checks=True)
    _, token = issued_link(family(school), school_code.versions.get())
    assert browser.get(f"/sign/t/{token}/").status_code == 303
    form = text(browser.get("/sign/"))
    csrf = form.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    return browser, csrf, school_code.versions.get()


def test_a_parent_whose_phone_dropped_the_cookie_is_told_what_to_do_and_nothing_is_signed(carer_on_the_signing_page):
    browser, csrf, version = carer_on_the_signing_page
    del browser.cookies["csrftoken"]  # the phone dropped it while the page was open
    response = browser.post(
        "/sign/", {"csrfmiddlewaretoken": csrf, "typed_name": "Mary Smith", "agreed": "on", "version": version.pk}
    )
    assert response.status_code == 403
    page = text(response)
    assert in_portal_style(page)
    assert "<h1>Your form was not sent</h1>" in page
    assert "Nothing has been signed or changed." in page
    assert "Go back to the previous page." in page
    assert "Reload that page, then fill in the form and send it again." in page
    assert "open the link in the e-mail from your child's school again" in page
    assert 'href="/sign/new-link/"' in page
    assert "CSRF" not in page and "Forbidden" not in page
    assert not Declaration.objects.exists()


def test_after_going_back_and_reloading_the_parent_can_sign(carer_on_the_signing_page):
    browser, _, version = carer_on_the_signing_page
    del browser.cookies["csrftoken"]
    form = text(browser.get("/sign/"))  # reload: a new cookie and a new token
    csrf = form.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    response = browser.post(
        "/sign/", {"csrfmiddlewaretoken": csrf, "typed_name": "Mary Smith", "agreed": "on", "version": version.pk}
    )
    assert response.status_code in (302, 303)
    assert Declaration.objects.count() == 1


def test_a_refused_staff_form_gets_the_same_page_without_the_parents_advice(db):
    browser = Client(enforce_csrf_checks=True)
    response = browser.post("/staff/login/", {"username": "someone", "password": "x"})
    assert response.status_code == 403
    page = text(response)
    assert in_portal_style(page) and "<h1>Your form was not sent</h1>" in page
    assert "child's school" not in page


def test_a_forbidden_page_is_in_the_portals_style_and_says_what_to_do(client, settings):
    settings.ROOT_URLCONF = "tests.portal.error_urls"
    response = client.get("/forbidden/")
    assert response.status_code == 403
    page = text(response)
    assert in_portal_style(page)
    assert "<h1>You cannot open this page</h1>" in page and "contact the school office" in page
    assert "Internal detail" not in page


def test_a_server_error_is_in_the_portals_style_and_says_what_to_do(settings):
    settings.ROOT_URLCONF = "tests.portal.error_urls"
    browser = Client(raise_request_exception=False)
    response = browser.get("/broken/")
    assert response.status_code == 500
    page = text(response)
    assert in_portal_style(page)
    assert "<h1>Sorry, something went wrong</h1>" in page
    assert "open the link in the e-mail from your child's school again" in page.replace("\n", " ")
    assert "Internal detail" not in page and "Traceback" not in page
