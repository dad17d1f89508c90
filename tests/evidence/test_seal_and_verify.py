"""The seal (a PAdES signature with the portal's certificate) and verification: by pyHanko, by
verify_pdf, by `manage.py verify_declaration_pdf`, and on the public page, by code and by upload.
A copy with one byte changed is not valid anywhere."""

import datetime
import html
import io
import logging
import re
from io import StringIO

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from django.core.exceptions import ImproperlyConfigured
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from evidence import seal
from evidence.models import DeclarationPdf
from evidence.pdf import declaration_pdf_issue, render_pdf
from evidence.verification import initials, verify_pdf
from tests.declarations.evidence import sign_online
from tests.declarations.factories import family

pytestmark = pytest.mark.django_db


def stored(record: DeclarationPdf) -> bytes:
    with record.file.open("rb") as file:
        return file.read()


@pytest.fixture
def record(carer, version):
    return declaration_pdf_issue(declaration_id=sign_online(carer, version).pk)


@pytest.fixture
def sealed(record):
    return stored(record)


def one_byte_changed(data: bytes) -> bytes:
    """The same file with one byte changed inside the signed range: in the binary comment on the
    PDF's second line, which no reader needs, so the file still opens."""
    signed_until = int(data[data.index(b"/ByteRange [") :].split(b"[", 1)[1].split()[1])
    offset = data.index(b"\n") + 2
    assert offset < signed_until
    changed = bytearray(data)
    changed[offset] ^= 0x01
    return bytes(changed)


def write(tmp_path, name, data) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


# The seal, as pyHanko sees it.


def test_the_stored_pdf_carries_a_pades_seal_that_pyhanko_validates_against_the_portal_certificate(sealed, record):
    certificate = seal.portal_certificate()
    [signature] = PdfFileReader(io.BytesIO(sealed)).embedded_signatures
    assert signature.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"  # PAdES
    status = validate_pdf_signature(signature, ValidationContext(trust_roots=[certificate.certificate]))
    assert status.intact and status.valid and status.trusted and status.bottom_line
    assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert status.docmdp_ok  # a certifying seal that permits no changes
    assert record.certificate_fingerprint == certificate.fingerprint


def test_a_copy_with_one_byte_changed_fails_pyhanko(sealed):
    certificate = seal.portal_certificate()
    [signature] = PdfFileReader(io.BytesIO(one_byte_changed(sealed)), strict=False).embedded_signatures
    status = validate_pdf_signature(signature, ValidationContext(trust_roots=[certificate.certificate]))
    assert not status.intact and not status.bottom_line


# verify_pdf and the command.


def test_the_stored_pdf_is_valid_and_says_which_declaration(sealed, record):
    result = verify_pdf(sealed)
    assert result.valid and result.reasons == []
    assert result.hash_recorded and result.seal_valid and result.sha256 == record.sha256
    found = result.declaration
    assert (found.school, found.carer_name, found.carer_initials) == ("Whitefield Primary School", "Mary Smith", "M. S.")
    assert (found.version_number, found.method) == (1, "online")
    assert found.signed_at == record.declaration.signed_at and found.code_display == record.code_display


def test_a_copy_with_one_byte_changed_is_not_valid_and_says_why(sealed):
    result = verify_pdf(one_byte_changed(sealed))
    assert not result.valid and not result.hash_recorded and not result.seal_valid
    assert result.declaration is None
    assert "The PDF's seal is broken: the file has been changed since the portal sealed it." in result.reasons
    assert any("no record of this exact file" in reason for reason in result.reasons)


def test_something_added_after_sealing_is_not_valid(sealed):
    result = verify_pdf(sealed + b"\n% appended\n")
    assert not result.valid
    assert "Something was added to the PDF after the portal sealed it." in result.reasons


def test_a_pdf_sealed_with_someone_elses_certificate_is_not_valid(record, tmp_path, settings):
    declaration = record.declaration
    other = seal._load(
        write(tmp_path, "other.p12", seal.self_signed_pkcs12(common_name="Not the portal")), "", 0
    )
    forged, _ = seal.seal_pdf(render_pdf(declaration, verification_code=record.verification_code), certificate=other)
    result = verify_pdf(forged)
    assert not result.valid
    assert "The PDF was not sealed by this portal: its digital signature is someone else's." in result.reasons


