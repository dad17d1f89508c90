"""How long a whole school's MIS export takes to import (2,000 pupils and 3,500 contacts), and to
preview on the web (a 5,000-row export, as CSV and as .xlsx).

    .venv/bin/python -m bench.imports --db sqlite
    .venv/bin/python -m bench.imports --db postgres --runs 5

import-<db>: seconds to import the 4,000-row file tests/schools/test_imports.py's
write_large_export makes (1,750 families of two contacts, 250 of them with two children) into an
empty school, as staff do it: schools.imports.import_preview (read, check every row, plan what
changes), then schools.services.families_import with the preview's fingerprints (read and plan
again under the school's lock, write everything, audit), as the confirm page and
`manage.py import_families` do. Floor: inserting the same 2,000 pupils, 3,500 carers and 4,000
links with bulk_create in one transaction (the rows as the plan has them, ready beforehand).
Each run, of either, is into a new empty school.

import-preview-<format>-<db>: seconds for the preview page of a 5,000-row export (2,500 pupils,
4,500 contacts; write_large_export with 2,250 families) that office staff have uploaded, for a
school with no families yet, so every row is an addition to list: the GET of
/staff/families/<school>/import/preview/ through Django's test client, which reads the upload
from storage, reads and checks every row within the import's limits, plans, and renders the
page. Budget: under 3 s, median of the runs. Floor, for comparison only: the same file read by
the library alone (csv.reader on the decoded text; openpyxl's read-only iter_rows).
"""

from __future__ import annotations

import csv
import io
import statistics
import tempfile
from pathlib import Path

from bench.common import Check, arguments, figure_from_pairs, paired, record, start, timed

PUPILS, CARERS, LINKS = 2000, 3500, 4000
PREVIEW_FAMILIES, PREVIEW_ROWS = 2250, 5000
PREVIEW_BUDGET_S = 3


def main():
    options = arguments(__doc__.splitlines()[0]).parse_args()
    start(options.db)  # the preview page keeps the upload in (temporary) media storage
    measure_import(options)
    for file_format in ("csv", "xlsx"):
        measure_preview(options, file_format)


def measure_import(options):
    from django.db import transaction

    from schools.imports import import_preview
    from schools.models import Carer, Organisation, Pupil, PupilCarer
    from schools.services import families_import
    from tests.schools.test_imports import write_large_export

    with tempfile.TemporaryDirectory() as folder:
        data = write_large_export(Path(folder) / "whole-school.csv").read_bytes()
    schools = iter(range(1, 1000))

    def new_school() -> Organisation:
        n = next(schools)
        return Organisation.objects.create(kind="school", name=f"Import School {n}", slug=f"import-{n}")

    # The rows as the plan has them, for the floor to insert.
    plan = import_preview(school=new_school(), filename="whole-school.csv", data=data)
    assert plan.is_valid and (len(plan.added_pupils), len(plan.added_carers), len(plan.links_added)) == (
        PUPILS, CARERS, LINKS
    ), plan.counts

    def measure() -> float:
        school = new_school()

        def staff_import():
            preview = import_preview(school=school, filename="whole-school.csv", data=data)
            families_import(
                school=school, filename="whole-school.csv", data=data, expected_sha256=preview.file_sha256,
                expected_changes_sha256=preview.changes_sha256, source="bench",
            )

        seconds = timed(staff_import)
        assert PupilCarer.objects.filter(pupil__school=school).count() == LINKS
        return seconds

    def floor() -> float:
        school = new_school()

        def insert():
            with transaction.atomic():
                pupils = Pupil.objects.bulk_create(
                    Pupil(school=school, mis_id=p.mis_id, forename=p.forename, surname=p.surname,
                          year_group=p.year_group, reg_group=p.reg_group)
                    for p in plan.added_pupils
                )
                carers = Carer.objects.bulk_create(
                    Carer(school=school, mis_id=c.mis_id, title=c.title, forename=c.forename, surname=c.surname,
                          email=c.email)
                    for c in plan.added_carers
                )
                pupil_pks = {pupil.mis_id: pupil.pk for pupil in pupils}
                carer_pks = {carer.mis_id: carer.pk for carer in carers}
                PupilCarer.objects.bulk_create(
                    PupilCarer(pupil_id=pupil_pks[link.pupil_mis_id], carer_id=carer_pks[link.carer_mis_id],
                               relationship=link.relationship, parental_responsibility=link.parental_responsibility,
                               priority=link.priority)
                    for link in plan.links_added
                )

        seconds = timed(insert)
        assert PupilCarer.objects.filter(pupil__school=school).count() == LINKS
        return seconds

    print(f"import on {options.db}: {plan.rows:,} rows, {PUPILS:,} pupils, {CARERS:,} carers, {LINKS:,} links", flush=True)
    measured, floors = paired(measure, floor, options.runs)
    record(figure_from_pairs(
        measured=measured, floors=floors, id=f"import-{options.db}",
        title="Import of 2,000 pupils / 3,500 contacts (4,000 rows)", db=options.db, unit="s",
        floor_name="bulk_create of the same pupils, carers and links in one transaction",
        budget="≤ 5× floor", ratio_limit=5, higher_is_better=False,
        notes="The import is the preview (read the CSV, check every row, plan) and the confirmed import (read and plan "
        "again under the school's lock, write, audit), as the confirm page and manage.py import_families do; each run "
        "into a new empty school, like the floor's.",
    ))


