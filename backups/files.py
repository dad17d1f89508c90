"""The files in default storage (paper scans, declaration PDFs, export ZIPs, uploads waiting to be
imported), read and written only through Django's storage API, so the same code serves a folder on
this machine (MEDIA_ROOT) and S3-compatible object storage."""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Iterator

from django.core.files import File
from django.core.files.storage import FileSystemStorage, storages

from backups.archive import COPY_BUFFER, BackupError


def storage():
    return storages["default"]


def describe(store=None) -> dict:
    store = store or storage()
    backend = f"{type(store).__module__}.{type(store).__qualname__}"
    if isinstance(store, FileSystemStorage):
        return {"backend": backend, "local": True, "location": str(store.location)}
    return {"backend": backend, "local": False, "location": None}


def names(store=None, folder: str = "") -> Iterator[str]:
    """Every file's name in storage, depth first."""
    store = store or storage()
    try:
        folders, files = store.listdir(folder)
    except FileNotFoundError:  # a local MEDIA_ROOT nothing has been saved to yet
        return
    for name in sorted(files):
        yield posixpath.join(folder, name) if folder else name
    for child in sorted(folders):
        yield from names(store, posixpath.join(folder, child) if folder else child)


def sha256(name: str, store=None) -> str:
    store = store or storage()
    digest = hashlib.sha256()
    with store.open(name, "rb") as file:
        while chunk := file.read(COPY_BUFFER):
            digest.update(chunk)
    return digest.hexdigest()


def save(name: str, path, store=None) -> None:
    """Store the file at `path` under exactly `name` (which must be free)."""
    store = store or storage()
    with open(path, "rb") as file:
        saved = store.save(name, File(file, name=name))
    if saved != name:
        raise BackupError(f"Storage saved {name} as {saved}: another file took the name while restoring.")
