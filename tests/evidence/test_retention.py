"""Retention: a declaration is kept until N years after the last child named in it left, never
while the carer has a child on roll; then it and its files are deleted, the deletion recorded
without names, and running it again deletes nothing more."""

import datetime
import json
from io import StringIO

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command

from declarations.models import Declaration
from evidence.models import DeclarationPdf, Export
from evidence.pdf import declaration_pdf_issue
from evidence.retention import retention_run
from evidence.verification import verify_pdf
from schools.models import AuditEvent, Pupil
from tests.declarations.evidence import sign_on_paper, sign_online
from tests.declarations.factories import add_child, family
from tests.factories import CodeFactory, SchoolFactory, published_version

pytestmark = pytest.mark.django_db


def left(carer, on: datetime.date):
    """Every child of the carer left the school on this date."""
    Pupil.objects.filter(carer_links__carer=carer).update(on_roll=False, left_on=on)


@pytest.fixture
def families(school, version, office, media):
    """Declarations in every situation the rule knows (retention 6 years; today 22 November 2026)."""
    expired = family(school, forename="Ed", surname="Expired", email="ed@example.org", children=(("Eve", "Expired", "6", "6A"),))
    expired_paper = family(school, forename="Pam", surname="Paper", email="", children=(("Pat", "Paper", "6", "6A"),))
    recent = family(school, forename="Rita", surname="Recent", email="rita@example.org", children=(("Rob", "Recent", "6", "6A"),))
    on_roll = family(school, forename="Olga", surname="Onroll", email="olga@example.org", children=(("Oli", "Onroll", "2", "2A"),))
    sibling = family(school, forename="Sam", surname="Sibling", email="sam@example.org", children=(("Sid", "Sibling", "6", "6A"),))
    declarations = {
        "expired": sign_online(expired, version),
        "expired_paper": sign_on_paper(expired_paper, version, recorded_by=office),
        "recent": sign_online(recent, version),
        "on_roll": sign_online(on_roll, version),
        "sibling": sign_online(sibling, version),
    }
    for name in ("expired", "expired_paper", "recent"):  # PDFs take a moment: only where they matter
        declaration_pdf_issue(declaration_id=declarations[name].pk)
    left(expired, datetime.date(2020, 7, 20))  # kept until 20 July 2026: expired
    left(expired_paper, datetime.date(2019, 7, 19))
    left(recent, datetime.date(2024, 7, 19))  # kept until 19 July 2030
    left(sibling, datetime.date(2018, 7, 20))  # long gone, but…
    add_child(sibling, forename="Sue", surname="Sibling", year_group="1", reg_group="1A")  # …a younger child is on roll
    return declarations


def test_only_expired_declarations_are_deleted_with_their_files_and_each_is_recorded(
    families, school, django_capture_on_commit_callbacks
):
    expired, expired_paper = families["expired"], families["expired_paper"]
    files = [
        expired.pdf.file.name,
        expired_paper.pdf.file.name,
        expired_paper.paper_scan.name,
    ]
    hashes = {expired.pk: expired.pdf.sha256, expired_paper.pk: expired_paper.pdf.sha256}
    assert all(default_storage.exists(name) for name in files)

    with django_capture_on_commit_callbacks(execute=True):
        summary = retention_run()

    assert (summary.deleted, summary.pdfs_deleted, summary.scans_deleted) == (2, 2, 1)
    assert summary.by_school == {school.slug: 2} and sorted(summary.declaration_ids) == sorted(hashes)
    assert set(Declaration.objects.values_list("pk", flat=True)) == {
        families[name].pk for name in ("recent", "on_roll", "sibling")
    }
    assert list(DeclarationPdf.objects.values_list("declaration_id", flat=True)) == [families["recent"].pk]
    assert not any(default_storage.exists(name) for name in files)

    events = AuditEvent.objects.filter(action=AuditEvent.Action.RETENTION_DELETE).order_by("pk")
    assert [(e.actor, e.school, e.carer, e.target) for e in events] == [
        (None, school, None, f"Declaration #{expired.pk}"),
        (None, school, None, f"Declaration #{expired_paper.pk}"),
    ]
    first = events[0].detail
    assert first == {
        "declaration": expired.pk,
        "version": 1,
        "signed_on": "2026-11-22",
        "method": "online",
        "pdf_sha256": hashes[expired.pk],
        "retention_years": 6,
        "run_on": "2026-11-22",
    }
    logged = json.dumps([e.detail for e in events]) + " ".join(e.target for e in events)
    assert "Expired" not in logged and "Paper" not in logged and "Eve" not in logged  # no names


