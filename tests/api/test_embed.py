"""The code on the school's own website: an embeddable page that only the school's registered
website may frame, without script, showing the version in force and keeping itself up to date."""

import datetime

import pytest

from tests.factories import published_version

pytestmark = pytest.mark.django_db


def test_only_the_schools_own_website_may_frame_the_code_in_force(client, school, school_code):
    school.website = "https://www.whitefield.example/about/policies"
    school.save()
    page = client.get(f"/embed/{school.slug}/")
    assert page.status_code == 200
    policy = page.headers["Content-Security-Policy"]
    assert "frame-ancestors https://www.whitefield.example;" in policy + ";"
    assert "script-src 'none'" in policy
    assert "X-Frame-Options" not in page.headers
    body = page.content.decode()
    assert school_code.versions.get().fingerprint in body and "<script" not in body
    assert "/sign/new-link/" in body


def test_a_school_without_a_registered_website_cannot_be_framed_by_anyone(client, school, school_code):
    policy = client.get(f"/embed/{school.slug}/").headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy


def test_the_embedded_page_follows_the_version_in_force(client, school, school_code, now):
    published_version(school_code, body="## New rules\n\nBe kinder still.", effective_from=datetime.date(2026, 12, 1))
    assert "Be kinder still" not in client.get(f"/embed/{school.slug}/").content.decode()
    now.shift(datetime.timedelta(days=10))
    assert "Be kinder still" in client.get(f"/embed/{school.slug}/").content.decode()


def test_the_headteacher_is_given_the_snippet_to_paste(client, verified_client, headteacher, school):
    verified_client(client, headteacher)
    page = client.get(f"/staff/api-keys/{school.slug}/").content.decode()
    assert f'src="http://testserver/embed/{school.slug}/"' in page.replace("&quot;", '"').replace("&lt;", "<")
