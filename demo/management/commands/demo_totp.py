from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from demo.accounts import demo_totp_code


class Command(BaseCommand):
    help = (
        "Print the 6-digit sign-in code a demo account's authenticator app would show now "
        "(development only; refused with PORTAL_ENV=production)."
    )

    requires_system_checks = []  # refuse in production before touching anything

    def add_arguments(self, parser):
        parser.add_argument("username", help="a demo account, e.g. head.whitefield")

    def handle(self, *args, username, **options):
        if settings.PRODUCTION:
            raise CommandError("Demo sign-in codes are never available with PORTAL_ENV=production.")
        try:
            code = demo_totp_code(username)
        except (ImproperlyConfigured, ValueError) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(code)
        self.stderr.write("A new code every 30 seconds; each works once.")
