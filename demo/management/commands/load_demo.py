from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from demo.accounts import DEMO_PASSWORD, DEMO_TOTP_SECRET, load_demo_accounts, open_demo_sending_hours


class Command(BaseCommand):
    help = "Create the demo staff accounts (development only; refused with PORTAL_ENV=production)."

    requires_system_checks = []  # refuse in production before touching anything

    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError("Demo accounts are never created with PORTAL_ENV=production.")
        if open_demo_sending_hours():
            self.stdout.write("Demo schools send e-mails at any time of day (settings page: sending hours).")
        try:
            rows = load_demo_accounts()
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from error
        self.stdout.write("Demo staff accounts (password for all: %s):" % DEMO_PASSWORD)
        for account in rows:
            self.stdout.write(f"  {account.username:<24} {account.role}, {account.organisation}")
        if not rows:
            return
        secret = " ".join(DEMO_TOTP_SECRET[i : i + 4] for i in range(0, len(DEMO_TOTP_SECRET), 4))
        self.stdout.write("")
        self.stdout.write("After the password, staff enter a second code. For the demo accounts, either:")
        self.stdout.write("  - a recovery code (each works once per account). Unused ones:")
        for account in rows:
            codes = " ".join(account.recovery_codes) or "none left: use a 6-digit code"
            self.stdout.write(f"      {account.username:<24} {codes}")
        self.stdout.write("  - or the 6-digit code an authenticator app shows after you add this key")
        self.stdout.write(f"    (time-based, the same for every demo account): {secret}")
        self.stdout.write("    or that this prints: .venv/bin/python manage.py demo_totp USERNAME")
        own = [account.username for account in rows if not account.demo_authenticator]
        if own:
            self.stdout.write(f"    (not for {', '.join(own)}: set up with another authenticator app since)")
