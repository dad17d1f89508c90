from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from schools.demo import DEMO_PASSWORD, load_demo_accounts


class Command(BaseCommand):
    help = "Create the demo staff accounts (development only; refused with PORTAL_ENV=production)."

    def handle(self, *args, **options):
        try:
            rows = load_demo_accounts()
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from error
        self.stdout.write("Demo staff accounts (password for all: %s):" % DEMO_PASSWORD)
        for username, role, organisation in rows:
            self.stdout.write(f"  {username:<24} {role}, {organisation}")
