"""manage.py import_families SCHOOL_SLUG FILE [--dry-run]: a school's MIS export, from the shell.

Prints what the import will do (or did), every problem with its line number, and exits
non-zero having imported nothing if any row is bad. The rules are in schools/imports/__init__.py.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from schools.imports import ImportPlan, ImportRejected, import_preview
from schools.imports.limits import Limits
from schools.models import Organisation
from schools.services import families_import


class Command(BaseCommand):
    help = "Import a school's pupils and contacts from a CSV or Excel (.xlsx) export of its MIS."

    def add_arguments(self, parser):
        parser.add_argument("school_slug", metavar="SCHOOL_SLUG")
        parser.add_argument("file", metavar="FILE", type=Path)
        parser.add_argument("--dry-run", action="store_true", help="Show what would change; change nothing.")

    def handle(self, *args, school_slug, file, dry_run, **options):
        school = Organisation.objects.filter(slug=school_slug, kind=Organisation.Kind.SCHOOL).first()
        if school is None:
            known = ", ".join(Organisation.objects.filter(kind=Organisation.Kind.SCHOOL).values_list("slug", flat=True))
            raise CommandError(f"There is no school with the slug “{school_slug}”. Schools: {known or 'none yet'}.")
        try:
            with file.open("rb") as stream:
                # A byte past the limit is all the import needs to refuse a file that is too large.
                data = stream.read(Limits.from_settings().file_bytes + 1)
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.") from None

        plan = import_preview(school=school, filename=file.name, data=data)
        if not plan.is_valid:
            self._fail(plan)
        if dry_run:
            self.stdout.write(f"Dry run for {school}: nothing has been changed. Importing {file.name} would make:")
            self._summary(plan)
            return
        try:
            result = families_import(  # import_apply, plus the audit log entry (actor None)
                school=school, filename=file.name, data=data, expected_changes_sha256=plan.changes_sha256,
                source="command line",
            )
        except ImportRejected as exc:
            if exc.plan is not None and not exc.plan.is_valid:
                self._fail(exc.plan)
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(f"Imported {file.name} into {school}:")
        self._summary(result.plan)

    def _fail(self, plan: ImportPlan):
        for problem in plan.problems:
            self.stderr.write(problem)
        count = len(plan.problems)
        raise CommandError(f"Nothing was imported: {count} problem{'s' if count != 1 else ''} to fix in the file.")

    def _summary(self, plan: ImportPlan):
        self.stdout.write(f"  {plan.rows} rows read")
        for label, count in plan.counts.items():
            self.stdout.write(f"  {count} {label.replace('s ', ' ', 1) if count == 1 else label}")
        for pupil in plan.left_pupils:
            self.stdout.write(f"  Left: {pupil.name} ({pupil.mis_id}, {pupil.year_label})")
        for pupil in plan.returning_pupils:
            self.stdout.write(f"  Back on roll: {pupil.name} ({pupil.mis_id}, {pupil.year_label})")
        if not plan.has_changes:
            self.stdout.write("  Nothing to change: the portal already matches this file.")
