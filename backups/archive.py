"""What is inside a backup, and reading one back.

A backup is one file: the header and chunks of backups/crypto.py around a tar stream of

    database/portal.sqlite3.gz  the database: SQLite's, gzipped (see backups/database.py)
     or database/portal.pgdump  or pg_dump's custom format (compressed already)
    files/<name>                every file in default storage, under its name there
    secrets/secrets.json        Django's SECRET_KEY and the signing certificate's password
    secrets/signing-cert.p12    the file PORTAL_SIGNING_CERT names, if set
    secrets/signing-dir/<name>  the files in PORTAL_SIGNING_DIR (the development seal)
    manifest.json               last: versions, database, and every file above with its SHA-256

Reading unpacks everything into a folder of the caller's and checks it against the manifest;
nothing is trusted until the whole stream has been authenticated and every hash matches.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import posixpath
import tarfile
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path, PurePosixPath

from django.conf import settings

from backups.crypto import MIN_PASSPHRASE, BackupCryptoError, DecryptingReader

PASSPHRASE_VARIABLE = "PORTAL_BACKUP_PASSPHRASE"
MANIFEST = "manifest.json"
DATABASE_DIR, FILES_DIR, SECRETS_DIR = "database", "files", "secrets"
SECRETS_JSON = f"{SECRETS_DIR}/secrets.json"
SIGNING_CERT = f"{SECRETS_DIR}/signing-cert.p12"
SIGNING_DIR = f"{SECRETS_DIR}/signing-dir"
DATABASE_FILES = {"sqlite": f"{DATABASE_DIR}/portal.sqlite3.gz", "postgresql": f"{DATABASE_DIR}/portal.pgdump"}
COPY_BUFFER = 1 << 20


class BackupError(Exception):
    """A backup or restore refused or failed; the message says why and what to do."""


def passphrase() -> str:
    value = os.environ.get(PASSPHRASE_VARIABLE, "")
    if not value:
        raise BackupError(
            f"{PASSPHRASE_VARIABLE} is not set. Backups are encrypted with the passphrase in that "
            "environment variable; keep it somewhere other than the backups (see README.md, 'Backups')."
        )
    if len(value) < MIN_PASSPHRASE:
        raise BackupError(
            f"{PASSPHRASE_VARIABLE} is too short ({len(value)} characters): use at least {MIN_PASSPHRASE}, "
            "for example five random words. It protects the signing key and every family's data."
        )
    return value


def portal_version() -> str:
    """The version in this checkout's pyproject.toml (what is running), else the installed one."""
    try:
        with open(Path(settings.BASE_DIR) / "pyproject.toml", "rb") as file:
            return tomllib.load(file)["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        try:
            return metadata.version("codes-of-conduct-portal")
        except metadata.PackageNotFoundError:
            return "unknown"


def seal_description(manifest: dict) -> str:
    """Which seal a backup holds, in words."""
    secrets = manifest["secrets"]
    if secrets["signing_cert"]:
        return "the signing certificate (PORTAL_SIGNING_CERT)"
    return "the development seal" if secrets["signing_dir"] else "no signing certificate"


class HashingReader:
    """Reads through to `raw`, keeping the SHA-256 and length of what went past."""

    def __init__(self, raw):
        self.raw, self.digest, self.size = raw, hashlib.sha256(), 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.digest.update(data)
        self.size += len(data)
        return data


class ArchiveWriter:
    """A tar stream into `out` (an EncryptingWriter), recording each member for the manifest."""

    def __init__(self, out):
        self.tar = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT)
        self.entries: list[dict] = []

    def add_stream(self, name: str, stream, size: int, *, mtime: float = 0) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = size, 0o600, mtime
        reader = HashingReader(stream)
        self.tar.addfile(info, reader)
        self.entries.append({"path": name, "size": size, "sha256": reader.digest.hexdigest()})

    def add_file(self, name: str, path: Path) -> None:
        with open(path, "rb") as stream:
            self.add_stream(name, stream, os.fstat(stream.fileno()).st_size, mtime=os.path.getmtime(path))

    def add_bytes(self, name: str, data: bytes) -> None:
        self.add_stream(name, io.BytesIO(data), len(data))

    def finish(self, manifest: dict) -> None:
        data = json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8")
        info = tarfile.TarInfo(MANIFEST)
        info.size, info.mode = len(data), 0o600
        self.tar.addfile(info, io.BytesIO(data))
        self.tar.close()


