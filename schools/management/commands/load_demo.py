from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from schools.demo import DEMO_PASSWORD, load_demo_accounts


class Command(BaseCommand):
    help = "Create the demo staff accounts (development only; refused with PORTAL_ENV=production)."

    requires_system_checks = []  # refuse in production before touching anything

    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError("Demo accounts are never created with PORTAL_ENV=production.")
        try:
            rows = load_demo_accounts()
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from error
        self.stdout.write("Demo staff accounts (password for all: %s):" % DEMO_PASSWORD)
        for username, role, organisation in rows:
            self.stdout.write(f"  {username:<24} {role}, {organisation}")
