"""The pages for other systems, in a real browser with axe-core: a headteacher makes an API key
(seen once) and registers a webhook from the staff dashboard; the API's documentation page runs
Swagger UI from the portal's own static files under its Content Security Policy."""

import re

import pytest
from playwright.sync_api import expect

from api.models import ApiKey
from schools.models import Organisation, StaffRole
from tests.factories import StaffRoleFactory
from webhooks.models import WebhookEndpoint

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("seeds")]


@pytest.fixture
def csp_errors(page):
    errors = []
    page.on("console", lambda message: errors.append(message.text) if "Content Security Policy" in message.text else None)
    return errors


def test_a_headteacher_makes_a_key_and_registers_a_webhook(page, sign_in, axe_audit, settings):
    settings.PORTAL_WEBHOOKS_ALLOW_HTTP = True
    school = Organisation.objects.get(slug="whitefield-primary")
    head = StaffRoleFactory(organisation=school, role=StaffRole.Role.HEADTEACHER).user
    sign_in(page, head)
    page.get_by_role("link", name=f"API keys and website snippet of {school.name}").click()
    axe_audit.check(page)
    page.get_by_label("What will use this key?").fill("Arbor nightly import")
    page.get_by_label("Import families from the information system").check()
    page.get_by_role("button", name="Make the key").click()
    key = page.locator("#new-key").input_value()
    assert key.startswith("cop_") and ApiKey.objects.get().name == "Arbor nightly import"
    axe_audit.check(page)
    page.reload()
    expect(page.locator("#new-key")).to_have_count(0)

    page.goto("/staff/")
    page.get_by_role("link", name=f"Webhooks of {school.name}").click()
    page.get_by_label("Address to send events to").fill("http://127.0.0.1:9/hook")
    page.get_by_label("A carer signed (online, or a paper form recorded)").check()
    page.get_by_role("button", name="Register").click()
    expect(page).to_have_url(re.compile(r"/staff/webhooks/whitefield-primary/\d+/$"))
    expect(page.get_by_text(WebhookEndpoint.objects.get().secret)).to_be_visible()
    axe_audit.check(page)
    axe_audit.assert_clean()


def test_the_api_documentation_runs_from_the_portals_own_files(page, csp_errors):
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto("/api/v1/docs/")
    expect(page.get_by_text("Codes of conduct portal API").first).to_be_visible()
    expect(page.get_by_text("/api/v1/schools/{slug}/carers/").first).to_be_visible()
    host = re.match(r"https?://[^/]+", page.url).group(0)
    assert [url for url in requested if not url.startswith(host) and not url.startswith("data:")] == []
    assert csp_errors == []
