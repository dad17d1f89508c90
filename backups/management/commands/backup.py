"""manage.py backup --out FILE

Writes one encrypted archive holding the database, every file in default storage and the secrets
the evidence depends on (the signing certificate and key, the secret key), with a manifest. The
passphrase comes from PORTAL_BACKUP_PASSPHRASE. See README.md, "Backups", and backups/archive.py.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from backups.archive import BackupError, passphrase, seal_description
from backups.make import make_backup


def megabytes(size: int) -> str:
    return f"{size / 1_000_000:,.1f} MB"


class Command(BaseCommand):
    help = "Back up the database, stored files and signing secrets into one encrypted archive."

    def add_arguments(self, parser):
        parser.add_argument("--out", required=True, metavar="FILE", help="The archive to write (must not exist).")

    def handle(self, *args, out, verbosity, **options):
        def say(message):
            if verbosity >= 2:
                self.stdout.write(message)

        def note(message):
            if verbosity >= 1:
                self.stdout.write(self.style.WARNING(message))

        try:
            made = make_backup(Path(out), passphrase(), say=say, note=note)
        except BackupError as error:
            raise CommandError(str(error)) from None
        if verbosity < 1:
            return
        manifest = made.manifest
        stored = [entry for entry in manifest["files"] if entry["path"].startswith("files/")]
        tables = manifest["database"]["tables"]
        self.stdout.write(
            f"Database: {manifest['database']['vendor']}, {sum(tables.values()):,} rows in {len(tables)} tables.\n"
            f"Stored files: {len(stored):,} ({megabytes(sum(entry['size'] for entry in stored))}) "
            f"from {manifest['storage']['backend']}.\n"
            f"Secrets: the secret key and {seal_description(manifest)}."
        )
        self.stdout.write(self.style.SUCCESS(f"Backup written to {made.path} ({megabytes(made.size)}), encrypted."))
