"""manage.py run_scheduled [--step NAME]

Takes every step of the schedule that is due, for every school (sending/scheduler.py):
invitations to versions coming into force, reminders, invitations to new families after an
import, review reminders to headteachers, and any step other parts of the portal add. Safe to run
as often as you like, and again after a crash: nothing is done twice. The e-mails it queues are
sent by the background worker (`manage.py db_worker`). From cron, every 15 minutes:

    */15 * * * * cd /srv/portal && .venv/bin/python manage.py run_scheduled
"""

from django.core.management.base import BaseCommand, CommandError

from sending import scheduler


class Command(BaseCommand):
    help = "Take every due step of the schedule (invitations, reminders, new families, reviews) for all schools."

    def add_arguments(self, parser):
        parser.add_argument(
            "--step",
            action="append",
            choices=[name for name, _ in scheduler.STEPS],
            help="Only this step (may be given more than once). Default: every step.",
        )

    def handle(self, *args, step=None, **options):
        steps = [(name, fn) for name, fn in scheduler.STEPS if not step or name in step]
        try:
            results = scheduler.run_scheduled(steps=steps)
        except scheduler.StepsFailed as failure:
            self._report(failure.results)
            raise CommandError(str(failure)) from failure
        self._report(results)

    def _report(self, results):
        for name, counts in results.items():
            done = ", ".join(f"{value} {key}" for key, value in counts.items() if value) or "nothing due"
            self.stdout.write(f"{name}: {done}")
