"""manage.py apply_retention [--dry-run]

Deletes declarations (with their PDFs and paper scans) whose school's retention period has
ended, recording each in the school's audit log; see evidence/retention.py for the rule.
`manage.py run_scheduled` runs the same thing daily. --dry-run says what would go and deletes
nothing.
"""

from django.core.management.base import BaseCommand

from evidence.retention import retention_run


class Command(BaseCommand):
    help = "Delete declarations past their school's retention period (recorded in the audit log)."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Say what would be deleted; delete nothing.")

    def handle(self, *args, dry_run, **options):
        summary = retention_run(dry_run=dry_run)
        self.stdout.write(str(summary))
