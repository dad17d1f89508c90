"""The API's writes: a families import (dry run, preview fingerprint, all or nothing, JSON rows),
invitations through the outbox (each carer once, however often asked), and an export started
and polled. Each goes through the service the pages use, and is audited as theirs are."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from evidence.zip_exports import export_build
from schools.models import AuditEvent, Carer, Pupil
from sending.models import OutboxMessage
from tests.declarations.factories import family
from tests.schools.test_imports import export, pair

pytestmark = pytest.mark.django_db


def test_a_dry_run_previews_the_import_and_changes_nothing(api, school):
    data = export(pair(), pair(adno="001002", forename="Cara"))
    answer = api.post(
        f"/api/v1/schools/{school.slug}/imports/",
        {"file": SimpleUploadedFile("sims.csv", data), "dry_run": "true"}, format="multipart",
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["imported"] is False and body["valid"] is True
    assert body["counts"]["pupils added"] == 2 and body["counts"]["carers added"] == 1
    assert not Pupil.objects.exists()


def test_an_import_confirmed_with_the_previews_fingerprint_is_applied_and_audited(api, school, headteacher):
    data = export(pair())
    preview = api.post(f"/api/v1/schools/{school.slug}/imports/",
                       {"file": SimpleUploadedFile("sims.csv", data), "dry_run": True}, format="multipart").json()
    answer = api.post(
        f"/api/v1/schools/{school.slug}/imports/",
        {"file": SimpleUploadedFile("sims.csv", data), "changes_sha256": preview["changes_sha256"]}, format="multipart",
    )
    assert answer.status_code == 201 and answer.json()["imported"] is True
    assert Pupil.objects.filter(school=school).count() == 1
    event = AuditEvent.objects.get(action=AuditEvent.Action.IMPORT)
    assert event.detail["source"] == "api" and event.actor == headteacher
    again = api.post(
        f"/api/v1/schools/{school.slug}/imports/",
        {"file": SimpleUploadedFile("sims.csv", data), "changes_sha256": preview["changes_sha256"]}, format="multipart",
    )
    assert again.status_code == 400 and "already been imported" in again.json()["detail"]


def test_a_file_with_a_bad_row_imports_nothing_and_says_which_line(api, school):
    data = export(pair(), pair(adno="001002", year="Year 99"))
    answer = api.post(f"/api/v1/schools/{school.slug}/imports/", {"file": SimpleUploadedFile("sims.csv", data)}, format="multipart")
    assert answer.status_code == 400
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert "Line 3" in answer.json()["detail"]
    assert not Pupil.objects.exists() and not Carer.objects.exists()


def test_json_rows_are_imported_as_the_same_file_would_be(api, school):
    rows = [{key: value for key, value in pair().items() if key != "Contact ID"}]
    answer = api.post(f"/api/v1/schools/{school.slug}/imports/", {"rows": rows}, format="json")
    assert answer.status_code == 201, answer.json()
    assert Carer.objects.get().email == "mary@example.org"


def test_invitations_go_through_the_outbox_once_however_often_asked(api, school, school_code, tasks):
    family(school)
    family(school, forename="Jo", surname="Bloggs", email="", children=(("Kit", "Bloggs", "6", "6C"),))
    preview = api.post(f"/api/v1/schools/{school.slug}/invitations/", {"audience": "all-unsigned", "dry_run": True}, format="json")
    assert preview.status_code == 200 and preview.json()["to_send"] == 1 and preview.json()["batch"] is None
    assert not OutboxMessage.objects.exists()
    sent = api.post(f"/api/v1/schools/{school.slug}/invitations/", {"audience": "all-unsigned"}, format="json")
    assert sent.status_code == 202
    assert sent.json()["to_send"] == 1 and len(sent.json()["needs_paper_form"]) == 1
    again = api.post(f"/api/v1/schools/{school.slug}/invitations/", {"audience": "all-unsigned"}, format="json").json()
    assert again["to_send"] == 0 and again["already_invited"] == 1
    assert OutboxMessage.objects.filter(kind="invitation").count() == 1
    progress = api.get(f"/api/v1/schools/{school.slug}/invitations/{sent.json()['batch']}/").json()
    assert progress["statuses"] == {"pending": 1}


def test_an_invitation_to_an_unknown_year_group_is_a_clear_error(api, school, school_code):
    answer = api.post(f"/api/v1/schools/{school.slug}/invitations/", {"audience": "carer", "value": "abc"}, format="json")
    assert answer.status_code == 400 and "Not an audience" in answer.json()["detail"]


def test_an_export_is_started_polled_and_downloaded(api, school, school_code, tasks):
    started = api.post(f"/api/v1/schools/{school.slug}/exports/", {}, format="json")
    assert started.status_code == 202 and started.json()["status"] == "queued" and started.json()["download_url"] is None
    export_id = started.json()["id"]
    assert api.get(f"/api/v1/schools/{school.slug}/exports/{export_id}/download/").status_code == 409
    export_build(export_id=export_id)
    polled = api.get(f"/api/v1/schools/{school.slug}/exports/{export_id}/").json()
    assert polled["status"] == "done"
    download = api.get(polled["download_url"])
    assert download.status_code == 200 and download.headers["Content-Type"] == "application/zip"
