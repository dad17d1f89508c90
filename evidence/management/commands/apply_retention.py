"""manage.py apply_retention [--dry-run]

Applies the retention periods now (see evidence/retention.py and evidence/purges.py for the
rules): deletes declarations (with their PDFs and paper scans) whose school's retention period
has ended, recording each in the school's audit log; deletes audit events past the log's
period, e-mail addresses in old outbox rows, signing requests whose link expired long ago and
finished background task rows; erases carers whose children all left longer ago than the
school's period. What it did at each school is one audit event there. `manage.py run_scheduled`
runs the same thing daily. --dry-run says what would go and changes nothing.
"""

from django.core.management.base import BaseCommand

from evidence.retention import retention_run


class Command(BaseCommand):
    help = "Delete or erase what is past its retention period (recorded in each school's audit log)."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Say what would be deleted; delete nothing.")

    def handle(self, *args, dry_run, **options):
        summary = retention_run(dry_run=dry_run)
        self.stdout.write(str(summary))
