from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from demo.accounts import DEMO_PASSWORD, DEMO_RECOVERY_CODES


class Command(BaseCommand):
    help = (
        "Take the README's screenshots (a parent on a phone, the staff dashboards) with Chromium. "
        "Adds demo families: run it through scripts/screenshots, on a throwaway copy of the demo."
    )

    def add_arguments(self, parser):
        parser.add_argument("folder", nargs="?", default="docs/screenshots")

    def handle(self, *args, folder, **options):
        if settings.PRODUCTION:
            raise CommandError("Screenshots are taken of the demo only, never with PORTAL_ENV=production.")
        from demo.screenshots import take

        written = take(Path(folder), password=DEMO_PASSWORD, recovery_code=DEMO_RECOVERY_CODES[0])
        for path in written:
            self.stdout.write(str(path))
