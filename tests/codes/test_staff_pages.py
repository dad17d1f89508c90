"""A headteacher drafts, previews, compares and publishes their own school's code, and only that."""

import datetime
import html
from urllib.parse import quote

import pytest
import time_machine
from django.test import Client

from codes.models import CodeVersion
from schools.models import StaffRole
from tests.factories import CodeFactory, SchoolFactory, StaffRoleFactory, published_version

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def today():
    with time_machine.travel(datetime.datetime(2026, 11, 22, 12, 0), tick=False):
        yield


def test_headteacher_drafts_edits_previews_and_publishes(client, verified_client, school, school_code, headteacher):
    verified_client(client, headteacher)
    response = client.post(f"/staff/codes/{school_code.pk}/draft/")
    draft = school_code.versions.get(status="draft")
    assert response.url == f"/staff/versions/{draft.pk}/edit/"

    form = {
        "title": "Social Media Code of Conduct for Parents and Carers",
        "body": "## Expectations\n\nParents will be kind online.\n\n- Do not post photos of pupils\n- Use the complaints procedure",
        "declaration_statement": "I {carer}, parent of {children}, agree to this code.",
        "covering_letter": "Dear parents,",
        "author_name": "Hannah Wright",
        "author_job_title": "Headteacher",
        "document_version": "V2",
        "approved_by": "Governors",
        "approved_on": "2026-11-20",
        "links_to": "",
        "revision_note": "Added a line about the complaints procedure.",
    }
    response = client.post(f"/staff/versions/{draft.pk}/edit/", form)
    assert response.status_code == 302

    preview = html.unescape(client.get(f"/staff/versions/{draft.pk}/preview/").content.decode())
    assert "<li>Use the complaints procedure</li>" in preview
    assert "parents cannot see it until it is published" in preview
    assert "Use the complaints procedure" not in client.get(f"/schools/{school.slug}/").content.decode()

    response = client.post(
        f"/staff/versions/{draft.pk}/publish/",
        {"effective_from": "2026-11-22", "review_due": "2027-11-22", "requires_signing": "yes"},
    )
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.is_published and draft.requires_signing and len(draft.fingerprint) == 64
    public = client.get(f"/schools/{school.slug}/").content.decode()
    assert "Use the complaints procedure" in public and draft.fingerprint in public


def test_the_draft_form_says_which_fields_may_be_left_empty(client, school_code, headteacher):
    client.force_login(headteacher)
    client.post(f"/staff/codes/{school_code.pk}/draft/")
    draft = school_code.versions.get(status="draft")
    response = client.get(f"/staff/versions/{draft.pk}/edit/")
    labels = {name: field.label for name, field in response.context["form"].fields.items()}
    assert labels["covering_letter"] == "Covering letter (optional)"
    assert labels["revision_note"].endswith("(optional)")
    assert labels["title"] == "Title" and "(optional)" not in labels["body"]
    assert "Covering letter (optional)</label>" in response.content.decode()


def test_publish_form_defaults_review_date_to_one_year_on(client, verified_client, school_code, headteacher):
    verified_client(client, headteacher)
    client.post(f"/staff/codes/{school_code.pk}/draft/")
    draft = school_code.versions.get(status="draft")
    page = client.get(f"/staff/versions/{draft.pk}/publish/").content.decode()
    assert 'value="22/11/2026"' in page and 'value="22/11/2027"' in page


def test_publish_page_says_how_many_carers_at_how_many_schools_will_be_emailed(client, verified_client, school, school_code, headteacher):
    from tests.declarations.factories import family

    family(school, forename="Mary", email="mary@example.org")
    family(school, forename="John", email="john@example.org")
    family(school, forename="Paula", email="")
    verified_client(client, headteacher)
    client.post(f"/staff/codes/{school_code.pk}/draft/")
    draft = school_code.versions.get(status="draft")
    page = " ".join(client.get(f"/staff/versions/{draft.pk}/publish/").content.decode().split())
    assert "2 parents and carers at 1 school will be e-mailed" in page
    assert "1 more has no e-mail address and will need a paper form" in page


