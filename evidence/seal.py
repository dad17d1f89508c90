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

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.metadata.model import VENDOR as PYHANKO
from pyhanko.sign import signers
from pyhanko.sign.fields import MDPPerm, SigSeedSubFilter
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

logger = logging.getLogger(__name__)

DEVELOPMENT_FILE = "development-seal.p12"
DEVELOPMENT_NAME = "Codes of conduct portal (development seal, not for production)"
SIGNATURE_FIELD = "PortalSeal"


@dataclass(frozen=True)
class PortalCertificate:
    """The key and certificate the portal seals with."""

    signer: signers.SimpleSigner
    certificate: asn1_x509.Certificate
    fingerprint: str  # SHA-256 of the certificate (DER), hex
    path: str

    @property
    def subject(self) -> str:
        return self.certificate.subject.human_friendly

    @functools.cached_property
    def reserved_bytes(self) -> int:
        """The room a seal by this certificate takes in a PDF, worked out once.

        Left to itself, pyHanko works it out for every PDF by making a whole trial signature
        (a third of what sealing cost). The size depends only on the key and certificate, since
        the portal's seals carry no timestamp and no revocation data; this is pyHanko's own
        estimate (the trial signature's length in hex, and half as much again for safety).
        """
        from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes

        async def trial():
            return await self.signer.async_sign(
                hashlib.sha256().digest(),
                "sha256",
                use_pades=True,
                dry_run=True,
                signed_attr_settings=PdfCMSSignedAttributes(signing_time=datetime.datetime.now(datetime.UTC)),
            )

        length = len(outside_event_loop(asyncio.run, trial()).dump()) * 2
        return length + 2 * (length // 4)


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


class KeptKeySigner(signers.SimpleSigner):
    """pyHanko's SimpleSigner, parsing its private key once rather than for every signature.

    SimpleSigner.sign_raw loads the key from DER each time it signs, and for an RSA key OpenSSL
    checks the key as it loads it: about a tenth of a second for the 3,072-bit development key,
    a quarter of what sealing a PDF cost. Here the loaded key is kept; the signature is the same
    (PKCS#1 v1.5 for RSA, ECDSA for EC keys, as SimpleSigner makes them); any other mechanism
    (RSA-PSS, EdDSA) goes to SimpleSigner as before.
    """

    @classmethod
    def of(cls, signer: signers.SimpleSigner) -> KeptKeySigner:
        return cls(
            signing_cert=signer.signing_cert,
            signing_key=signer.signing_key,
            cert_registry=signer.cert_registry,
            signature_mechanism=signer.signature_mechanism,
        )

    @functools.cached_property
    def private_key(self):
        return serialization.load_der_private_key(self.signing_key.dump(), password=None)

    @functools.cached_property
    def _signed_attrs_templates(self) -> dict[tuple[str, int], tuple[bytes, bytes]]:
        return {}

    async def signed_attrs(
        self,
        data_digest: bytes,
        digest_algorithm: str,
        attr_settings=None,
        content_type="data",
        use_pades=False,
        timestamper=None,
        dry_run=False,
        is_pdf_sig=True,
    ):
        """The signed attributes of a seal, as pyHanko makes them, made once per digest algorithm.

        A portal seal's signed attributes (PAdES: content type, message digest, and the signing
        certificate's hash and issuer) are the same for every PDF but for the document's digest,
        and pyHanko spends some 8 ms assembling them with asn1crypto, over half of what sealing
        a PDF costs. So pyHanko makes them once, around a random stand-in for the digest, and
        every seal after that is those bytes with its own digest in the stand-in's place (same
        length, so the DER around it holds). Anything else (a timestamp, revocation data, CAdES
        extras, another content type) goes to pyHanko as before.
        """

        def by_pyhanko(digest):
            return super(KeptKeySigner, self).signed_attrs(
                digest,
                digest_algorithm,
                attr_settings=attr_settings,
                content_type=content_type,
                use_pades=use_pades,
                timestamper=timestamper,
                dry_run=dry_run,
                is_pdf_sig=is_pdf_sig,
            )

        plain = (
            use_pades
            and is_pdf_sig
            and not dry_run
            and timestamper is None
            and content_type == "data"
            and self.signed_attr_prov_spec is None
            and (attr_settings is None or (
                attr_settings.cades_signed_attrs is None
                and getattr(attr_settings, "adobe_revinfo_attr", None) is None
            ))
        )
        if not plain:
            return await by_pyhanko(data_digest)
        key = (digest_algorithm, len(data_digest))
        template = self._signed_attrs_templates.get(key)
        if template is None:
            stand_in = os.urandom(len(data_digest))
            encoded = (await by_pyhanko(stand_in)).dump()
            if encoded.count(stand_in) != 1:  # (never, with 256 random bits; but then, pyHanko's way)
                return await by_pyhanko(data_digest)
            template = self._signed_attrs_templates[key] = (encoded, stand_in)
        encoded, stand_in = template
        return cms.CMSAttributes.load(encoded.replace(stand_in, data_digest))

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
        try:
            algorithm = mechanism.signature_algo
        except ValueError:
            algorithm = mechanism["algorithm"].native
        key = self.private_key
        if algorithm == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPrivateKey):
            return key.sign(data, PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm))
        if algorithm == "ecdsa" and isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(data, ec.ECDSA(get_pyca_cryptography_hash(digest_algorithm)))
        return super().sign_raw(data, digest_algorithm)


@functools.lru_cache(maxsize=4)
def _load(path: str, password: str, modified: int) -> PortalCertificate:
    """Load once per process (and again if the file changes: `modified` is in the cache key)."""
    with open(path, "rb") as file:
        data = file.read()
    try:
        signer = KeptKeySigner.of(
            signers.SimpleSigner.load_pkcs12_data(
                data, other_certs=[], passphrase=password.encode("utf-8") if password else None
            )
        )
    except ValueError:
        raise ImproperlyConfigured(
            f"PORTAL_SIGNING_CERT: {path} is not a PKCS#12 file this password opens "
            "(check PORTAL_SIGNING_CERT_PASSWORD)."
        ) from None
    certificate = signer.signing_cert
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
    output = outside_event_loop(
        signers.sign_pdf, writer, metadata, signer=certificate.signer, bytes_reserved=certificate.reserved_bytes
    )
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
