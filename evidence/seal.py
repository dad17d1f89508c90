"""The portal's seal on every declaration PDF: a PDF digital signature (PAdES baseline B).

The certificate and key come from a PKCS#12 file named by PORTAL_SIGNING_CERT (password in
PORTAL_SIGNING_CERT_PASSWORD). In production a missing or unreadable one is refused, loudly, the
first time a PDF is sealed or verified. In development, when none is configured, a self-signed
certificate is made once under PORTAL_SIGNING_DIR (var/signing/) and the log says so.

A seal says "this file left the portal like this": verification (evidence/verification.py)
trusts the portal's own certificate as the root, not any public certificate authority. A seal
carries no timestamp from a time-stamping authority (the portal reaches none), which is what
makes it baseline B rather than T.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import hashlib
import io
import logging
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.metadata.model import VENDOR as PYHANKO
from pyhanko.sign import signers
from pyhanko.sign.fields import MDPPerm, SigSeedSubFilter
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

logger = logging.getLogger(__name__)

DEVELOPMENT_FILE = "development-seal.p12"
DEVELOPMENT_NAME = "Codes of conduct portal (development seal, not for production)"
SIGNATURE_FIELD = "PortalSeal"


class PortalSigner(signers.Signer):
    """pyHanko's documented way to bring one's own key (a Signer that makes the raw signature,
    as in its AWS KMS example), for one reason: the key is parsed once per process. pyHanko's
    SimpleSigner parses it again for every signature, twice per seal (once to size the seal),
    and checking a 3,072-bit RSA key takes about 110 ms each time; bench/profiles/evidence.md.

    RSA (PKCS #1 v1.5) and ECDSA keys, the kinds certificate authorities issue for seals."""

    def __init__(self, *, signing_cert: asn1_x509.Certificate, private_key, cert_registry):
        if not isinstance(private_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise ImproperlyConfigured("PORTAL_SIGNING_CERT: the key must be an RSA or ECDSA key.")
        self._private_key = private_key
        super().__init__(signing_cert=signing_cert, cert_registry=cert_registry)

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run=False) -> bytes:
        algorithm = get_pyca_cryptography_hash(digest_algorithm)
        if isinstance(self._private_key, rsa.RSAPrivateKey):
            return self._private_key.sign(data, padding.PKCS1v15(), algorithm)
        return self._private_key.sign(data, ec.ECDSA(algorithm))


@dataclass(frozen=True)
class PortalCertificate:
    """The key and certificate the portal seals with."""

    signer: PortalSigner
    certificate: asn1_x509.Certificate
    fingerprint: str  # SHA-256 of the certificate (DER), hex
    path: str

    @property
    def subject(self) -> str:
        return self.certificate.subject.human_friendly


def certificate_fingerprint(certificate: asn1_x509.Certificate) -> str:
    return hashlib.sha256(certificate.dump()).hexdigest()


def portal_certificate() -> PortalCertificate:
    """The configured certificate, or in development one made on first use.

    Raises ImproperlyConfigured in production when PORTAL_SIGNING_CERT is not set, and anywhere
    when the file cannot be read or the password is wrong.
    """
    path = settings.PORTAL_SIGNING_CERT
    password = settings.PORTAL_SIGNING_CERT_PASSWORD
    if not path:
        if settings.PRODUCTION:
            raise ImproperlyConfigured(
                "PORTAL_SIGNING_CERT must be set when PORTAL_ENV=production: the path of a PKCS#12 "
                "file (.p12/.pfx) holding the certificate and private key that seal declaration "
                "PDFs, with its password in PORTAL_SIGNING_CERT_PASSWORD. See README.md, "
                "'Evidence: PDFs, verification and exports'."
            )
        path, password = str(development_certificate(Path(settings.PORTAL_SIGNING_DIR))), ""
    try:
        modified = os.stat(path).st_mtime_ns
    except OSError as error:
        raise ImproperlyConfigured(f"PORTAL_SIGNING_CERT: cannot read {path}: {error.strerror}.") from None
    return _load(path, password, modified)


@functools.lru_cache(maxsize=4)
def _load(path: str, password: str, modified: int) -> PortalCertificate:
    """Load once per process (and again if the file changes: `modified` is in the cache key)."""
    with open(path, "rb") as file:
        data = file.read()
    try:
        key, cert, chain = pkcs12.load_key_and_certificates(data, password.encode("utf-8") if password else None)
    except ValueError:
        key = cert = None
    if key is None or cert is None:
        raise ImproperlyConfigured(
            f"PORTAL_SIGNING_CERT: {path} is not a PKCS#12 file this password opens "
            "(check PORTAL_SIGNING_CERT_PASSWORD)."
        )
    certificate = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    others = [asn1_x509.Certificate.load(other.public_bytes(serialization.Encoding.DER)) for other in chain]
    signer = PortalSigner(
        signing_cert=certificate, private_key=key, cert_registry=SimpleCertificateStore.from_certs([certificate, *others])
    )
    return PortalCertificate(
        signer=signer, certificate=certificate, fingerprint=certificate_fingerprint(certificate), path=path
    )


def development_certificate(directory: Path) -> Path:
    """The development seal's PKCS#12 file (no password), made the first time it is needed.

    Two processes making it at once is harmless: each writes its own temporary file and links it
    into place; the first wins and the other uses the winner's.
    """
    path = directory / DEVELOPMENT_FILE
    if path.exists():
        return path
    directory.mkdir(parents=True, exist_ok=True)
    data = self_signed_pkcs12(common_name=DEVELOPMENT_NAME)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".seal-", suffix=".p12")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.chmod(temporary, 0o600)
        try:
            os.link(temporary, path)
        except FileExistsError:
            return path
    finally:
        os.unlink(temporary)
    logger.warning(
        "Created a self-signed certificate to seal declaration PDFs: %s. Fine for trying the portal "
        "out; in production set PORTAL_SIGNING_CERT and PORTAL_SIGNING_CERT_PASSWORD.",
        path,
    )
    return path


