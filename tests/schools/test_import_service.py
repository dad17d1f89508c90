"""The import service (schools/services.py): who may import, the one audit event, and the upload
waiting between preview and confirm (schools/imports/staging.py)."""

import dataclasses
import datetime
import os
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from schools import services
from schools.imports import ImportRejected
from schools.imports.staging import StagedUpload
from schools.models import AuditEvent, Pupil, StaffRole
from tests.factories import StaffRoleFactory
from tests.schools.test_imports import export, pair

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def stored(media) -> list[Path]:
    folder = Path(media) / "family-imports"
    return sorted(folder.iterdir()) if folder.exists() else []


@pytest.fixture
def office(school):
    return StaffRoleFactory(organisation=school, role=StaffRole.Role.OFFICE).user


def upload(data=None, name="export.csv"):
    return SimpleUploadedFile(name, data or export(pair()))


def stage_and_preview(school, user, data=None):
    staged = services.families_import_stage(school=school, user=user, upload=upload(data))
    return services.families_import_preview(school=school, user=user, staged=staged)


@pytest.mark.parametrize("role", ["other school's office", "association admin"])
def test_only_the_schools_own_staff_may_import(school, other_school, association, office, media, role):
    if role == "association admin":
        school.association = association
        school.save()
        outsider = StaffRoleFactory(organisation=association, role=StaffRole.Role.ASSOCIATION_ADMIN).user
    else:
        outsider = StaffRoleFactory(organisation=other_school, role=StaffRole.Role.OFFICE).user
    staged = stage_and_preview(school, office).staged

    for attempt in [
        lambda: services.families_import_stage(school=school, user=outsider, upload=upload()),
        lambda: services.families_import_preview(school=school, user=outsider, staged=staged),
        lambda: services.families_import_confirm(school=school, user=outsider, staged=staged, changes_sha256=""),
        lambda: services.families_import_cancel(school=school, user=outsider, staged=staged),
        lambda: services.families_import(school=school, filename="x.csv", data=export(pair()), user=outsider),
    ]:
        with pytest.raises(PermissionDenied):
            attempt()
    assert len(stored(media)) == 1  # the office's upload, untouched
    assert not Pupil.objects.exists() and not AuditEvent.objects.exists()


def test_confirming_imports_the_previewed_upload_deletes_it_and_audits_it_once(school, office, media, rf):
    preview = stage_and_preview(school, office)
    assert preview.plan.is_valid and preview.staged.sha256 == preview.plan.file_sha256
    request = rf.post("/", REMOTE_ADDR="192.0.2.7")

    result = services.families_import_confirm(
        school=school, user=office, staged=preview.staged, changes_sha256=preview.plan.changes_sha256, request=request
    )

    assert result.counts["pupils added"] == 1 and Pupil.objects.filter(school=school).count() == 1
    assert not stored(media)
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.ip_address) == (AuditEvent.Action.IMPORT, office, "192.0.2.7")
    assert (event.detail["source"], event.detail["filename"]) == ("web", "export.csv")
    with pytest.raises(ImportRejected) as again:
        services.families_import_confirm(school=school, user=office, staged=preview.staged, changes_sha256="")
    assert again.value.reason == ImportRejected.Reason.NOT_WAITING
    assert AuditEvent.objects.count() == 1


def test_an_upload_that_cannot_be_imported_is_deleted_by_its_preview(school, office, media):
    preview = stage_and_preview(school, office, data=b"\xff\xfe" + export(pair()))

    assert not preview.plan.is_valid and preview.staged is None
    assert not stored(media)


def test_an_upload_waits_for_its_own_user_and_school_only(school, other_school, office, headteacher, media):
    staged = services.families_import_stage(school=school, user=office, upload=upload())
    someone_else = StaffRoleFactory(organisation=other_school, role=StaffRole.Role.OFFICE).user
    theirs = services.families_import_stage(school=other_school, user=someone_else, upload=upload())

    assert services.families_import_preview(school=school, user=headteacher, staged=staged).plan is None
    assert services.families_import_preview(school=school, user=office, staged=theirs).plan is None
    assert len(stored(media)) == 2  # neither was someone else's to delete
    assert services.families_import_preview(school=school, user=office, staged=staged).plan.is_valid


def test_an_upload_over_a_day_old_is_no_longer_waiting_and_is_deleted(school, office, media):
    staged = services.families_import_stage(school=school, user=office, upload=upload())
    yesterday = dataclasses.replace(staged, uploaded_at=timezone.now() - datetime.timedelta(hours=24, minutes=1))

    assert services.families_import_preview(school=school, user=office, staged=yesterday).plan is None
    assert not stored(media)


def test_uploads_nobody_confirmed_or_cancelled_are_deleted_after_a_day(school, office, headteacher, media):
    services.families_import_stage(school=school, user=office, upload=upload())
    (forgotten,) = stored(media)  # a closed tab
    a_day_ago = (timezone.now() - datetime.timedelta(hours=24, minutes=1)).timestamp()
    os.utime(forgotten, (a_day_ago, a_day_ago))

    services.families_import_stage(school=school, user=headteacher, upload=upload(name="later.csv"))

    assert forgotten not in stored(media) and len(stored(media)) == 1


def test_a_new_upload_replaces_the_one_waiting(school, office, media):
    first = services.families_import_stage(school=school, user=office, upload=upload())

    second = services.families_import_stage(school=school, user=office, upload=upload(name="b.csv"), replacing=first)

    assert [path.name for path in stored(media)] == [second.name.rsplit("/", 1)[1]]


@pytest.mark.parametrize("value", [
    None, "x", {"name": "../../portal/settings.py"}, {"name": "family-imports/../../secret"},
])
def test_a_session_holds_no_upload_but_a_well_formed_one(value, office, school):
    staged = services.families_import_stage(school=school, user=office, upload=upload())
    tampered = {**staged.to_session(), **value} if isinstance(value, dict) else value

    assert StagedUpload.from_session(tampered) is None
    assert StagedUpload.from_session(staged.to_session()) == staged