def test_publish_without_saying_whether_to_sign_again_is_refused_plainly(client, verified_client, school_code, headteacher):
    verified_client(client, headteacher)
    client.post(f"/staff/codes/{school_code.pk}/draft/")
    draft = school_code.versions.get(status="draft")
    response = client.post(f"/staff/versions/{draft.pk}/publish/", {"effective_from": "2026-11-22", "review_due": "2027-11-22"})
    assert "Say whether parents must sign again." in response.content.decode()
    draft.refresh_from_db()
    assert draft.is_draft


def test_published_version_cannot_be_edited_through_the_form(client, school_code, headteacher):
    client.force_login(headteacher)
    published = school_code.versions.get()
    response = client.post(f"/staff/versions/{published.pk}/edit/", {"title": "Hijacked", "body": "x", "declaration_statement": "x"})
    assert response.status_code == 302
    published.refresh_from_db()
    assert published.title != "Hijacked"


def test_compare_marks_changes_with_words_and_symbols_not_colour_alone(client, school_code, headteacher):
    published_version(school_code, body="## Expectations\n\nParents will be kind and polite online.\n\n- Do not post photos of pupils")
    client.force_login(headteacher)
    page = client.get(f"/staff/codes/{school_code.pk}/compare/", {"from": 1, "to": 2}).content.decode()
    assert "Version 1 compared with version 2" in page
    assert "<ins><span class=\"visually-hidden\">[added: </span>and polite" in page
    assert ">Changed<" in page
    assert "struck through" in page and "underlined" in page


def test_compare_shows_only_changes_with_a_switch_to_show_unchanged_passages(client, school_code, headteacher):
    published_version(school_code, body="## Expectations\n\nParents will be kind and polite online.\n\n- Do not post photos of pupils")
    client.force_login(headteacher)
    url = f"/staff/codes/{school_code.pk}/compare/"
    changes_only = client.get(url, {"from": 1, "to": 2}).content.decode()
    assert "and polite" in changes_only and "<li>Do not post photos" not in changes_only
    assert "<h2>Expectations</h2>" not in changes_only and "## Expectations" not in changes_only
    assert "Show unchanged passages too" in changes_only
    everything = client.get(url, {"from": 1, "to": 2, "all": "1"}).content.decode()
    assert "<h2>Expectations</h2>" in everything and "<li>Do not post photos" in everything
    assert "Show only the changes" in everything


def test_review_overdue_is_flagged_on_the_headteachers_dashboard(client, school, headteacher):
    published_version(
        CodeFactory(owner=school), effective_from=datetime.date(2019, 9, 1), review_due=datetime.date(2020, 12, 1)
    )
    client.force_login(headteacher)
    page = client.get("/staff/").content.decode()
    assert "Review overdue" in page and "December 2020" in page


def test_review_due_within_30_days_is_flagged_as_soon(client, school, headteacher):
    published_version(
        CodeFactory(owner=school), effective_from=datetime.date(2025, 12, 10), review_due=datetime.date(2026, 12, 10)
    )
    client.force_login(headteacher)
    assert "Review due soon" in client.get("/staff/").content.decode()


def test_association_admin_publishes_shared_code(client, verified_client, association):
    shared = CodeFactory(owner=association)
    published_version(shared)
    admin = StaffRoleFactory(organisation=association, role=StaffRole.Role.ASSOCIATION_ADMIN).user
    member = SchoolFactory(association=association)
    verified_client(client, admin)
    client.post(f"/staff/codes/{shared.pk}/draft/")
    draft = shared.versions.get(status="draft")
    client.post(f"/staff/versions/{draft.pk}/publish/", {"effective_from": "2026-11-22", "review_due": "2027-11-22", "requires_signing": "no"})
    draft.refresh_from_db()
    assert draft.is_published and draft.requires_signing is False
    assert f"Version {draft.number}" in client.get(f"/schools/{member.slug}/").content.decode()


