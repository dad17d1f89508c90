"""Uploads waiting between preview and confirm.

An upload waits in the default storage under a random name, never the name the user gave it,
tied to the user and the school it was uploaded for. The import service (schools/services.py)
stages, reads and discards them: it deletes one on confirm, on cancel, when its preview finds
it cannot be imported, and after a day at the latest (it is personal data). Between requests
the web pages keep only the StagedUpload itself, in the user's session.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import secrets
from dataclasses import dataclass

from django.core.files import File
from django.core.files.storage import default_storage
from django.utils import timezone

from schools.imports.limits import Limits

UPLOAD_DIR = "family-imports"
UPLOAD_NAME = re.compile(rf"^{UPLOAD_DIR}/[0-9a-f]{{32}}$")
MAX_AGE = datetime.timedelta(hours=24)


@dataclass(frozen=True)
class StagedUpload:
    name: str  # in the default storage
    filename: str  # as the user named it, for pages and the audit log
    user_id: int
    school_id: int
    uploaded_at: datetime.datetime
    sha256: str = ""  # of the file as previewed, once a preview found it can be imported

    def previewed(self, sha256: str) -> StagedUpload:
        return dataclasses.replace(self, sha256=sha256)

    def to_session(self) -> dict:
        return {**dataclasses.asdict(self), "uploaded_at": self.uploaded_at.isoformat()}

    @classmethod
    def from_session(cls, value) -> StagedUpload | None:
        """The upload a session holds, or None if what it holds is not one (an older shape, say)."""
        try:
            staged = cls(**{**value, "uploaded_at": datetime.datetime.fromisoformat(value["uploaded_at"])})
        except (KeyError, TypeError, ValueError):
            return None
        return staged if UPLOAD_NAME.match(staged.name) else None


def stage(*, school, user, upload: File) -> StagedUpload:
    """Store the upload under a random name (copied from Django's upload, a piece at a time)."""
    name = default_storage.save(f"{UPLOAD_DIR}/{secrets.token_hex(16)}", upload)
    return StagedUpload(
        name=name, filename=upload.name[:200], user_id=user.pk, school_id=school.pk, uploaded_at=timezone.now()
    )


def is_waiting(staged: StagedUpload, *, school, user) -> bool:
    """Uploaded by this user for this school less than a day ago."""
    return (
        staged.user_id == user.pk
        and staged.school_id == school.pk
        and UPLOAD_NAME.match(staged.name) is not None
        and timezone.now() - staged.uploaded_at < MAX_AGE
    )


def read(staged: StagedUpload) -> bytes | None:
    """The stored file, or None if it has gone. No more than the import reads: a byte past its limit."""
    try:
        with default_storage.open(staged.name, "rb") as stored:
            return stored.read(Limits.from_settings().file_bytes + 1)
    except FileNotFoundError:
        return None


def discard(staged: StagedUpload | None) -> None:
    if staged is not None and UPLOAD_NAME.match(staged.name):
        default_storage.delete(staged.name)


def delete_stale() -> None:
    """Uploads nobody confirmed or cancelled (a closed tab) are personal data: keep them a day at most."""
    try:
        _, names = default_storage.listdir(UPLOAD_DIR)
    except FileNotFoundError:
        return
    cutoff = timezone.now() - MAX_AGE
    for name in names:
        path = f"{UPLOAD_DIR}/{name}"
        try:
            if UPLOAD_NAME.match(path) and default_storage.get_modified_time(path) < cutoff:
                default_storage.delete(path)
        except (OSError, NotImplementedError):
            continue