def test_running_it_again_deletes_nothing_more(families, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        retention_run()
    events = AuditEvent.objects.filter(action=AuditEvent.Action.RETENTION_DELETE).count()
    with django_capture_on_commit_callbacks(execute=True):
        again = retention_run()
    assert again.deleted == 0 and again.by_school == {}
    assert AuditEvent.objects.filter(action=AuditEvent.Action.RETENTION_DELETE).count() == events
    assert Declaration.objects.count() == 3


def test_a_declaration_expires_when_its_time_comes(families, now):
    recent = families["recent"]
    now.move_to(datetime.datetime(2030, 7, 18, 12, 0, tzinfo=datetime.UTC))
    assert recent.pk not in retention_run().declaration_ids
    now.move_to(datetime.datetime(2030, 7, 19, 12, 0, tzinfo=datetime.UTC))
    assert recent.pk in retention_run().declaration_ids


def test_each_school_sets_its_own_number_of_years(families, school):
    school.declaration_retention_years = 2
    school.save()
    summary = retention_run()
    assert families["recent"].pk in summary.declaration_ids  # left July 2024: two years are up
    assert families["sibling"].pk not in summary.declaration_ids and families["on_roll"].pk not in summary.declaration_ids


def test_other_schools_keep_their_own_rule(families, version):
    other = SchoolFactory(name="Alsop High School", slug="alsop-high", declaration_retention_years=10)
    theirs = family(other, children=(("Tia", "Theirs", "11", "11A"),))
    declaration = sign_online(theirs, published_version(CodeFactory(owner=other)))
    left(theirs, datetime.date(2020, 7, 20))
    assert declaration.pk not in retention_run().declaration_ids  # 10 years there


def test_a_dry_run_says_what_would_go_and_deletes_nothing(families, school):
    summary = retention_run(dry_run=True)
    assert summary.dry_run and summary.deleted == 2 and summary.pdfs_deleted == 2 and summary.scans_deleted == 1
    assert Declaration.objects.count() == 5
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.RETENTION_DELETE).exists()
    assert str(summary).startswith("Would delete 2 declarations past their retention period (whitefield-primary: 2)")


def test_the_command_applies_it_and_has_a_dry_run(families):
    out = StringIO()
    call_command("apply_retention", "--dry-run", stdout=out)
    assert "Would delete 2 declarations" in out.getvalue() and Declaration.objects.count() == 5
    call_command("apply_retention", stdout=out)
    assert "Deleted 2 declarations" in out.getvalue() and Declaration.objects.count() == 3


def test_after_deletion_its_pdf_is_reported_as_deleted_under_retention(families, django_capture_on_commit_callbacks):
    expired = families["expired"]
    with expired.pdf.file.open("rb") as file:
        data = file.read()
    with django_capture_on_commit_callbacks(execute=True):
        retention_run()
    result = verify_pdf(data)
    assert not result.valid and result.seal_valid and not result.hash_recorded
    assert result.deleted_on == datetime.date(2026, 11, 22)
    assert (
        "The portal issued this PDF, but the declaration and its PDF were deleted on 22 November 2026 "
        "at the end of the school's retention period." in result.reasons
    )


def test_finished_zip_exports_are_deleted_after_seven_days(families, school, now, django_capture_on_commit_callbacks):
    from evidence import services, zip_exports
    from evidence.exports import DeclarationFilters

    export = services.export_request(user=None, school=school, filters=DeclarationFilters())
    zip_exports.export_build(export_id=export.pk)
    export.refresh_from_db()
    name = export.file.name
    now.move_to(datetime.datetime(2026, 11, 29, 12, 0, tzinfo=datetime.UTC))
    assert retention_run().exports_expired == 0
    now.move_to(datetime.datetime(2026, 11, 30, 12, 0, tzinfo=datetime.UTC))
    with django_capture_on_commit_callbacks(execute=True):
        assert retention_run().exports_expired == 1
    export.refresh_from_db()
    assert (export.status, export.file.name) == (Export.Status.EXPIRED, "") and not default_storage.exists(name)


def test_the_school_setting_defaults_to_six_years(db):
    assert SchoolFactory().declaration_retention_years == 6


def test_the_scheduler_runs_it(families, django_capture_on_commit_callbacks):
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("run_scheduled", "--step", "retention", stdout=out)
    assert "retention: 2 declarations deleted, 2 PDFs deleted, 1 paper scans deleted" in out.getvalue()
    assert Declaration.objects.count() == 3
