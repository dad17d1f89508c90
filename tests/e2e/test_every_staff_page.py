"""Every staff page, as a headteacher on a 320 CSS px screen sees it: nothing scrolls sideways
(WCAG 1.4.10 Reflow), and axe-core finds nothing (the accessibility statement says every page
is checked)."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from codes.services import code_for_school, version_in_force
from declarations import services as declaration_services
from schools.models import Carer, Organisation, Pupil, StaffRole
from sending.invitations import invitations_send
from sending.models import SendBatch
from sending.outbox import outbox_send_pending
from tests.factories import StaffRoleFactory, published_version

pytestmark = pytest.mark.e2e

FILES = Path(__file__).resolve().parent.parent / "schools" / "files"
WIDTH = 320
# The outermost elements that reach past the right edge of the screen, to name in a failure.
WIDEST = """() => [...document.querySelectorAll('main *')]
  .filter(e => e.getBoundingClientRect().right > innerWidth + 1 && !(e.parentElement.getBoundingClientRect().right > innerWidth + 1))
  .slice(0, 3).map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : '') + ' ' + (e.textContent || '').trim().slice(0, 40))"""


@pytest.fixture
def narrow(browser, live_server):
    context = browser.new_context(base_url=live_server.url, locale="en-GB", viewport={"width": WIDTH, "height": 700})
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


class Walk:
    """Each page visited: its sideways overflow noted, axe-core run on it."""

    def __init__(self, page, audit):
        self.page, self.audit, self.overflows = page, audit, []

    def check(self):
        # Measured once the page has loaded: after a click, the heading can be there while the
        # page is still loading, and its width then is not the width a person sees.
        self.page.wait_for_load_state("load")
        overflow = self.page.evaluate("document.documentElement.scrollWidth") - WIDTH
        if overflow > 0:
            self.overflows.append(f"{self.page.url}: {overflow}px, {self.page.evaluate(WIDEST)}")
        self.audit.check(self.page)

    def visit(self, path):
        self.page.goto(path)
        self.check()


def test_every_staff_page_reflows_at_320px_and_passes_axe(seeds, narrow, sign_in, axe_audit, settings, tmp_path):
    settings.MAILERS = {
        "default": {"BACKEND": "django.core.mail.backends.filebased.EmailBackend", "OPTIONS": {"file_path": str(tmp_path)}}
    }
    school = Organisation.objects.get(slug="whitefield-primary")
    school.sending_days = "1234567"  # the tests' clock says Sunday: the school sends on Sundays too
    school.save()
    head = StaffRoleFactory(organisation=school, role=StaffRole.Role.HEADTEACHER).user
    code = code_for_school(school)
    walk = Walk(narrow, axe_audit)
    sign_in(narrow, head, audit=axe_audit)
    walk.check()

    # Import, in the browser: the preview and the result.
    walk.visit("/staff/families/whitefield-primary/import/")
    narrow.get_by_label("Export file").set_input_files(str(FILES / "sims_windows_1252.csv"))
    narrow.get_by_role("button", name="Upload and preview").click()
    narrow.get_by_role("heading", name="Check what sims_windows_1252.csv will change").wait_for()
    walk.check()
    narrow.get_by_role("button", name="Import these changes").click()
    narrow.get_by_role("heading", name="sims_windows_1252.csv has been imported").wait_for()
    walk.check()

    # Invitations sent, one carer signed, a version 2 published.
    batch = invitations_send(school=school, audience="all-unsigned", user=None, enqueue=False)
    outbox_send_pending(batch_id=batch.pk)
    carer = Carer.objects.asked_to_sign().filter(school=school).exclude(email="").first()
    first = version_in_force(code)
    signing_request = declaration_services.signing_request_for(carer=carer, version=first)
    declaration_services.declaration_sign(
        signing_request=signing_request, version_id_shown=first.pk, typed_name=carer.full_name, agreed=True, ip=None,
        user_agent="",
    )
    published_version(code, body=first.body + "\n\nOne more sentence.", revision_note="One more sentence.")
    pupil = Pupil.objects.filter(school=school).first()

    for path in [
        "/staff/",
        f"/staff/codes/{code.pk}/",
        f"/staff/codes/{code.pk}/compare/?from=1&to=2",
        f"/staff/codes/{code.pk}/compare/?from=1&to=2&all=1",
        "/staff/families/whitefield-primary/pupils/",
        f"/staff/families/whitefield-primary/pupils/{pupil.pk}/",
        "/staff/families/whitefield-primary/carers/",
        f"/staff/families/whitefield-primary/carers/{carer.pk}/",
        f"/staff/families/whitefield-primary/carers/{carer.pk}/erase/",
        "/staff/families/whitefield-primary/audit/",
        "/staff/declarations/whitefield-primary/",
        f"/staff/declarations/whitefield-primary/carers/{carer.pk}/paper/",
        "/staff/sending/",
        "/staff/sending/whitefield-primary/",
        "/staff/sending/whitefield-primary/send/",
        f"/staff/sending/whitefield-primary/batches/{SendBatch.objects.get().pk}/",
        "/staff/exports/whitefield-primary/",
        "/staff/completion/schools/whitefield-primary/",
        "/staff/account/recovery-codes/",
    ]:
        walk.visit(path)

    # The Actions column: a link and a button that look alike (both link-coloured and underlined).
    narrow.goto("/staff/declarations/whitefield-primary/")
    link = narrow.get_by_role("link", name=re.compile("^Record paper form")).first
    button = narrow.get_by_role("button", name=re.compile("^E-mail a new link")).first
    look = "e => [getComputedStyle(e).color, getComputedStyle(e).textDecorationLine, getComputedStyle(e).fontSize]"
    assert link.evaluate(look) == button.evaluate(look)

    # A draft: edit, preview and the publish page.
    walk.visit(f"/staff/codes/{code.pk}/")
    narrow.get_by_role("button", name="Start a new draft from the version in force").click()
    expect(narrow.get_by_role("heading", level=1)).to_contain_text("Edit")
    walk.check()
    draft = code.versions.get(status="draft")
    walk.visit(f"/staff/versions/{draft.pk}/preview/")
    walk.visit(f"/staff/versions/{draft.pk}/publish/")

    assert not walk.overflows, "pages that scroll sideways at 320px:\n" + "\n".join(walk.overflows)
    axe_audit.assert_clean()
