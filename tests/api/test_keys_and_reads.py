"""API keys (made and revoked by headteachers, shown once, stored hashed, scoped, rate-limited,
audited) and the read operations: what another system sees, and never beyond its school."""

import hashlib

import pytest
from rest_framework.test import APIClient

from api.models import ApiKey
from declarations import services as signing
from schools.models import AuditEvent, StaffRole
from tests.declarations.factories import family, issued_link
from tests.factories import CodeFactory, SchoolFactory, StaffRoleFactory, published_version

pytestmark = pytest.mark.django_db


def client_with(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def sign(carer, version):
    signing_request, _ = issued_link(carer, version)
    return signing.declaration_sign(
        signing_request=signing_request, version_id_shown=version.pk, typed_name=carer.full_name,
        agreed=True, ip="203.0.113.9", user_agent="test",
    )


def test_a_headteacher_makes_a_key_shown_once_and_only_its_hash_is_kept(client, verified_client, headteacher, school):
    verified_client(client, headteacher)
    made = client.post(f"/staff/api-keys/{school.slug}/", {"name": "Arbor nightly", "scopes": ["read", "import_families"]})
    assert made.status_code == 302
    page = client.get(made.url)
    key = page.context["new_key"]
    assert key.startswith("cop_") and key in page.content.decode()
    assert page.headers["Cache-Control"].startswith("max-age=0")
    stored = ApiKey.objects.get()
    assert stored.key_sha256 == hashlib.sha256(key.encode()).hexdigest()
    assert key not in str(ApiKey.objects.values().get())
    again = client.get(f"/staff/api-keys/{school.slug}/")
    assert key not in again.content.decode() and "Arbor nightly" in again.content.decode()
    assert key not in str(dict(client.session))


def test_office_staff_cannot_make_keys(client, verified_client, office, school):
    verified_client(client, office)
    assert client.get(f"/staff/api-keys/{school.slug}/").status_code == 404
    assert client.post(f"/staff/api-keys/{school.slug}/", {"name": "x", "scopes": ["read"]}).status_code == 404
    assert not ApiKey.objects.exists()


def test_a_revoked_key_is_refused_with_a_problem_document(client, verified_client, headteacher, school, key):
    api = client_with(key.key)
    assert api.get("/api/v1/organisations/").status_code == 200
    verified_client(client, headteacher)
    client.post(f"/staff/api-keys/{school.slug}/{key.record.pk}/revoke/")
    answer = api.get("/api/v1/organisations/")
    assert answer.status_code == 401
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert answer.json()["title"] == "Not signed in" and "revoked" in answer.json()["detail"]


def test_no_key_and_a_wrong_key_are_refused(school):
    assert APIClient().get("/api/v1/organisations/").status_code == 401
    assert client_with("cop_00000000_nothing").get("/api/v1/organisations/").status_code == 401


def test_a_key_reads_its_schools_code_its_fingerprint_and_the_version_in_force(api, school, school_code):
    code = api.get(f"/api/v1/organisations/{school.slug}/code/").json()
    version = school_code.versions.get()
    assert code["in_force"] == 1
    assert code["versions"][0]["fingerprint"] == version.fingerprint
    assert code["versions"][0]["state"] == "in force"
    full = api.get(f"/api/v1/organisations/{school.slug}/code/versions/1/").json()
    assert full["body"] == version.body


def test_every_use_is_in_the_audit_log_and_sets_last_used(api, key, school, headteacher):
    api.get("/api/v1/organisations/")
    event = AuditEvent.objects.filter(action=AuditEvent.Action.API_REQUEST, detail__method="GET").get()
    assert event.school == school and event.actor == headteacher
    assert event.detail == {"key": key.record.prefix, "method": "GET", "path": "/api/v1/organisations/", "status": 200}
    key.record.refresh_from_db()
    assert key.record.last_used_at is not None


def test_a_key_never_reaches_another_schools_data(api, school, other_school):
    CodeFactory(owner=other_school)
    family(other_school, email="someone@example.org")
    for path in (
        f"/api/v1/schools/{other_school.slug}/carers/",
        f"/api/v1/schools/{other_school.slug}/declarations/",
        f"/api/v1/organisations/{other_school.slug}/code/",
        f"/api/v1/organisations/{other_school.slug}/",
    ):
        answer = api.get(path)
        assert answer.status_code == 404, path
        assert answer.headers["Content-Type"] == "application/problem+json"
    assert [o["slug"] for o in api.get("/api/v1/organisations/").json()["results"]] == [school.slug]


def test_a_key_stops_working_for_families_when_its_maker_loses_their_role(api, school, headteacher, school_code):
    family(school)
    assert api.get(f"/api/v1/schools/{school.slug}/carers/").status_code == 200
    StaffRole.objects.filter(user=headteacher).delete()
    assert api.get(f"/api/v1/schools/{school.slug}/carers/").status_code == 404


def test_an_association_key_reads_member_schools_codes_but_never_their_families(association):
    member = SchoolFactory(association=association)
    admin = StaffRoleFactory(organisation=association, role=StaffRole.Role.ASSOCIATION_ADMIN).user
    published_version(CodeFactory(owner=association))
    family(member)
    from api.keys import api_key_create

    made = api_key_create(user=admin, organisation=association, name="Trust reporting", scopes=["read"])
    api = client_with(made.key)
    slugs = {o["slug"] for o in api.get("/api/v1/organisations/").json()["results"]}
    assert slugs == {member.slug, association.slug}
    assert api.get(f"/api/v1/organisations/{member.slug}/code/").json()["owner"] == association.slug
    assert api.get(f"/api/v1/schools/{member.slug}/carers/").status_code == 404


def test_carers_standing_is_filtered_by_status_year_and_group(api, school, school_code):
    version = school_code.versions.get()
    mary = family(school)
    family(school, forename="Jo", surname="Bloggs", email="", children=(("Kit", "Bloggs", "6", "6C"),))
    sign(mary, version)
    everyone = api.get(f"/api/v1/schools/{school.slug}/carers/").json()
    assert everyone["count"] == 2
    signed = api.get(f"/api/v1/schools/{school.slug}/carers/", {"status": "signed"}).json()["results"]
    assert [(c["surname"], c["standing"]) for c in signed] == [("Smith", "online")]
    outstanding = api.get(f"/api/v1/schools/{school.slug}/carers/", {"status": "outstanding"}).json()["results"]
    assert [(c["surname"], c["standing"], c["has_email"]) for c in outstanding] == [("Bloggs", "no-email", False)]
    assert [c["surname"] for c in api.get(f"/api/v1/schools/{school.slug}/carers/", {"year": "6"}).json()["results"]] == ["Bloggs"]
    assert [c["surname"] for c in api.get(f"/api/v1/schools/{school.slug}/carers/", {"reg": "5A"}).json()["results"]] == ["Smith"]
    bad = api.get(f"/api/v1/schools/{school.slug}/carers/", {"status": "happy"})
    assert bad.status_code == 400 and "status" in bad.json()["errors"]


def test_declarations_and_their_sealed_pdf(api, school, school_code):
    declaration = sign(family(school), school_code.versions.get())
    listed = api.get(f"/api/v1/schools/{school.slug}/declarations/").json()["results"]
    assert [(d["id"], d["version"], d["version_fingerprint"]) for d in listed] == [
        (declaration.pk, 1, declaration.version_fingerprint)
    ]
    pdf = api.get(listed[0]["pdf_url"])
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    assert b"".join(pdf.streaming_content).startswith(b"%PDF")


def test_each_key_is_rate_limited(api, settings, school):
    settings.PORTAL_RATE_LIMITS = {**settings.PORTAL_RATE_LIMITS, "api_key": (3, 60)}
    assert [api.get("/api/v1/organisations/").status_code for _ in range(4)] == [200, 200, 200, 429]
    answer = api.get("/api/v1/organisations/")
    assert answer.headers["Retry-After"] == "60" and answer.json()["status"] == 429


def test_a_key_without_the_scope_may_not_import(make_key, school):
    made = make_key(scopes=["read"])
    answer = client_with(made.key).post(f"/api/v1/schools/{school.slug}/imports/", {"rows": [{"a": "b"}]}, format="json")
    assert answer.status_code == 403 and answer.json()["title"] == "Not allowed"


def test_the_schema_and_its_documentation_page_are_served_from_the_portal(client, school):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200 and "/api/v1/schools/{slug}/carers/" in schema.json()["paths"]
    docs = client.get("/api/v1/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in docs
    assert "http" not in docs.split("<body>")[1].split("</body>")[0].replace("http-equiv", "")
    script = client.get("/api/v1/docs/?script=")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()


def test_the_staff_dashboard_links_to_api_keys_and_webhooks(client, verified_client, headteacher, office, school):
    verified_client(client, headteacher)
    page = client.get("/staff/").content.decode()
    assert f"/staff/api-keys/{school.slug}/" in page and f"/staff/webhooks/{school.slug}/" in page
    verified_client(client, office)
    assert "/staff/api-keys/" not in client.get("/staff/").content.decode()
