"""Is this PDF an unaltered declaration issued by this portal, and which? One place for the answer.

    result = verify_pdf(data)      # a file someone holds: the page's upload, or the command
    found = lookup_code("ABCDE-FGHJK")   # the code printed on it: the page's code box

A PDF is valid when both hold:

(a) its SHA-256 is that of a PDF the portal stored (DeclarationPdf.sha256), and
(b) its embedded signature (the portal's seal, evidence/seal.py) validates with pyHanko,
    intact and covering the whole file, against the portal's own certificate as the trust root.
    A PDF sealed with an earlier portal certificate (before a renewal) is trusted when that
    certificate's fingerprint is recorded against a PDF the portal issued.

What it says about the declaration is deliberately little (least privilege: anyone can use the
page): the school, the version, when it was signed and how, and the carer's initials. Never the
children, the IP address or the browser; whoever holds the PDF can read those in it.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import logging
from dataclasses import dataclass, field

from django.utils.formats import date_format
from django.utils.translation import gettext as _

from evidence.models import DeclarationPdf
from evidence.pdf import normalise_code
from schools.models import AuditEvent

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeclarationSummary:
    """What the verification page may say about a declaration."""

    school: str
    carer_initials: str
    carer_name: str  # for the command line (an operator), never shown on the public page
    version_number: int
    version_title: str
    effective_from: datetime.date | None
    signed_at: datetime.datetime
    method: str  # "online" or "paper"
    method_display: str
    pdf_sha256: str
    code_display: str

    @property
    def signed_on_paper(self) -> bool:
        return self.method == "paper"


@dataclass
class VerificationResult:
    """The answer for one file: valid or not, why not, and which declaration it is."""

    valid: bool
    reasons: list[str] = field(default_factory=list)  # why it is not valid, in plain English
    hash_recorded: bool = False
    seal_valid: bool = False
    sha256: str = ""
    declaration: DeclarationSummary | None = None
    deleted_on: datetime.date | None = None  # issued by the portal, deleted under retention

    @property
    def reason(self) -> str:
        return " ".join(self.reasons)


def initials(name: str) -> str:
    """"Mary Ann Smith" → "M. A. S." """
    return " ".join(f"{part[0].upper()}." for part in name.split() if part[:1].isalpha())


def summarise(record: DeclarationPdf) -> DeclarationSummary:
    declaration = record.declaration
    version = declaration.version
    return DeclarationSummary(
        school=declaration.school.name,
        carer_initials=initials(declaration.carer_name),
        carer_name=declaration.carer_name,
        version_number=version.number,
        version_title=version.title,
        effective_from=version.effective_from,
        signed_at=declaration.signed_at,
        method=declaration.method,
        method_display=declaration.get_method_display(),
        pdf_sha256=record.sha256,
        code_display=record.code_display,
    )


def _records():
    return DeclarationPdf.objects.select_related("declaration__school", "declaration__version")


def lookup_code(code: str) -> DeclarationSummary | None:
    """The declaration whose PDF carries this verification code (as typed: spaces, dashes and
    lower case are fine), or None."""
    code = normalise_code(code)
    if len(code) != 10:
        return None
    record = _records().filter(verification_code=code).first()
    return summarise(record) if record is not None else None


def verify_pdf(data: bytes) -> VerificationResult:
    """Check a PDF's bytes: recorded by the portal (a) and sealed by it, unaltered (b)."""
    sha256 = hashlib.sha256(data).hexdigest()
    result = VerificationResult(valid=False, sha256=sha256)
    if not data.lstrip()[:5] == b"%PDF-":
        result.reasons.append(_("This file is not a PDF."))
        return result
    record = _records().filter(sha256=sha256).first()
    if record is not None:
        result.hash_recorded = True
        result.declaration = summarise(record)
    seal_problem = _seal_problem(data, recorded=record)
    result.seal_valid = seal_problem is None
    if seal_problem:
        result.reasons.append(seal_problem)
    if record is None:
        deleted = _deleted_under_retention(sha256)
        if deleted is not None and result.seal_valid:
            result.deleted_on = deleted
            result.reasons.append(
                _(
                    "The portal issued this PDF, but the declaration and its PDF were deleted on "
                    "%(day)s at the end of the school's retention period."
                )
                % {"day": date_format(deleted, "j F Y")}
            )
        else:
            result.reasons.append(_("The portal has no record of this exact file: it is not one the portal issued, or it has been changed."))
    result.valid = result.hash_recorded and result.seal_valid
    return result


def _seal_problem(data: bytes, *, recorded: DeclarationPdf | None) -> str | None:
    """None when the seal is the portal's, intact and covering the whole file; else why not."""
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.general import SigningError
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.errors import SignatureValidationError
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    from evidence.seal import certificate_fingerprint, outside_event_loop, portal_certificate

    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        signatures = reader.embedded_signatures
    except (PdfError, ValueError, KeyError, TypeError, IndexError, OSError):
        return _("The PDF cannot be read: it is damaged or has been changed.")
    if not signatures:
        return _("The PDF carries no digital signature: it was not sealed by this portal.")
    if len(signatures) > 1:
        return _("The PDF carries more than one digital signature: the portal seals each PDF once.")
    signature = signatures[0]
    portal = portal_certificate()
    trusted = [portal.certificate]
    try:
        signer_certificate = signature.signer_cert
    except (ValueError, KeyError, TypeError, SigningError):
        return _("The PDF's digital signature cannot be read.")
    signer_fingerprint = certificate_fingerprint(signer_certificate)
    if signer_fingerprint != portal.fingerprint and (
        (recorded is not None and recorded.certificate_fingerprint == signer_fingerprint)
        or DeclarationPdf.objects.filter(certificate_fingerprint=signer_fingerprint).exists()
    ):
        trusted.append(signer_certificate)  # an earlier certificate of the portal's own
    try:
        status = outside_event_loop(
            validate_pdf_signature, signature, ValidationContext(trust_roots=trusted), skip_diff=True
        )
    except (SignatureValidationError, SigningError, PdfError, ValueError, KeyError, TypeError) as error:
        logger.info("PDF seal did not validate: %s", error)
        return _("The PDF's seal is broken: the file has been changed since the portal sealed it.")
    if not (status.intact and status.valid):
        return _("The PDF's seal is broken: the file has been changed since the portal sealed it.")
    if not status.trusted:
        return _("The PDF was not sealed by this portal: its digital signature is someone else's.")
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
        return _("Something was added to the PDF after the portal sealed it.")
    return None


def _deleted_under_retention(sha256: str) -> datetime.date | None:
    event = (
        AuditEvent.objects.filter(action=AuditEvent.Action.RETENTION_DELETE, detail__pdf_sha256=sha256)
        .order_by("-at")
        .first()
    )
    return event.at.date() if event is not None else None