def safe_member_name(name: str) -> str | None:
    """The member's name if it is a plain relative path under a known folder, else None."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or name != posixpath.normpath(name):
        return None
    if name == MANIFEST or path.parts[0] in {DATABASE_DIR, FILES_DIR, SECRETS_DIR} and len(path.parts) > 1:
        return name
    return None


@dataclass
class Unpacked:
    folder: Path
    manifest: dict

    def path(self, name: str) -> Path:
        return self.folder / name

    @property
    def stored_files(self) -> list[dict]:
        """The files of default storage in the archive: name in storage, size, SHA-256."""
        prefix = f"{FILES_DIR}/"
        return [
            {**entry, "name": entry["path"][len(prefix):]}
            for entry in self.manifest["files"]
            if entry["path"].startswith(prefix)
        ]

    def secrets(self) -> dict:
        return json.loads(self.path(SECRETS_JSON).read_text(encoding="utf-8"))


def unpack(archive: Path, passphrase: str, folder: Path) -> Unpacked:
    """Decrypt and unpack `archive` into `folder`, and check every file against the manifest.

    Raises BackupError with a plain reason (not a backup, wrong passphrase, damaged, altered).
    """
    try:
        raw = open(archive, "rb")
    except OSError as error:
        raise BackupError(f"Cannot read {archive}: {error.strerror}.") from None
    hashes: dict[str, tuple[int, str]] = {}
    manifest_bytes = None
    try:
        reader = DecryptingReader(raw, passphrase)
        with tarfile.open(fileobj=reader, mode="r|") as tar:
            for member in tar:
                name = safe_member_name(member.name)
                if name is None or not member.isfile() or name in hashes or (name == MANIFEST and manifest_bytes):
                    raise BackupError(f"This backup holds an unexpected entry ({member.name!r}): it was not made by this portal.")
                source = HashingReader(tar.extractfile(member))
                if name == MANIFEST:
                    manifest_bytes = source.read()
                    continue
                target = folder / name
                target.parent.mkdir(parents=True, exist_ok=True)
                with open(target, "xb") as out:
                    while chunk := source.read(COPY_BUFFER):
                        out.write(chunk)
                os.chmod(target, 0o600)
                hashes[name] = (source.size, source.digest.hexdigest())
        # The tar stream ends before the encryption's last chunk: read on to authenticate it.
        while reader.read(COPY_BUFFER):
            pass
    except BackupCryptoError as error:
        raise BackupError(str(error)) from None
    except tarfile.TarError as error:
        raise BackupError(f"This backup's contents cannot be read ({error}): it is damaged.") from None
    except OSError as error:
        raise BackupError(
            f"Cannot unpack the backup into {folder}: {error.strerror}. It needs room for the whole "
            "backup there (set TMPDIR to a folder with more)."
        ) from None
    finally:
        raw.close()
    if manifest_bytes is None:
        raise BackupError("This backup has no manifest: it is incomplete.")
    try:
        manifest = json.loads(manifest_bytes)
    except ValueError:
        raise BackupError("This backup's manifest cannot be read: it was not made by this portal.") from None
    listed = {entry["path"]: (entry["size"], entry["sha256"]) for entry in manifest.get("files", [])}
    if listed != hashes:
        differ = sorted(set(listed) ^ set(hashes) | {n for n in set(listed) & set(hashes) if listed[n] != hashes[n]})
        raise BackupError(
            "This backup's files do not match its manifest (" + ", ".join(differ[:5]) + "): it is damaged."
        )
    return Unpacked(folder=folder, manifest=manifest)