def self_signed_pkcs12(*, common_name: str, password: str = "", years: int = 10) -> bytes:
    """A new RSA key and a self-signed certificate for sealing documents, as PKCS#12 bytes."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Codes of conduct portal"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "GB"),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,  # "non-repudiation": what pyHanko asks of a signer
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    encryption = (
        serialization.BestAvailableEncryption(password.encode("utf-8"))
        if password
        else serialization.NoEncryption()
    )
    return pkcs12.serialize_key_and_certificates(b"portal-seal", key, certificate, None, encryption)


def seal_pdf(data: bytes, *, certificate: PortalCertificate | None = None) -> tuple[bytes, PortalCertificate]:
    """The PDF with the portal's seal added (an incremental update), and the certificate used.

    A certifying signature that permits no further changes: any later edit, even one a PDF
    editor would call harmless, shows as a change after sealing.
    """
    certificate = certificate or portal_certificate()
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    # PDF/A wants the Info dictionary and the XMP to agree. pyHanko writes its own name as the
    # XMP's pdf:Producer but appends it to the Info's ("WeasyPrint …; pyHanko …"), which a
    # validator would fail: the Info says what the XMP says.
    info = writer.trailer.raw_get("/Info")
    info.get_object()["/Producer"] = generic.TextStringObject(PYHANKO)
    writer.mark_update(info)
    metadata = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        md_algorithm="sha256",
        subfilter=SigSeedSubFilter.PADES,
        certify=True,
        docmdp_permissions=MDPPerm.NO_CHANGES,
        reason="Sealed by the codes of conduct portal: an unaltered record of a declaration",
        location=settings.PORTAL_BASE_URL,
    )
    output = outside_event_loop(signers.sign_pdf, writer, metadata, signer=certificate.signer)
    return output.getvalue(), certificate


def outside_event_loop(function, *args, **kwargs):
    """Call one of pyHanko's synchronous functions, which run an event loop of their own
    (asyncio.run). Python refuses that in a thread whose own loop is running (an async caller:
    an ASGI view, a notebook, the browser tests): there, it is called from a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return function(*args, **kwargs)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args, **kwargs).result()
