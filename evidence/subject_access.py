"""A subject access request answered: one ZIP of everything the portal holds about one carer.

    download = carer_subject_access_zip(carer=carer, user=request.user, request=request)

The ZIP holds
- `subject-access.json`: the carer's record, children, declarations, declines, e-mails and the
  audit events about them (schools.services.carer_subject_access_export), plus `link_events`:
  when each of their signing links was issued, re-issued, opened and expired, and whether an
  e-mail carrying one could not be delivered (from their signing requests and the outbox);
- `declarations/`: the sealed PDF of each of their declarations (rendered now if the background
  worker has not yet: evidence.pdf.declaration_pdf_issue, which never makes a second), and the
  scan of each paper form;
- `README.txt`: what each file is, in words.

It lives here, not in schools, because the PDFs, links and e-mails are apps above schools.
"""

from __future__ import annotations

import datetime
import io
import json
import zipfile

from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from declarations.models import Declaration, SigningRequest
from evidence.pdf import carer_copy_name, declaration_pdf_issue
from evidence.services import Download
from evidence.zip_exports import unique_name
from schools import permissions
from schools.models import Carer
from schools.services import carer_subject_access_export
from sending.emails import markdown_to_text
from sending.models import LINK_KINDS, OutboxMessage

README = """\
Everything {school} holds about this parent or carer in its codes of conduct portal, exported
on {day} for a subject access request.

subject-access.json   The carer's details as the school holds them, their children, what they
                      signed or declined and when, the e-mails sent to them, when their links
                      to sign were issued, re-issued, opened and expired ("link_events"), and
                      the record of who at the school viewed or changed their details.
declarations/         A sealed PDF of each declaration they made (anyone can check one at the
                      address printed on it), and the scan of any paper form.
"""


def carer_subject_access_zip(*, carer: Carer, user, request=None) -> Download:
    """The ZIP described above, built now.

    Guarantees: PermissionDenied unless the user may manage the carer's school's families
    (its headteacher and office staff), before anything is rendered; the export is recorded in
    the school's audit log (with how many PDFs it holds) in the same transaction as the data
    it holds was read; the file names say nothing about the family but the school and version.
    """
    if not permissions.can_manage_families(user, carer.school):
        raise PermissionDenied("You can only export carers of your own school.")
    declarations = list(
        Declaration.objects.filter(carer=carer).select_related("school", "version").order_by("signed_at", "pk")
    )
    pdfs = {declaration.pk: declaration_pdf_issue(declaration_id=declaration.pk) for declaration in declarations}
    files: list[tuple[str, bytes]] = []
    used: set[str] = set()
    listed = []
    for declaration in declarations:
        record = pdfs[declaration.pk]
        with record.file.open("rb") as pdf:
            name = unique_name(f"declarations/{carer_copy_name(declaration)}", used)
            files.append((name, pdf.read()))
        listed.append({"file": name, "version": declaration.version.number, "verification_code": record.code_display,
                       "sha256": record.sha256})
        if declaration.paper_scan:
            extension = declaration.paper_scan.name.rsplit(".", 1)[-1].lower()
            with declaration.paper_scan.open("rb") as scan:
                name = unique_name(f"declarations/paper-form-v{declaration.version.number}.{extension}", used)
                files.append((name, scan.read()))
            listed.append({"file": name, "version": declaration.version.number, "paper_form_scan": True})
    with transaction.atomic():
        data = carer_subject_access_export(
            carer=carer, user=user, request=request, detail={"format": "zip", "declaration_pdfs": len(pdfs)}
        )
        data.update(signing_record(carer))
        data["link_events"] = link_events(carer)
        data["files"] = listed
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", README.format(school=carer.school.name, day=f"{timezone.localdate():%-d %B %Y}"))
        archive.writestr(
            "subject-access.json", json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)
        )
        for name, content in files:
            archive.writestr(name, content)
    filename = f"carer-{carer.pk}-subject-access-{timezone.localdate():%Y-%m-%d}.zip"
    return Download(filename, "application/zip", buffer.getvalue())


def signing_record(carer: Carer) -> dict:
    """The carer's declarations (what they signed, when, from where; the statement as plain
    text, as they read it), declines, and the e-mails sent to them."""
    return {
        "declarations": [
            {
                "version": declaration.version.number,
                "version_fingerprint": declaration.version_fingerprint,
                "how": declaration.get_method_display(),
                "signed_at": declaration.signed_at.isoformat(),
                "typed_name": declaration.typed_name,
                "children_named": [child["name"] for child in declaration.children_named],
                "statement": markdown_to_text(declaration.statement).strip(),
                "ip_address": declaration.ip_address,
                "browser": declaration.user_agent,
            }
            for declaration in carer.declarations.select_related("version").order_by("signed_at")
        ],
        "declined": [
            {
                "version": decline.version.number,
                "declined_at": decline.declined_at.isoformat(),
                "message": decline.message,
            }
            for decline in carer.declines.select_related("version").order_by("declined_at")
        ],
        "emails": [
            {
                "kind": message.get_kind_display(),
                "version": message.version.number,
                "to": message.to_address,
                "status": message.get_status_display(),
                "sent_at": message.sent_at.isoformat() if message.sent_at else None,
            }
            for message in OutboxMessage.objects.filter(carer=carer).select_related("version").order_by("created_at", "pk")
        ],
    }


def link_events(carer: Carer, now: datetime.datetime | None = None) -> list[dict]:
    """When each of the carer's signing links was issued, re-issued, opened and expired, oldest
    first, from their signing requests and the e-mails that carried the links.

    Each e-mail carrying a link (an invitation, a reminder, a new link) carried a freshly issued
    one, and issuing a link stops the one before working: so the first such e-mail sent for a
    version is "issued" and each later one "re-issued". A link made but never e-mailed (a
    request whose e-mail has not gone) is "issued" when made. A signing request deleted at the
    end of its retention period leaves only its e-mails (in `emails`).
    """
    now = now or timezone.now()
    messages = list(OutboxMessage.objects.filter(carer=carer).select_related("version").order_by("created_at", "pk"))
    events = []

    def add(at, event, version, what):
        events.append({"at": at, "event": event, "version": version, "what": what})

    for signing_request in SigningRequest.objects.filter(carer=carer).select_related("version").order_by("pk"):
        number = signing_request.version.number
        add(signing_request.created_at, "asked", number, f"Asked to sign version {number} of the code")
        mine = [m for m in messages if m.version_id == signing_request.version_id and m.kind in LINK_KINDS]
        sent = sorted((m for m in mine if m.status == OutboxMessage.Status.SENT and m.sent_at), key=lambda m: m.sent_at)
        for position, message in enumerate(sent):
            if position == 0:
                add(message.sent_at, "issued", number, f"{message.get_kind_display()} e-mailed with a personal link")
            else:
                add(message.sent_at, "re-issued", number,
                    f"{message.get_kind_display()} e-mailed with a new link; the one before stopped working")
        if not sent and signing_request.issued_at:
            add(signing_request.issued_at, "issued", number, "Personal link made")
        for message in mine:
            if message.status == OutboxMessage.Status.FAILED:
                add(message.claimed_at or message.created_at, "not delivered", number,
                    f"{message.get_kind_display()} with a link could not be delivered")
        if signing_request.opened_at:
            add(signing_request.opened_at, "opened", number, "Link opened for the first time")
        if signing_request.expires_at and signing_request.expires_at <= now:
            add(signing_request.expires_at, "expired", number, "Link expired")
    events.sort(key=lambda event: event["at"])
    return [{**event, "at": event["at"].isoformat()} for event in events]