def elliptic_curve_pkcs12(common_name: str) -> bytes:
    """A school's own certificate as some authorities issue them: an elliptic-curve (P-256) key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=True, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
        ), critical=True)
        .sign(key, hashes.SHA256())
    )
    return pkcs12.serialize_key_and_certificates(b"seal", key, certificate, None, serialization.NoEncryption())


@pytest.mark.parametrize("kind", ["RSA", "elliptic curve"])
def test_every_pdf_sealed_with_one_certificate_validates_whatever_its_key(record, tmp_path, kind):
    data = (
        seal.self_signed_pkcs12(common_name="School seal") if kind == "RSA" else elliptic_curve_pkcs12("School seal")
    )
    certificate = seal._load(write(tmp_path, "school.p12", data), "", 0)
    unsealed = render_pdf(record.declaration, verification_code=record.verification_code)
    for _ in range(3):  # the certificate is loaded once per process: every seal made with it must hold
        sealed, _ = seal.seal_pdf(unsealed, certificate=certificate)
        [signature] = PdfFileReader(io.BytesIO(sealed)).embedded_signatures
        status = validate_pdf_signature(signature, ValidationContext(trust_roots=[certificate.certificate]))
        assert status.intact and status.valid and status.trusted and status.docmdp_ok


def test_an_unsealed_pdf_and_a_file_that_is_no_pdf_are_not_valid(record):
    unsealed = render_pdf(record.declaration, verification_code=record.verification_code)
    assert "The PDF carries no digital signature: it was not sealed by this portal." in verify_pdf(unsealed).reasons
    assert verify_pdf(b"GIF89a not a pdf").reasons == ["This file is not a PDF."]


def test_pdfs_sealed_before_the_portal_certificate_was_renewed_stay_valid(sealed, tmp_path, settings):
    settings.PORTAL_SIGNING_CERT = write(
        tmp_path, "renewed.p12", seal.self_signed_pkcs12(common_name="Portal, renewed", password="s3cret")
    )
    settings.PORTAL_SIGNING_CERT_PASSWORD = "s3cret"
    assert "Common Name: Portal, renewed" in seal.portal_certificate().subject
    assert verify_pdf(sealed).valid  # its certificate's fingerprint is recorded against a PDF issued here


def test_the_command_says_valid_and_exits_zero(sealed, tmp_path):
    out = StringIO()
    call_command("verify_declaration_pdf", write(tmp_path, "declaration.pdf", sealed), stdout=out)
    text = out.getvalue()
    assert "VALID: an unaltered declaration PDF issued and sealed by this portal." in text
    assert "Whitefield Primary School; Mary Smith; version 1; signed 22 November 2026 12:00 GMT (signed online)" in text


def test_the_command_says_not_valid_with_the_reason_and_exits_one(sealed, tmp_path):
    out = StringIO()
    with pytest.raises(SystemExit) as exit_status:
        call_command("verify_declaration_pdf", write(tmp_path, "changed.pdf", one_byte_changed(sealed)), stdout=out)
    assert exit_status.value.code == 1
    assert "NOT VALID: The PDF's seal is broken: the file has been changed since the portal sealed it." in out.getvalue()


# The certificate.


def test_in_development_a_self_signed_certificate_is_made_once_and_the_log_says_so(tmp_path, settings, caplog):
    settings.PORTAL_SIGNING_DIR = tmp_path / "signing"
    with caplog.at_level(logging.WARNING, logger="evidence.seal"):
        first = seal.portal_certificate()
        second = seal.portal_certificate()
    assert (tmp_path / "signing" / "development-seal.p12").exists()
    assert first.fingerprint == second.fingerprint
    [message] = [record.getMessage() for record in caplog.records]
    assert "Created a self-signed certificate to seal declaration PDFs" in message
    assert "PORTAL_SIGNING_CERT" in message


def test_in_production_a_missing_certificate_is_refused_with_a_clear_message(settings):
    settings.PRODUCTION = True
    with pytest.raises(ImproperlyConfigured, match="PORTAL_SIGNING_CERT must be set when PORTAL_ENV=production"):
        seal.portal_certificate()


def test_a_configured_certificate_is_used_and_a_wrong_password_refused(carer, version, tmp_path, settings):
    settings.PRODUCTION = True
    settings.PORTAL_SIGNING_CERT = write(
        tmp_path, "school.p12", seal.self_signed_pkcs12(common_name="Halton portal seal", password="right")
    )
    settings.PORTAL_SIGNING_CERT_PASSWORD = "wrong"
    with pytest.raises(ImproperlyConfigured, match="not a PKCS#12 file this password opens"):
        seal.portal_certificate()
    settings.PORTAL_SIGNING_CERT_PASSWORD = "right"
    record = declaration_pdf_issue(declaration_id=sign_online(carer, version).pk)
    assert record.certificate_fingerprint == seal.portal_certificate().fingerprint
    assert verify_pdf(stored(record)).valid


def test_initials_say_little():
    assert initials("Mary Ann Smith") == "M. A. S."
    assert initials("siobhán o'brien") == "S. O."


# The public page.


def page(response) -> str:
    return html.unescape(response.content.decode())


def test_the_page_by_code_shows_school_version_date_and_initials_only(client, record):
    text = page(client.get("/verify/", {"code": record.code_display.lower().replace("-", " ")}))
    assert f"Code {record.code_display}: a declaration recorded by the portal" in re.sub(r"<[^>]+>", "", text)
    assert "Whitefield Primary School" in text and "version 1" in text
    assert "22 November 2026, 12:00 (UK time), online" in text
    assert "M. S." in text and record.sha256 in text
    assert "Mary Smith" not in text and "Amy" not in text and "203.0.113.9" not in text  # least privilege


def test_an_unknown_code_is_not_found_and_misses_are_rate_limited(client, record, settings):
    settings.PORTAL_RATE_LIMITS = {**settings.PORTAL_RATE_LIMITS, "verify_miss": (3, 600)}
    for _ in range(3):
        response = client.get("/verify/", {"code": "AAAAA-AAAAA"})
        assert response.status_code == 200 and "No declaration has that code" in page(response)
    refused = client.get("/verify/", {"code": record.code_display})  # even a right one, now
    assert refused.status_code == 429 and refused["Retry-After"] == "600"


def test_a_malformed_code_is_explained(client):
    response = client.get("/verify/", {"code": "hello"})
    assert "A verification code is 10 letters and digits, like ABCDE-FGH23" in page(response)
    assert "There is a problem" in page(response)


def test_the_page_checks_an_uploaded_pdf(client, sealed, record):
    response = client.post("/verify/", {"file": SimpleUploadedFile("mine.pdf", sealed, content_type="application/pdf")})
    text = page(response)
    assert response.status_code == 200
    assert "Valid: an unaltered declaration issued by this portal" in text
    assert "Whitefield Primary School" in text and "M. S." in text and "Mary Smith" not in text
    assert "no-store" in response["Cache-Control"]


def test_the_page_says_a_changed_pdf_is_not_valid_and_why(client, sealed):
    upload = SimpleUploadedFile("changed.pdf", one_byte_changed(sealed), content_type="application/pdf")
    text = page(client.post("/verify/", {"file": upload}))
    assert "Not valid" in text and "Valid: an unaltered" not in text
    assert "The PDF's seal is broken: the file has been changed since the portal sealed it." in text


def test_the_page_works_for_a_paper_declaration_and_says_so(client, school, version, office, media):
    from tests.declarations.evidence import sign_on_paper

    carer = family(school, email="")
    record = declaration_pdf_issue(declaration_id=sign_on_paper(carer, version, recorded_by=office).pk)
    text = page(client.get("/verify/", {"code": record.code_display}))
    assert "22 November 2026, on a paper form recorded by the school" in text


def test_sealing_and_checking_a_seal_work_where_an_event_loop_is_running(record):
    """pyHanko runs its own event loop; an async caller (an ASGI view, the browser tests) has one
    running already, so the seal and the check step outside it."""
    import asyncio

    from evidence.verification import _seal_problem

    unsealed = render_pdf(record.declaration, verification_code=record.verification_code)

    async def inside_a_running_loop():
        sealed, _ = seal.seal_pdf(unsealed)
        return _seal_problem(sealed, recorded=None), _seal_problem(one_byte_changed(sealed), recorded=None)

    assert asyncio.run(inside_a_running_loop()) == (
        None,
        "The PDF's seal is broken: the file has been changed since the portal sealed it.",
    )


def test_valid_and_not_valid_are_unmistakable_panels_with_an_icon_and_words(client, sealed):
    valid = client.post("/verify/", {"file": SimpleUploadedFile("mine.pdf", sealed, content_type="application/pdf")})
    changed = SimpleUploadedFile("changed.pdf", one_byte_changed(sealed), content_type="application/pdf")
    not_valid = client.post("/verify/", {"file": changed})
    valid_html, not_valid_html = valid.content.decode(), not_valid.content.decode()
    assert 'class="verify-result verify-valid' in valid_html and "verify-invalid" not in valid_html
    assert '<span class="verify-icon" aria-hidden="true">✓</span> Valid:' in valid_html
    assert 'class="verify-result verify-invalid' in not_valid_html and "verify-valid" not in not_valid_html
    assert '<span class="verify-icon" aria-hidden="true">✗</span> Not valid: do not rely on this file' in not_valid_html


def test_a_verification_code_never_breaks_at_its_hyphen(client, record):
    html = client.get("/verify/", {"code": record.code_display}).content.decode()
    assert f'<span class="text-nowrap">{record.code_display}</span>' in html
