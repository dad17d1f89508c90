"""Declarations made through the real services, and ways to read the PDFs they become, for the
evidence tests (test_pdf, test_seal_and_verify, test_exports, test_retention)."""

from __future__ import annotations

import datetime
import io
import re

import pypdf
from django.core.files.uploadedfile import SimpleUploadedFile

from declarations import services
from declarations.models import Declaration, SigningRequest
from sending.models import OutboxMessage
from tests.declarations.factories import PDF, family, issued_link

BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1"


def sign_online(carer, version, *, ip="203.0.113.9", user_agent=BROWSER, typed_name=None, invited_at=None, opened_at=None) -> Declaration:
    """The carer invited (an invitation e-mail sent), the link opened, then signed online."""
    signing_request, _ = issued_link(carer, version)
    updates = {}
    if invited_at is not None:
        OutboxMessage.objects.create(
            school=carer.school,
            carer=carer,
            version=version,
            kind=OutboxMessage.Kind.INVITATION,
            status=OutboxMessage.Status.SENT,
            to_address=carer.email,
            sent_at=invited_at,
        )
        updates.update(sent_at=invited_at, created_at=invited_at - datetime.timedelta(minutes=1))
    if opened_at is not None:
        updates["opened_at"] = opened_at
    if updates:
        SigningRequest.objects.filter(pk=signing_request.pk).update(**updates)
        signing_request.refresh_from_db()
    return services.declaration_sign(
        signing_request=signing_request,
        version_id_shown=version.pk,
        typed_name=typed_name or carer.full_name,
        agreed=True,
        ip=ip,
        user_agent=user_agent,
    )


def sign_on_paper(carer, version, *, recorded_by, signed_on=datetime.date(2026, 11, 22), name_as_written=None, scan=PDF) -> Declaration:
    return services.declaration_record_paper(
        carer=carer,
        version=version,
        signed_on=signed_on,
        name_as_written=name_as_written or carer.full_name,
        children=list(carer.children.filter(on_roll=True)),
        scan=SimpleUploadedFile("form.pdf", scan, content_type="application/pdf"),
        recorded_by=recorded_by,
    )


def many_families(school, n, *, surname="Carer"):
    """n carers with one child each: Carer0 Parent, child Pupil0 Child…"""
    return [
        family(
            school,
            forename=f"Parent{i}",
            surname=f"{surname}{i}",
            email=f"parent{i}@example.org",
            children=((f"Child{i}", f"Pupil{i}", "5", "5A"),),
        )
        for i in range(n)
    ]


def pdf_text(data: bytes) -> str:
    """Every page's text, with runs of white space made single spaces."""
    reader = pypdf.PdfReader(io.BytesIO(data))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))


def squashed(text: str) -> str:
    """Text with all white space removed: long values (fingerprints, user agents) wrap in a PDF."""
    return re.sub(r"\s+", "", text)


def structure(data: bytes) -> list[tuple[str, str]]:
    """The tagged PDF's structure elements, in reading order: (role, alt text or "")."""
    reader = pypdf.PdfReader(io.BytesIO(data))
    found = []

    def walk(node):
        node = node.get_object()
        if isinstance(node, pypdf.generic.ArrayObject):
            for child in node:
                walk(child)
            return
        if not isinstance(node, pypdf.generic.DictionaryObject):
            return
        if "/S" in node:
            found.append((str(node["/S"]), str(node.get("/Alt", ""))))
        if "/K" in node:
            walk(node["/K"])

    walk(reader.trailer["/Root"]["/StructTreeRoot"])
    return found

