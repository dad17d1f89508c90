"""manage.py verify_declaration_pdf FILE

Says whether FILE is an unaltered declaration PDF issued by this portal (its SHA-256 is one the
portal recorded, and the portal's seal on it is intact and covers the whole file), and which
declaration it is. Exit status 0 when valid, 1 when not (with the reason), as the public
verification page would say (evidence/verification.py).
"""

import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from evidence.verification import verify_pdf


class Command(BaseCommand):
    help = "Check that a PDF is an unaltered declaration issued by this portal (exit 0 valid, 1 not)."

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE")

    def handle(self, *args, file, **options):
        try:
            with open(file, "rb") as handle:
                data = handle.read()
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}.") from None
        result = verify_pdf(data)
        self.stdout.write(f"SHA-256: {result.sha256}")
        found = result.declaration
        if found is not None:
            signed = timezone.localtime(found.signed_at)
            self.stdout.write(
                f"Declaration: {found.school}; {found.carer_name}; version {found.version_number}; "
                f"signed {signed:%-d %B %Y %H:%M %Z} ({found.method_display.lower()}); code {found.code_display}"
            )
        if result.valid:
            self.stdout.write(self.style.SUCCESS("VALID: an unaltered declaration PDF issued and sealed by this portal."))
            return
        self.stdout.write(self.style.ERROR(f"NOT VALID: {result.reason}"))
        sys.exit(1)