def preview_export(file_format: str) -> bytes:
    """The 5,000-row export, as the CSV write_large_export makes or as a workbook of the same rows
    (written as Excel writes one, with the sheet's dimensions, which openpyxl's write-only mode
    leaves out)."""
    from openpyxl import Workbook

    from tests.schools.test_imports import write_large_export

    with tempfile.TemporaryDirectory() as folder:
        data = write_large_export(Path(folder) / "export.csv", families=PREVIEW_FAMILIES).read_bytes()
    if file_format == "csv":
        return data
    workbook = Workbook()
    sheet = workbook.active
    for row in csv.reader(io.StringIO(data.decode("utf-8-sig"))):
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def measure_preview(options, file_format: str) -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from openpyxl import load_workbook

    from schools.models import Organisation, StaffRole

    data = preview_export(file_format)
    school = Organisation.objects.create(kind="school", name=f"Preview School {file_format}",
                                         slug=f"preview-{file_format}")
    office = get_user_model().objects.create_user(username=f"office-{file_format}", password="not-used")
    StaffRole.objects.create(user=office, organisation=school, role="office")
    device = TOTPDevice.objects.create(user=office, name="Bench authenticator", confirmed=True)
    client = Client()
    client.force_login(office)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id  # as django_otp.login leaves it
    session.save()

    upload = io.BytesIO(data)
    upload.name = f"whole-school.{file_format}"
    response = client.post(reverse("families:import_upload", args=[school.slug]), {"file": upload})
    assert response.status_code == 302, response.status_code
    preview_url = reverse("families:import_preview", args=[school.slug])

    def measure() -> float:
        responses = []
        seconds = timed(lambda: responses.append(client.get(preview_url)))
        page = responses[0].content.decode()
        assert responses[0].status_code == 200, responses[0].status_code
        assert f"Check what {upload.name} will change" in page and f"{PREVIEW_ROWS} rows read" in page, page[:3000]
        return seconds

    def floor() -> float:
        if file_format == "csv":
            return timed(lambda: list(csv.reader(io.StringIO(data.decode("utf-8-sig")))))

        def read_workbook():
            workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            list(workbook.active.iter_rows(values_only=True))
            workbook.close()

        return timed(read_workbook)

    print(f"preview on {options.db}: {PREVIEW_ROWS:,}-row .{file_format}, {len(data) / 1024:,.0f} KiB", flush=True)
    measured, floors = paired(measure, floor, options.runs)
    median = statistics.median(measured)
    record(figure_from_pairs(
        measured=measured, floors=floors, id=f"import-preview-{file_format}-{options.db}",
        title=f"Preview page of a 5,000-row export (.{file_format})", db=options.db, unit="s",
        floor_name=f"the same file read by the library alone ({'csv.reader' if file_format == 'csv' else 'openpyxl read-only'})",
        budget=f"< {PREVIEW_BUDGET_S} s (ratio for information)", ratio_limit=None, higher_is_better=False,
        checks=[Check("preview page, median", median, PREVIEW_BUDGET_S, "s")],
        notes=f"2,500 pupils and 4,500 contacts ({len(data) / 1024:,.0f} KiB), uploaded once by office staff; each "
        "run is the GET of the preview page (the upload read from storage, every row read and checked, the plan "
        "made against the school's families, the page rendered), for a school with no families yet.",
    ))


if __name__ == "__main__":
    main()
