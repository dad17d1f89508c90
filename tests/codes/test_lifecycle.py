"""The version lifecycle: draft → published (frozen, fingerprinted) → superseded."""

import datetime

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from codes import services
from codes.models import CodeVersion, FrozenVersionError
from schools.models import StaffRole
from tests.factories import CodeFactory, SchoolFactory, StaffRoleFactory, published_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def code():
    return CodeFactory()


def test_version_in_force_is_latest_published_whose_effective_date_has_come(code):
    v1 = published_version(code, effective_from=datetime.date(2025, 9, 1))
    v2 = published_version(code, body="## Second\n\nNew text.", effective_from=datetime.date(2026, 9, 1))
    v3 = published_version(code, body="## Third\n\nFuture text.", effective_from=datetime.date(2027, 9, 1))

    assert services.version_in_force(code, datetime.date(2026, 1, 1)) == v1
    assert services.version_in_force(code, datetime.date(2026, 9, 1)) == v2
    assert services.version_in_force(code, datetime.date(2027, 9, 2)) == v3
    assert services.version_in_force(code, datetime.date(2025, 8, 31)) is None


def test_a_draft_is_never_in_force(code):
    v1 = published_version(code)
    services.draft_start(code=code, user=None)
    assert services.version_in_force(code, datetime.date(2030, 1, 1)) == v1


def test_published_version_refuses_save(code):
    version = published_version(code)
    version.body = "Something else entirely."
    with pytest.raises(FrozenVersionError):
        version.save()
    version.refresh_from_db()
    assert "Parents will be kind online." in version.body


def test_published_version_refuses_queryset_update_in_the_database(code):
    version = published_version(code)
    with pytest.raises(IntegrityError), transaction.atomic():
        CodeVersion.objects.filter(pk=version.pk).update(body="Rewritten behind the model's back")
    version.refresh_from_db()
    assert "Parents will be kind online." in version.body


def test_published_version_refuses_delete_by_any_route(code):
    version = published_version(code)
    with pytest.raises(FrozenVersionError):
        version.delete()
    with pytest.raises(IntegrityError), transaction.atomic():
        CodeVersion.objects.filter(pk=version.pk).delete()
    assert CodeVersion.objects.filter(pk=version.pk).exists()


def test_published_version_refuses_draft_update_service(code):
    version = published_version(code)
    with pytest.raises(ValidationError):
        services.draft_update(version=version, user=None, body="Changed")


def test_fingerprint_is_sha256_of_content_and_detects_change(code):
    version = published_version(code)
    assert len(version.fingerprint) == 64
    assert version.fingerprint == services.version_fingerprint(version)
    version.body += " tampered"
    assert version.fingerprint != services.version_fingerprint(version)


def test_same_text_gives_same_fingerprint_different_text_does_not():
    a = published_version(CodeFactory(), body="## A\n\nSame.")
    b = published_version(CodeFactory(), body="## A\n\nSame.")
    c = published_version(CodeFactory(), body="## A\n\nDifferent.")
    assert a.fingerprint == b.fingerprint != c.fingerprint


def test_review_date_defaults_to_one_year_after_effective_date(code):
    version = published_version(code, effective_from=datetime.date(2026, 9, 1))
    assert version.review_due == datetime.date(2027, 9, 1)


def test_draft_starts_as_copy_of_version_in_force_with_next_number(code):
    with time_machine.travel(datetime.date(2026, 10, 1)):
        v1 = published_version(code, document_version="V1", approved_by="Governors")
        draft = services.draft_start(code=code, user=None)
    assert draft.number == 2 and draft.is_draft
    assert draft.body == v1.body and draft.approved_by == "Governors"
    assert draft.based_on == v1


def test_starting_a_draft_twice_returns_the_same_draft(code):
    published_version(code)
    first = services.draft_start(code=code, user=None)
    second = services.draft_start(code=code, user=None)
    assert first == second
    assert code.versions.filter(status="draft").count() == 1


