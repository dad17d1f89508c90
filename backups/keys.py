"""The secrets the evidence depends on: the certificate and key that seal declaration PDFs, and
Django's SECRET_KEY. Found through settings only (portal/settings.py says where each lives).

- PORTAL_SIGNING_CERT (a PKCS#12 file) and PORTAL_SIGNING_CERT_PASSWORD, when set.
- PORTAL_SIGNING_DIR: where development makes its self-signed seal when nothing is configured.
- SECRET_KEY: from DJANGO_SECRET_KEY, or in development the file VAR_DIR/secret_key.

Restoring puts each where the target deployment's settings look for it. A certificate file
already there is kept only if it is the same certificate and key; anything else is refused, so a
restore never replaces a deployment's seal. The certificate is re-wrapped in the target's
PORTAL_SIGNING_CERT_PASSWORD when that differs (the key itself is unchanged).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from django.conf import settings

from backups.archive import SIGNING_CERT, SIGNING_DIR, BackupError, Unpacked


def development_key_file() -> Path:
    """Where portal/settings.py keeps a development SECRET_KEY it generated."""
    return Path(settings.VAR_DIR) / "secret_key"


def collect() -> tuple[dict, list[tuple[str, Path]]]:
    """(secrets.json's content, [(name in the archive, file on disk)]) for this deployment."""
    files: list[tuple[str, Path]] = []
    described = {"secret_key": settings.SECRET_KEY, "signing_cert": None, "signing_dir": []}
    if settings.PORTAL_SIGNING_CERT:
        path = Path(settings.PORTAL_SIGNING_CERT)
        if not path.is_file():
            raise BackupError(f"PORTAL_SIGNING_CERT names {path}, which cannot be read: fix that before backing up.")
        files.append((SIGNING_CERT, path))
        described["signing_cert"] = {"path": str(path), "password": settings.PORTAL_SIGNING_CERT_PASSWORD}
    directory = Path(settings.PORTAL_SIGNING_DIR)
    if directory.is_dir():
        for path in sorted(directory.iterdir()):
            if path.is_file() and not path.name.startswith("."):  # (dot files: a seal being made)
                files.append((f"{SIGNING_DIR}/{path.name}", path))
                described["signing_dir"].append(path.name)
    return described, files


def _load(data: bytes, password: str):
    return pkcs12.load_pkcs12(data, password.encode("utf-8") if password else None)


def _identity(bundle) -> tuple[bytes, bytes]:
    return (
        bundle.cert.certificate.public_bytes(serialization.Encoding.DER),
        bundle.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )


def rewrap(data: bytes, password: str, new_password: str) -> bytes:
    bundle = _load(data, password)
    encryption = (
        serialization.BestAvailableEncryption(new_password.encode("utf-8")) if new_password else serialization.NoEncryption()
    )
    return pkcs12.serialize_key_and_certificates(
        bundle.cert.friendly_name,
        bundle.key,
        bundle.cert.certificate,
        [extra.certificate for extra in bundle.additional_certs] or None,
        encryption,
    )


@dataclass
class SecretsPlan:
    writes: list[tuple[Path, bytes]] = field(default_factory=list)  # written with mode 0600
    notes: list[str] = field(default_factory=list)

    def apply(self) -> None:
        for path, data in self.writes:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f".{path.name}.restoring")
            with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as file:
                file.write(data)
            os.replace(temporary, path)


def plan(unpacked: Unpacked) -> SecretsPlan:
    """What restoring the archive's secrets will write; BackupError if it would replace another."""
    archived = unpacked.secrets()
    result = SecretsPlan()
    certificate = archived.get("signing_cert")
    if certificate:
        _plan_certificate(result, unpacked.path(SIGNING_CERT).read_bytes(), certificate)
    directory = Path(settings.PORTAL_SIGNING_DIR)
    for name in archived.get("signing_dir", []):
        data, target = unpacked.path(f"{SIGNING_DIR}/{name}").read_bytes(), directory / name
        if target.exists():
            if target.read_bytes() != data:
                raise BackupError(
                    f"{target} already holds a different file. This deployment has made its own seal "
                    "(PORTAL_SIGNING_DIR): restore into a new PORTAL_VAR_DIR, or move that file away."
                )
            continue
        result.writes.append((target, data))
    if not certificate and archived.get("signing_dir") and settings.PORTAL_SIGNING_CERT:
        result.notes.append(
            "The backed-up deployment sealed its PDFs with its development seal; this one seals with "
            "PORTAL_SIGNING_CERT. The PDFs sealed before still verify: their certificate is recorded with them."
        )
    _plan_secret_key(result, archived["secret_key"])
    return result


def _plan_certificate(result: SecretsPlan, data: bytes, archived: dict) -> None:
    if not settings.PORTAL_SIGNING_CERT:
        raise BackupError(
            f"The backed-up deployment sealed its PDFs with the certificate PORTAL_SIGNING_CERT named "
            f"({archived['path']}). Set PORTAL_SIGNING_CERT here to where it should be written (and "
            "PORTAL_SIGNING_CERT_PASSWORD to the password it should have), then restore again."
        )
    target, password = Path(settings.PORTAL_SIGNING_CERT), settings.PORTAL_SIGNING_CERT_PASSWORD
    try:
        wanted = _identity(_load(data, archived["password"]))
    except ValueError:
        raise BackupError("The signing certificate in this backup does not open with the password backed up with it.") from None
    if target.exists():
        try:
            same = _identity(_load(target.read_bytes(), password)) == wanted
        except (OSError, ValueError):
            same = False
        if not same:
            raise BackupError(
                f"PORTAL_SIGNING_CERT names {target}, which already holds another certificate (or one "
                "PORTAL_SIGNING_CERT_PASSWORD does not open). A restore never replaces a seal: point "
                "PORTAL_SIGNING_CERT at a new path, or move that file away, and restore again."
            )
        return
    if password != archived["password"]:
        data = rewrap(data, archived["password"], password)
        result.notes.append(f"The signing certificate was written to {target} under this deployment's PORTAL_SIGNING_CERT_PASSWORD.")
    result.writes.append((target, data))


def _plan_secret_key(result: SecretsPlan, secret_key: str) -> None:
    if settings.SECRET_KEY == secret_key:
        return
    if os.environ.get("DJANGO_SECRET_KEY") or settings.PRODUCTION:
        result.notes.append(
            "This deployment's DJANGO_SECRET_KEY is not the backed-up one. Nothing stored depends on "
            "it, but staff must sign in again and old password-reset links stop working. To keep "
            "the old key, write it out with `manage.py restore FILE --check --write-secrets PATH` "
            "and set DJANGO_SECRET_KEY from it."
        )
        return
    # Development: settings made this deployment a key of its own when it first started; the
    # database is empty, so nothing was protected by it yet.
    result.writes.append((development_key_file(), secret_key.encode("utf-8")))


def write_env_file(path: Path, unpacked: Unpacked) -> None:
    """The backed-up DJANGO_SECRET_KEY and PORTAL_SIGNING_CERT_PASSWORD as an environment file
    (KEY=value lines, mode 0600), for an operator rebuilding a deployment from nothing."""
    archived = unpacked.secrets()
    lines = [f"DJANGO_SECRET_KEY={archived['secret_key']}"]
    if archived.get("signing_cert"):
        lines.append(f"PORTAL_SIGNING_CERT_PASSWORD={archived['signing_cert']['password']}")
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise BackupError(f"{path} already exists: name a new file for the secrets.") from None
    with open(descriptor, "w", encoding="utf-8") as file:
        file.write("\n".join(lines) + "\n")
