"""manage.py restore FILE [--check] [--write-secrets PATH]

Restores a backup made by `manage.py backup` into an empty deployment: the database, the stored
files and the signing secrets, after checking the whole archive (passphrase from
PORTAL_BACKUP_PASSPHRASE). Refuses, changing nothing, when the archive does not open or has been
altered, or when this deployment is not empty (backups/restore.py says what empty means).

--check only unpacks and checks the archive and says what it holds. --write-secrets PATH writes
the backed-up DJANGO_SECRET_KEY and PORTAL_SIGNING_CERT_PASSWORD to PATH (mode 0600).
"""

import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from backups import keys, restore
from backups.archive import BackupError, passphrase, seal_description, unpack


class Command(BaseCommand):
    help = "Restore a backup (from `manage.py backup`) into an empty deployment."

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE")
        parser.add_argument("--check", action="store_true", help="Only check the archive and say what it holds; change nothing.")
        parser.add_argument(
            "--write-secrets", metavar="PATH", help="Also write the backed-up secret key and certificate password to PATH."
        )

    def handle(self, *args, file, check, write_secrets, verbosity, **options):
        def say(message):
            if verbosity >= 2:
                self.stdout.write(message)

        try:
            with tempfile.TemporaryDirectory(prefix="portal-restore-") as staging:
                say("Decrypting and checking the archive…")
                unpacked = unpack(Path(file), passphrase(), Path(staging))
                self.describe(unpacked.manifest)
                if check:
                    self.write_secrets(write_secrets, unpacked)
                    self.stdout.write(self.style.SUCCESS("The backup opens and is intact. Nothing was restored."))
                    return
                plan = restore.check_target(unpacked)
                self.write_secrets(write_secrets, unpacked)
                counts = restore.apply(plan, say=say)
        except BackupError as error:
            raise CommandError(str(error)) from None
        for note in plan.secrets.notes:
            self.stdout.write(self.style.WARNING(note))
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored: {sum(counts.values()):,} rows in {len(counts)} tables, "
                f"{len(plan.files_to_write) + plan.files_present:,} stored files, the secret key and "
                f"{seal_description(plan.unpacked.manifest)}."
            )
        )
        pending = restore.pending_migrations()
        if pending:
            self.stdout.write(
                f"This code has {len(pending)} migrations the backup did not: run `manage.py migrate` next."
            )

    def write_secrets(self, path, unpacked):
        if path:
            keys.write_env_file(Path(path), unpacked)
            self.stdout.write(f"Backed-up secrets written to {path} (keep it as safe as the signing key).")

    def describe(self, manifest):
        database = manifest["database"]
        stored = sum(1 for entry in manifest["files"] if entry["path"].startswith("files/"))
        self.stdout.write(
            f"Backup of {manifest['created_at']} by portal {manifest['portal_version']}: a {database['vendor']} "
            f"database ({sum(database['tables'].values()):,} rows), {stored:,} stored files, the secret "
            f"key and {seal_description(manifest)}."
        )
