"""What a headteacher does: sign in, revise the school's code, publish it, compare the versions."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from codes.services import add_one_year
from schools.models import Organisation, StaffRole
from tests.factories import StaffRoleFactory

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("seeds")]

TITLE = "Social Media Code of Conduct for Parents and Carers"
NEW_POINT = "Parents and carers will not share screenshots of the class group chat."
NOTE = "Added a point about screenshots of group chats."


def headteacher_of(slug):
    organisation = Organisation.objects.get(slug=slug)
    return StaffRoleFactory(organisation=organisation, role=StaffRole.Role.HEADTEACHER).user


def submit_without_browser_checks(page, button_name):
    """Submit as a browser without HTML5 validation would, to see the portal's own errors."""
    button = page.get_by_role("button", name=button_name)
    button.evaluate("button => { button.form.noValidate = true; }")
    button.click()


def test_headteacher_publishes_a_new_version(page, axe_audit, sign_in):
    head = headteacher_of("whitefield-primary")

    # Sign in.
    page.goto("/")
    page.get_by_role("link", name="Staff sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Staff sign in")
    axe_audit.check(page)
    page.get_by_label("Username").fill(head.username)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("main")).to_contain_text("Please enter a correct username and password")
    axe_audit.check(page)
    sign_in(page, head, audit=axe_audit)

    # Dashboard.
    expect(page.get_by_role("heading", level=1)).to_have_text("Staff dashboard")
    card = page.get_by_role("region", name="Whitefield Primary School", exact=True)
    expect(card).to_contain_text("Version 1, since 1 September 2026")
    expect(card).not_to_contain_text("Review overdue")
    axe_audit.check(page)
    card.get_by_role("link", name="Manage this code").click()

    # The code's page.
    expect(page).to_have_url(re.compile(r"/staff/codes/\d+/$"))
    code_url = page.url
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(page.get_by_role("table")).to_contain_text("In force")
    axe_audit.check(page)
    page.get_by_role("button", name="Start a new draft from the version in force").click()

    # The draft: first a failed save with the code emptied, then a real edit.
    expect(page).to_have_url(re.compile(r"/staff/versions/\d+/edit/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit draft version 2")
    expect(page.get_by_role("status")).to_contain_text("Version 2 is a draft")
    axe_audit.check(page)
    body = page.locator("#id_body")
    original = body.input_value()
    assert "All parents will be required to read this code of conduct" in original
    body.fill("")
    submit_without_browser_checks(page, "Save draft")
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit draft version 2")
    expect(page.locator("#id_body")).to_have_class(re.compile(r"\bis-invalid\b"))
    expect(page.get_by_role("main")).to_contain_text("This field is required.")
    axe_audit.check(page)

    page.locator("#id_body").fill(f"{original}\n\n- {NEW_POINT}")
    page.locator("#id_revision_note").fill(NOTE)
    page.get_by_role("button", name="Save draft").click()

    # The preview shows the new text.
    expect(page).to_have_url(re.compile(r"/staff/versions/\d+/preview/$"))
    expect(page.get_by_role("status")).to_have_text("Draft saved.")
    expect(page.get_by_role("note")).to_contain_text("This is a preview of draft version 2")
    expect(page.locator(".code-body li").filter(has_text=NEW_POINT)).to_have_count(1)
    axe_audit.check(page)
    page.get_by_role("note").get_by_role("link", name="Publish", exact=True).click()

    # Publish: first without answering the question, then "Yes" with the default dates.
    expect(page.get_by_role("heading", level=1)).to_have_text("Publish version 2")
    today = timezone.localdate()
    expect(page.get_by_label("Effective from")).to_have_value(f"{today:%d/%m/%Y}")
    axe_audit.check(page)
    submit_without_browser_checks(page, "Publish this version")
    expect(page.get_by_role("main")).to_contain_text("Say whether parents must sign again.")
    axe_audit.check(page)
    page.get_by_label("Yes — this is a real change to what parents agree to").check()
    page.get_by_role("button", name="Publish this version").click()

    expect(page).to_have_url(code_url)
    expect(page.get_by_role("status")).to_have_text(
        f"Version 2 is published. It comes into force on {today:%-d %B %Y}. Every parent and carer will be "
        "asked to sign it from that day; the e-mails go in the background."
    )
    row = page.get_by_role("row").filter(has=page.get_by_role("cell", name="2", exact=True))
    expect(row).to_contain_text("In force")

    # Parents see the new version.
    page.goto("/schools/whitefield-primary/")
    expect(page.locator(".version-meta")).to_contain_text("Version 2")
    expect(page.locator(".code-body li").filter(has_text=NEW_POINT)).to_have_count(1)
    expect(page.locator(".fingerprint")).to_contain_text("Fingerprint (SHA-256) of this version")
    expect(page.locator(".fingerprint code")).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
    page.get_by_role("link", name="Earlier versions of this code").click()
    expect(page.get_by_role("row").filter(has_text="Version 2")).to_contain_text(NOTE)
    expect(page.get_by_role("row").filter(has_text="Version 1")).to_contain_text("Superseded")
    page.get_by_role("link", name="Version 1").click()
    expect(page.get_by_role("note")).to_contain_text("This is not the version in force.")
    expect(page.locator(".version-meta")).to_contain_text("Superseded")
    axe_audit.check(page)

    # Compare version 1 with version 2.
    page.goto(code_url)
    expect(page.get_by_label("Older version")).to_have_value("1")
    expect(page.get_by_label("Newer version")).to_have_value("2")
    page.get_by_role("button", name="Compare").click()
    expect(page).to_have_url(re.compile(r"/compare/\?from=1&to=2$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Version 1 compared with version 2")
    the_code = page.get_by_role("region", name="The code", exact=True)
    added = the_code.locator(".passage").filter(has=page.locator("ins", has_text=NEW_POINT))
    expect(added).to_have_count(1)
    expect(added.locator(".change-label")).to_have_text(re.compile(r"^(Added|Changed)$"))
    expect(page.get_by_role("region", name="Note of revisions", exact=True)).to_contain_text(NOTE)
    axe_audit.check(page)

    # Every page on the way, checked with axe-core (reported together, so none hides another).
    axe_audit.assert_clean()


def test_overdue_review_is_flagged_to_the_headteacher(page, assert_accessible, sign_in):
    head = headteacher_of("alsop-high")
    sign_in(page, head)

    card = page.get_by_role("region", name="Alsop High School", exact=True)
    flag = card.get_by_role("alert")
    expect(flag).to_contain_text("Review overdue")
    expect(flag).to_contain_text("due for review in December 2020")
    assert_accessible(page)

    card.get_by_role("link", name="Manage this code").click()
    expect(page.get_by_role("alert")).to_contain_text("Review overdue: due December 2020")
    assert_accessible(page)

    # The review finds no change needed: the date moves a year on, the flag goes.
    review = page.get_by_role("region", name="Annual review")
    review.get_by_label("Note (optional)").fill("Reviewed by the governors; no change needed.")
    review.get_by_role("button", name="Record the review: no change needed").click()
    next_review = add_one_year(timezone.localdate())
    expect(page.get_by_role("status")).to_contain_text(
        f"Review recorded: no change needed. The next review is due on {next_review:%-d %B %Y}."
    )
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.get_by_role("region", name="Annual review")).to_contain_text("Reviewed by the governors")
    assert_accessible(page)