@pytest.mark.parametrize("has_app", [False, True], ids=["no app yet", "app set up"])
def test_publishing_needs_the_second_factor(client, verified_client, school_code, headteacher, has_app):
    """Publishing e-mails every carer at every school using the code: like pupils' records, it
    needs the authenticator app (or a recovery code), not the password alone."""
    client.force_login(headteacher)
    client.post(f"/staff/codes/{school_code.pk}/draft/")
    draft = school_code.versions.get(status="draft")
    if has_app:
        verified_client(Client(), headteacher)  # the app exists, but this session has not used it
    url = f"/staff/versions/{draft.pk}/publish/"
    step = "/staff/account/verify/" if has_app else "/staff/account/setup/"

    response = client.get(url)
    assert response.status_code == 302 and response.url == f"{step}?next={quote(url, safe='')}"
    response = client.post(url, {"effective_from": "2026-11-22", "review_due": "2027-11-22", "requires_signing": "yes"})
    assert response.status_code == 302 and response.url.startswith(step)
    draft.refresh_from_db()
    assert draft.is_draft and school_code.versions.filter(status="published").count() == 1

    verified_client(client, headteacher)
    client.post(url, {"effective_from": "2026-11-22", "review_due": "2027-11-22", "requires_signing": "yes"})
    draft.refresh_from_db()
    assert draft.is_published


# --- Every staff view against every role -------------------------------------------------------

VIEWS = [
    # name, method, url template, needs manage rights
    ("dashboard", "get", "/staff/", None),
    ("code", "get", "/staff/codes/{code}/", False),
    ("compare", "get", "/staff/codes/{code}/compare/?from=1&to=2", False),
    ("preview published", "get", "/staff/versions/{published}/preview/", False),
    ("preview draft", "get", "/staff/versions/{draft}/preview/", True),
    ("edit", "get", "/staff/versions/{draft}/edit/", True),
    ("publish form", "get", "/staff/versions/{draft}/publish/", True),
    ("start draft", "post", "/staff/codes/{code}/draft/", True),
    ("discard", "post", "/staff/versions/{draft}/discard/", True),
]

ROLES = ["anonymous", "headteacher", "office", "other_headteacher", "other_office", "association_admin", "member_headteacher", "superuser_without_role"]


@pytest.fixture
def world(association):
    """School A (own code) in association X (own shared code); school B elsewhere."""
    school_a = SchoolFactory(association=association)
    code = CodeFactory(owner=school_a)
    published_version(code, effective_from=datetime.date(2025, 9, 1))
    published = published_version(code, body="## Two\n\nSecond.")
    draft = CodeVersion.objects.create(code=code, number=3, title="Draft", body="## Draft\n\nUnpublished.", declaration_statement="I {carer}")
    school_b = SchoolFactory()
    users = {
        "headteacher": StaffRoleFactory(organisation=school_a, role=StaffRole.Role.HEADTEACHER).user,
        "office": StaffRoleFactory(organisation=school_a, role=StaffRole.Role.OFFICE).user,
        "other_headteacher": StaffRoleFactory(organisation=school_b, role=StaffRole.Role.HEADTEACHER).user,
        "other_office": StaffRoleFactory(organisation=school_b, role=StaffRole.Role.OFFICE).user,
        "association_admin": StaffRoleFactory(organisation=association, role=StaffRole.Role.ASSOCIATION_ADMIN).user,
        "member_headteacher": StaffRoleFactory(organisation=SchoolFactory(association=association), role=StaffRole.Role.HEADTEACHER).user,
        "superuser_without_role": StaffRoleFactory.build().user,
    }
    su = users["superuser_without_role"]
    su.is_superuser = su.is_staff = True
    su.save()
    return {"code": code.pk, "published": published.pk, "draft": draft.pk, "users": users}


