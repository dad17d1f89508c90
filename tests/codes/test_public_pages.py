"""What a parent or member of the public sees: the code in force, its history, nothing unpublished."""

import datetime
import html

import pytest
import time_machine

from codes import services
from tests.factories import CodeFactory, SchoolFactory, published_version

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def today():
    with time_machine.travel(datetime.datetime(2026, 11, 22, 12, 0), tick=False):
        yield


def test_school_page_shows_code_in_force_with_declaration(client, school):
    code = CodeFactory(owner=school)
    version = published_version(
        code,
        body="## Online messaging\n\nParents will use WhatsApp kindly.\n\n- No abusive messages",
        declaration_statement="I {carer}, parent of {children}, declare that I have read this code at {school}.",
    )
    page = html.unescape(client.get(f"/schools/{school.slug}/").content.decode())
    assert "<h2>Online messaging</h2>" in page
    assert "<li>No abusive messages</li>" in page
    assert "I [your full name], parent of [your child's name], declare that I have read this code at Whitefield Primary School." in page
    assert version.fingerprint in page


def test_future_version_is_not_shown_until_its_effective_date(client, school):
    code = CodeFactory(owner=school)
    published_version(code, body="## Now\n\nCurrent wording.", effective_from=datetime.date(2026, 9, 1))
    published_version(code, body="## Later\n\nNext year's wording.", effective_from=datetime.date(2027, 9, 1))
    page = client.get(f"/schools/{school.slug}/").content.decode()
    assert "Current wording." in page and "Next year" not in page


def test_earlier_versions_are_listed_and_readable(client, school):
    code = CodeFactory(owner=school)
    published_version(code, body="## Old\n\nThe first wording.", effective_from=datetime.date(2025, 9, 1))
    published_version(code, body="## New\n\nThe second wording.", revision_note="Added WhatsApp groups.")
    listing = client.get(f"/schools/{school.slug}/versions/").content.decode()
    assert "Version 1" in listing and "Version 2" in listing and "Added WhatsApp groups." in listing
    assert "Superseded" in listing and "In force" in listing
    old = client.get(f"/schools/{school.slug}/versions/1/").content.decode()
    assert "The first wording." in old and "This is not the version in force" in old


def test_drafts_are_never_public(client, school):
    code = CodeFactory(owner=school)
    published_version(code)
    draft = services.draft_start(code=code, user=None)
    services.draft_update(version=draft, user=None, body="## Secret\n\nNot yet agreed by governors.")
    assert client.get(f"/schools/{school.slug}/versions/2/").status_code == 404
    assert "Not yet agreed" not in client.get(f"/schools/{school.slug}/").content.decode()


def test_member_school_shows_association_code_under_its_own_name(client, association):
    shared = CodeFactory(owner=association)
    published_version(shared, body="## Statement of intent\n\nThe association's shared wording.")
    member = SchoolFactory(name="Ashley High School", slug="ashley-high-school", association=association)
    page = html.unescape(client.get(f"/schools/{member.slug}/").content.decode())
    assert "The association's shared wording." in page
    assert "Ashley High School has adopted the code of conduct of the Halton Association of Secondary Headteachers" in page
    assert f'href="/schools/{member.slug}/brand.css"' in page


def test_brand_stylesheet_picks_readable_text_colour(client, school):
    school.brand_colour = "#ffdd00"
    school.save()
    css = client.get(f"/schools/{school.slug}/brand.css").content.decode()
    assert "--brand: #ffdd00" in css and "--brand-text: #111111" in css


def test_document_control_table_is_shown_where_the_school_has_one(client, school):
    published_version(
        CodeFactory(owner=school),
        author_name="Joe Pilkington",
        author_job_title="Safeguarding Lead",
        document_version="V1",
        approved_by="Governors",
        approved_on=datetime.date(2019, 9, 1),
        effective_from=datetime.date(2019, 9, 1),
        review_due=datetime.date(2020, 12, 1),
    )
    page = client.get(f"/schools/{school.slug}/").content.decode()
    for text in ["Joe Pilkington, Safeguarding Lead", "V1", "September 2019", "Governors", "December 2020"]:
        assert text in page


def test_pages_send_a_strict_content_security_policy(client, school):
    published_version(CodeFactory(owner=school))
    response = client.get(f"/schools/{school.slug}/")
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "unsafe-inline" not in policy
    assert "script-src 'self'" in policy


def test_directory_search_finds_schools_by_name(client, school, other_school):
    page = client.get("/", {"q": "peartree"}).content.decode()
    assert "Peartree Spring Primary School" in page and "Whitefield" not in page


def test_directory_search_keeps_what_was_typed_and_says_when_nothing_matches(client, school):
    page = client.get("/", {"q": "zebra"}).content.decode()
    assert 'name="q" value="zebra"' in page
    assert "No school or association matches “zebra”." in page
    assert 'role="search"' in page and "Whitefield" not in page


def test_unknown_school_is_a_friendly_404(client, db):
    response = client.get("/schools/no-such-school/")
    assert response.status_code == 404
