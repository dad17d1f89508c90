"""manage.py load_seed_codes: load the seed codes of conduct (see codes/seeding.py). Idempotent."""

from django.core.management.base import BaseCommand, CommandError

from codes.seeding import SeedDataError, load_seed_codes


class Command(BaseCommand):
    help = (
        "Create the seed organisations (the Halton associations and their member schools, "
        "Whitefield, Peartree Spring, Alsop High) and publish version 1 of each seed code. "
        "Safe to run again: codes that already have a version are left alone."
    )

    def handle(self, *args, **options):
        try:
            load_seed_codes(stdout=self.stdout)
        except SeedDataError as error:
            raise CommandError(str(error)) from error