def expected_status(role, view_name, manage):
    if role == "anonymous":
        return "login"
    if manage is None:
        return 200
    if role == "headteacher":
        return 302 if view_name in {"start draft", "discard"} else 200
    if role in {"office", "association_admin"} and manage is False:
        return 200  # office staff read their school's code; association admins their members'.
    return 404


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("view_name,method,url,manage", VIEWS, ids=[v[0] for v in VIEWS])
def test_every_staff_view_against_every_role(client, verified_client, world, role, view_name, method, url, manage):
    if role != "anonymous":
        # Publishing needs the second factor (test_publishing_needs_the_second_factor); here, who may.
        (verified_client if view_name == "publish form" else lambda c, u: c.force_login(u))(client, world["users"][role])
    response = getattr(client, method)(url.format(**world))
    expected = expected_status(role, view_name, manage)
    if expected == "login":
        assert response.status_code == 302 and response.url.startswith("/staff/login/")
    else:
        assert response.status_code == expected, f"{role} on {view_name}"
    if expected == 404 and view_name == "discard":
        assert CodeVersion.objects.filter(pk=world["draft"]).exists()


def test_other_schools_staff_see_nothing_of_another_schools_draft(client, world):
    client.force_login(world["users"]["other_headteacher"])
    page = client.get("/staff/").content.decode()
    assert "Unpublished." not in page
    assert client.get(f"/staff/versions/{world['draft']}/preview/").status_code == 404


def test_an_association_code_no_school_uses_says_nobody_can_sign_it(client, verified_client):
    from tests.factories import AssociationFactory

    lonely = AssociationFactory(name="Lonely Association", slug="lonely")
    code = CodeFactory(owner=lonely)
    published_version(code)
    admin = StaffRoleFactory(organisation=lonely, role=StaffRole.Role.ASSOCIATION_ADMIN).user
    client.force_login(admin)
    for url in ("/staff/", f"/staff/codes/{code.pk}/"):
        page = " ".join(client.get(url).content.decode().split())
        assert "Nobody can sign this code yet:</strong> no school uses it" in page, url
    SchoolFactory(association=lonely)
    assert "Nobody can sign this code yet" not in client.get("/staff/").content.decode()


def test_dates_are_typed_and_shown_day_first_whatever_the_browser(client, verified_client, school_code, headteacher):
    from codes.forms import PublishForm

    verified_client(client, headteacher)
    client.post(f"/staff/codes/{school_code.pk}/draft/")
    draft = school_code.versions.get(status="draft")
    page = client.get(f"/staff/versions/{draft.pk}/publish/").content.decode()
    assert 'type="date"' not in page, "a native date picker shows a US-English browser month first"
    assert 'name="effective_from" value="22/11/2026"' in page and "for example 22/11/2026" in page
    form = PublishForm({"effective_from": "1/12/2026", "review_due": "1 December 2027", "requires_signing": "yes"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["effective_from"] == datetime.date(2026, 12, 1)
    assert form.cleaned_data["review_due"] == datetime.date(2027, 12, 1)
    assert not PublishForm({"effective_from": "11/22/2026", "review_due": "22/11/2027", "requires_signing": "yes"}).is_valid()


def test_staff_choose_which_two_versions_to_compare(client, school_code, headteacher):
    published_version(school_code, body="## Expectations\n\nParents will be kind and polite online.")
    published_version(school_code, body="## Expectations\n\nParents will be kind, polite and patient online.")
    client.force_login(headteacher)
    url = f"/staff/codes/{school_code.pk}/compare/"
    latest = client.get(url).content.decode()
    assert "Version 2 compared with version 3" in latest
    assert '<option value="2" selected>Version 2</option>' in latest and '<option value="3" selected>Version 3</option>' in latest
    chosen = client.get(url, {"from": "1", "to": "3"}).content.decode()
    assert "Version 1 compared with version 3" in chosen
    assert "Version 2 compared with version 3" in client.get(url, {"from": "9", "to": "x"}).content.decode()