def test_effective_date_cannot_go_back_before_a_published_version(code):
    published_version(code, effective_from=datetime.date(2026, 9, 1))
    draft = services.draft_start(code=code, user=None)
    with pytest.raises(ValidationError) as error:
        services.version_publish(version=draft, user=None, effective_from=datetime.date(2026, 1, 1))
    assert "effective_from" in error.value.message_dict
    draft.refresh_from_db()
    assert draft.is_draft


def test_minor_correction_does_not_require_signing(code):
    published_version(code)
    v2 = published_version(code, body="## Expectations\n\nParents will be kind online, always.", requires_signing=False)
    assert v2.requires_signing is False


def test_first_version_always_requires_signing(code):
    v1 = published_version(code, requires_signing=False)
    assert v1.requires_signing is True


def test_superseded_is_derived_from_later_version_in_force(code):
    v1 = published_version(code, effective_from=datetime.date(2025, 9, 1))
    v2 = published_version(code, body="## New\n\nText.", effective_from=datetime.date(2026, 9, 1))
    in_force = services.version_in_force(code, datetime.date(2026, 10, 1))
    assert services.version_state(v1, in_force, datetime.date(2026, 10, 1)) == "superseded"
    assert services.version_state(v2, in_force, datetime.date(2026, 10, 1)) == "in force"


def test_headteacher_cannot_publish_another_schools_code(code):
    published_version(code)
    outsider = StaffRoleFactory(organisation=SchoolFactory(), role=StaffRole.Role.HEADTEACHER).user
    with pytest.raises(PermissionDenied):
        services.draft_start(code=code, user=outsider)


def test_office_staff_cannot_draft_their_own_schools_code(code):
    published_version(code)
    office = StaffRoleFactory(organisation=code.owner, role=StaffRole.Role.OFFICE).user
    with pytest.raises(PermissionDenied):
        services.draft_start(code=code, user=office)


def test_school_without_own_code_uses_its_associations(association):
    shared = CodeFactory(owner=association)
    member = SchoolFactory(association=association)
    assert services.code_for_school(member) == shared


def test_which_code_a_school_uses_reads_the_same_both_ways_round(association):
    """codes_for_schools (school to code) and schools_using_code (code to schools) are one rule."""
    shared = CodeFactory(owner=association)
    own = CodeFactory(owner=SchoolFactory(association=association))
    alone = CodeFactory(owner=SchoolFactory())
    schools = [
        SchoolFactory(association=association),
        SchoolFactory(association=association),
        own.owner,
        alone.owner,
        SchoolFactory(),  # no association, no code
    ]
    uses = services.codes_for_schools(schools)
    assert [uses[school.pk] for school in schools] == [shared, shared, own, alone, None]
    for code in (shared, own, alone):
        assert set(services.schools_using_code(code)) == {school for school in schools if uses[school.pk] == code}


def test_declaration_text_fills_placeholders_without_format_errors(code):
    version = published_version(
        code, declaration_statement="I {carer}, parent of {children}, at {school} {not a placeholder}."
    )
    text = services.declaration_text(version, school_name="Whitefield", carer="Ann Lee", children="Tom Lee")
    assert text == "I Ann Lee, parent of Tom Lee, at Whitefield {not a placeholder}."


def test_django_admin_needs_the_operators_second_factor(client, code):
    from tests.factories import UserFactory

    version = published_version(code)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.get(f"/admin/codes/codeversion/{version.pk}/change/")
    assert response.status_code == 302 and response.url.startswith("/admin/login/")


def test_published_version_cannot_be_changed_or_deleted_in_django_admin(client, verified_client, code):
    from tests.factories import UserFactory

    version = published_version(code)
    operator = UserFactory(is_staff=True, is_superuser=True)
    verified_client(client, operator)
    url = f"/admin/codes/codeversion/{version.pk}/change/"
    assert client.get(url).status_code == 200  # operators may read it
    assert client.post(url, {"body": "Changed by an operator", "title": "x"}).status_code == 403
    assert client.get(f"/admin/codes/codeversion/{version.pk}/delete/").status_code == 403
    version.refresh_from_db()
    assert version.body != "Changed by an operator"
