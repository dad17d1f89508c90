"""How long a whole school's MIS export takes to import: 2,000 pupils and 3,500 contacts.

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
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.common import arguments, figure_from_pairs, paired, record, start, timed

PUPILS, CARERS, LINKS = 2000, 3500, 4000


def main():
    options = arguments(__doc__.splitlines()[0]).parse_args()
    start(options.db, media=False)

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


if __name__ == "__main__":
    main()
