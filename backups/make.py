"""Making a backup: the database first, then the files it refers to, then the secrets.

The database comes first because files are stored before the rows naming them are committed, and
never overwritten: every file the copied database refers to is still in storage a moment later
(unless the retention job deleted it in between, as it would have anyway). A file stored after
the copy is in the archive too, unreferenced, which is harmless.

The archive is written under a temporary name beside FILE and renamed when complete, so FILE is
never a half-written backup; it is readable by its owner only.
"""

from __future__ import annotations

import datetime
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import django

from backups import database, files, keys
from backups.archive import DATABASE_FILES, FILES_DIR, SECRETS_JSON, ArchiveWriter, BackupError, portal_version
from backups.crypto import EncryptingWriter


@dataclass
class Made:
    path: Path
    manifest: dict
    size: int


def make_backup(out: Path, passphrase: str, *, say=lambda message: None, note=lambda message: None) -> Made:
    """`say` is told of progress, `note` of what the operator should know about this backup."""
    if out.exists():
        raise BackupError(f"{out} already exists: a backup never overwrites a file. Name a new one (e.g. with the date).")
    if not out.parent.is_dir():
        raise BackupError(f"{out.parent} is not a folder.")
    vendor = database.vendor()
    storage = files.describe()
    if not storage["local"]:
        note(
            f"Files are kept in {storage['backend']}, not on this machine: they are read through the "
            "storage API, which downloads every one of them."
        )
    secrets, secret_files = keys.collect()
    if not (secrets["signing_cert"] or secrets["signing_dir"]):
        note("No signing certificate was found to back up (none is configured and none has been made yet).")
    partial = out.with_name(f".{out.name}.partial")
    with tempfile.TemporaryDirectory(prefix="portal-backup-") as work:
        dump = Path(work) / "database"
        say(f"Copying the {vendor} database…")
        created_at = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        described = (database.dump_sqlite if vendor == "sqlite" else database.dump_postgres)(dump)
        try:
            raw = open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")
        except FileExistsError:
            raise BackupError(f"{partial} exists: another backup to {out} is running, or one was interrupted (delete it).") from None
        try:
            with EncryptingWriter(raw, passphrase) as encrypted:
                archive = ArchiveWriter(encrypted)
                archive.add_file(DATABASE_FILES[vendor], dump)
                dump.unlink()
                archive.add_bytes(SECRETS_JSON, json.dumps(secrets, indent=2).encode("utf-8"))
                for name, path in secret_files:
                    archive.add_file(name, path)
                say("Copying stored files…")
                store = files.storage()
                for name in files.names(store):
                    try:
                        stream, size = store.open(name, "rb"), store.size(name)
                    except FileNotFoundError:
                        continue  # deleted since it was listed (by the retention job, or an export expiring)
                    with stream:
                        archive.add_stream(f"{FILES_DIR}/{name}", stream, size, mtime=_modified(store, name))
                manifest = {
                    "format": 1,
                    "portal_version": portal_version(),
                    "django_version": django.get_version(),
                    "created_at": created_at,  # when the database was copied: what the backup holds
                    "database": {"vendor": vendor, "file": DATABASE_FILES[vendor], **described},
                    "storage": storage,
                    "secrets": {
                        "signing_cert": bool(secrets["signing_cert"]),
                        "signing_dir": secrets["signing_dir"],
                    },
                    "files": archive.entries,
                }
                archive.finish(manifest)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    try:
        os.link(partial, out)  # unlike a rename, never replaces a file that appeared meanwhile
    except FileExistsError:
        raise BackupError(f"{out} appeared while the backup was being made; the backup is left in {partial}.") from None
    except OSError:  # a filesystem without hard links (some network shares)
        if out.exists():
            raise BackupError(f"{out} appeared while the backup was being made; the backup is left in {partial}.") from None
        os.replace(partial, out)
    else:
        partial.unlink()
    return Made(path=out, manifest=manifest, size=out.stat().st_size)


def _modified(store, name) -> float:
    try:
        return store.get_modified_time(name).timestamp()
    except (NotImplementedError, OSError):
        return 0
