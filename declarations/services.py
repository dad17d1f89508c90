"""Signing: one place for the rules of asking a carer to sign and recording what they sign.

The e-mailed link is the carer's only key. Looking it up never changes anything but "opened";
only an explicit submit signs. A declaration is recorded once per carer and version, in one
transaction with its audit event, against the version in force when it was submitted; any
e-mail it causes is written to the outbox in the same transaction and queued on commit.
"""

from __future__ import annotations

import datetime
import uuid

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from codes.models import CodeVersion
from codes.services import declaration_text
from codes.translations import translation_for
from declarations import selectors
from declarations.models import Declaration, Decline, SigningRequest
from declarations.signals import declaration_declined, declaration_recorded
from declarations.tokens import (
    hash_short_code,
    hash_token,
    link_token,
    short_code,
    short_code_normalised,
)
from schools.audit import audit_record
from schools.models import AuditEvent, Carer, Pupil

DEFAULT_LINK_DAYS = 60
USER_AGENT_LENGTH = 1000
TOKEN_MAX_LENGTH = 100  # ours are 43 characters; anything much longer is not one of ours

# Audit log actions for signing (schools.models.AuditEvent.action).
AUDIT_SIGN = AuditEvent.Action.SIGN
AUDIT_DECLINE = AuditEvent.Action.DECLINE
AUDIT_PAPER = AuditEvent.Action.RECORD_PAPER_DECLARATION
AUDIT_REISSUE = AuditEvent.Action.REISSUE_LINK


class SigningRefused(Exception):
    """The carer cannot do what they asked; the message says why, in plain English."""


class LinkNotFound(SigningRefused):
    """No link has this token: mistyped, tampered with, or replaced by a newer one."""


class LinkExpired(SigningRefused):
    def __init__(self, signing_request: SigningRequest):
        super().__init__("This link has expired.")
        self.signing_request = signing_request


class VersionChanged(SigningRefused):
    """A newer version came into force while the carer was reading the one shown."""

    def __init__(self, version: CodeVersion | None):
        super().__init__("The school has published a new version of its code since this page was opened.")
        self.version = version


class NothingToSign(SigningRefused):
    """The school has no version in force, or the carer is no longer asked to sign."""


# Links.


def signing_request_for(*, carer, version) -> SigningRequest:
    """The one request for this carer and version, created if needed (no link issued yet)."""
    request, _ = SigningRequest.objects.get_or_create(
        carer=carer, version=version, defaults={"school_id": carer.school_id}
    )
    return request


# What makes a link, as SigningRequest fields (saved together by whoever sets them).
LINK_FIELDS = ["token_hash", "link_number", "issued_at", "expires_at", "reissued_count", "short_hash"]


def link_next(signing_request: SigningRequest, *, now: datetime.datetime, valid_days: int) -> str:
    """Set a new link on `signing_request` (not saved) and return its token: the next number,
    its hash in place of the old one's (which stops working once saved), working for
    `valid_days` from `now`."""
    number = signing_request.link_number + 1
    token = link_token(signing_request.pk, number)
    if signing_request.issued_at:
        signing_request.reissued_count += 1
    signing_request.link_number = number
    signing_request.token_hash = hash_token(token)
    signing_request.short_hash = ""  # a printed short address of the old link opens nothing
    signing_request.issued_at = now
    signing_request.expires_at = now + datetime.timedelta(days=valid_days)
    return token


def link_resendable(signing_request: SigningRequest, now: datetime.datetime | None = None) -> str | None:
    """The token of the request's current link if it still works and can be written again, else
    None (no link yet, expired, or made with another key or before links were numbered)."""
    if not signing_request.link_number or not link_is_live(signing_request, now):
        return None
    token = link_token(signing_request.pk, signing_request.link_number)
    return token if hash_token(token) == signing_request.token_hash else None


def link_to_send(signing_request: SigningRequest, *, now: datetime.datetime, valid_days: int) -> str:
    """The link for an e-mail to the carer, set on `signing_request` (not saved), and its token.

    Their current link if it still works, so an e-mail never stops a link the carer holds from
    working (they may be signing with it) and an e-mail sent twice carries the same link; its
    expiry moves on to `valid_days` from now if that is later, as the e-mail will say. A new link
    only when there is none that works."""
    token = link_resendable(signing_request, now)
    if token is None:
        return link_next(signing_request, now=now, valid_days=valid_days)
    signing_request.expires_at = max(signing_request.expires_at, now + datetime.timedelta(days=valid_days))
    return token


@transaction.atomic
def link_issue(*, signing_request: SigningRequest, valid_days: int | None = None) -> str:
    """Make a new link for this request and return its token, which is never stored.

    Any earlier link for the request stops working at once (its hash is replaced) and is never
    made again. The link works for the school's chosen number of days (60 unless the school says
    otherwise).
    """
    locked = (
        SigningRequest.objects.select_for_update(no_key=True, of=("self",))
        .select_related("school")
        .get(pk=signing_request.pk)
    )
    if valid_days is None:
        valid_days = locked.school.link_valid_days or DEFAULT_LINK_DAYS
    token = link_next(locked, now=timezone.now(), valid_days=valid_days)
    locked.save(update_fields=LINK_FIELDS)
    signing_request.refresh_from_db()
    return token


def link_short_code(signing_request: SigningRequest) -> str:
    """The short code of the request's current link, for a printed form: its hash set on the
    request (not saved; save with LINK_FIELDS)."""
    code = short_code(signing_request.pk, signing_request.link_number)
    signing_request.short_hash = hash_short_code(code)
    return code


def short_link_check(*, code: str) -> str:
    """The token of the link a printed short code stands for. Raises LinkNotFound for an unknown
    code or one whose link has been replaced, LinkExpired for an expired one."""
    normalised = short_code_normalised(code)
    if normalised is None:
        raise LinkNotFound("This address is not recognised.")
    signing_request = (
        SigningRequest.objects.select_related("school").filter(short_hash=hash_short_code(normalised)).first()
    )
    if signing_request is None:
        raise LinkNotFound("This address is not recognised.")
    token = link_token(signing_request.pk, signing_request.link_number)
    if hash_token(token) != signing_request.token_hash:
        raise LinkNotFound("This address is not recognised.")
    if not link_is_live(signing_request):
        raise LinkExpired(signing_request)
    return token


def link_check(*, token: str) -> SigningRequest:
    """The request this link is for, changing nothing (a HEAD, or any check).

    Raises LinkNotFound for an unknown, tampered or replaced link, LinkExpired for an expired one.
    """
    if not token or len(token) > TOKEN_MAX_LENGTH:
        raise LinkNotFound("This link is not recognised.")
    signing_request = (
        SigningRequest.objects.select_related("school", "carer", "version")
        .filter(token_hash=hash_token(token))
        .first()
    )
    if signing_request is None:
        raise LinkNotFound("This link is not recognised.")
    if not link_is_live(signing_request):
        raise LinkExpired(signing_request)
    return signing_request


def link_is_live(signing_request: SigningRequest, now: datetime.datetime | None = None) -> bool:
    return signing_request.expires_at is not None and signing_request.expires_at > (now or timezone.now())


def link_opened(*, signing_request: SigningRequest) -> None:
    """Record that the link was opened, the first time only. Opening is not signing."""
    if signing_request.opened_at is None:
        now = timezone.now()
        if SigningRequest.objects.filter(pk=signing_request.pk, opened_at__isnull=True).update(opened_at=now):
            signing_request.opened_at = now


# What the carer is asked to sign.


def statement_for(*, carer: Carer, version: CodeVersion, children: list[Pupil] | None = None, name: str = "") -> str:
    """The declaration statement of `version` filled in with the carer's name and the children
    named: exactly what is shown, and exactly what is recorded."""
    if children is None:
        children = selectors.children_to_name(carer)
    return declaration_text(
        version,
        school_name=carer.school.name,
        carer=name or carer.full_name,
        children=selectors.names_in_words([child.full_name for child in children]),
    )


def signing_version_for(signing_request: SigningRequest) -> CodeVersion:
    """The version the carer holding this request is asked to sign now: the version in force at
    their school. Raises NothingToSign when there is none or the carer is no longer asked."""
    carer = signing_request.carer
    if carer.erased_at is not None or not selectors.signing_children(signing_request):
        raise NothingToSign(_("You are not currently asked to sign a code of conduct at this school."))
    version = selectors.version_to_sign(signing_request.school)
    if version is None:
        raise NothingToSign(_("This school has no code of conduct in force to sign."))
    return version


# Signing and declining.


def declaration_sign(
    *,
    signing_request: SigningRequest,
    version_id_shown: int,
    typed_name: str,
    agreed: bool,
    ip: str | None,
    user_agent: str,
    language: str = "en-gb",
) -> Declaration:
    """Record the carer's declaration of the version shown to them, and return it, with the
    language its page was shown in and the fingerprint of the version's translation into that
    language, which the page showed beside the English (none in English).

    Guarantees: refused (VersionChanged) unless the version shown is still the version in force;
    refused (LinkExpired) once the link has expired; one declaration per carer and version, so a
    second submit, or two at once, returns the first; the declaration, its audit event and the
    confirmation e-mail's outbox row are written together or not at all, and the e-mail (and the
    rendering of the declaration's PDF) is queued only once they are committed.
    """
    typed_name = " ".join((typed_name or "").split())
    if not typed_name:
        raise ValidationError({"typed_name": _("Type your full name to sign")})
    if not agreed:
        raise ValidationError({"agreed": _("Tick the box to confirm you agree")})
    with transaction.atomic():
        # Submits for one link queue up here; the second finds the first one's declaration.
        # NO KEY: a paper form recorded at the same moment only needs to see that this row
        # exists (its foreign key); blocking it here would deadlock on the unique constraint.
        locked = (
            SigningRequest.objects.select_for_update(no_key=True, of=("self",))
            .select_related("carer__school", "school", "version")
            .get(pk=signing_request.pk)
        )
        if not link_is_live(locked):
            raise LinkExpired(locked)
        version = signing_version_for(locked)
        carer = locked.carer
        existing = selectors.current_declaration(carer, version)
        if existing is not None:
            return existing
        if version.pk != version_id_shown:
            raise VersionChanged(version)
        request_for_version = locked if locked.version_id == version.pk else signing_request_for(
            carer=carer, version=version
        )
        children = selectors.signing_children(locked)
        shown = translation_for(version, language)
        try:
            with transaction.atomic():  # a savepoint: the constraint may refuse a racing second row
                declaration = Declaration.objects.create(
                    school=locked.school,
                    carer=carer,
                    version=version,
                    version_fingerprint=version.fingerprint,
                    request=request_for_version,
                    carer_name=carer.full_name,
                    children_named=[{"id": child.pk, "name": child.full_name} for child in children],
                    statement=statement_for(carer=carer, version=version, children=children),
                    typed_name=typed_name,
                    agreed=True,
                    signed_at=timezone.now(),
                    ip_address=ip or None,
                    user_agent=(user_agent or "")[:USER_AGENT_LENGTH],
                    method=Declaration.Method.ONLINE,
                    language=language,
                    translation_fingerprint=shown.fingerprint if shown else None,
                )
        except IntegrityError:
            return Declaration.objects.get(carer=carer, version=version)
        audit_record(
            actor=None,
            school=locked.school,
            action=AUDIT_SIGN,
            carer=carer,
            detail={"version": version.number, "declaration": declaration.pk, "method": "online"},
        )
        declaration_recorded.send(sender=Declaration, declaration=declaration)
    return declaration


@transaction.atomic
def declaration_decline(
    *,
    signing_request: SigningRequest,
    version_id_shown: int,
    message: str,
    ip: str | None,
    user_agent: str,
) -> Decline:
    """Record that the carer does not wish to sign the version in force, with their message for
    the school. Signing is never compulsory; a carer who has declined may still sign later.
    Declining twice keeps the first; a carer who has signed cannot decline."""
    locked = (
        SigningRequest.objects.select_for_update(no_key=True, of=("self",))
        .select_related("carer__school", "school", "version")
        .get(pk=signing_request.pk)
    )
    if not link_is_live(locked):
        raise LinkExpired(locked)
    version = signing_version_for(locked)
    carer = locked.carer
    if selectors.current_declaration(carer, version) is not None:
        raise SigningRefused("You have already signed this version of the code.")
    if version.pk != version_id_shown:
        raise VersionChanged(version)
    existing = Decline.objects.filter(carer=carer, version=version).first()
    if existing is not None:
        return existing
    decline = Decline.objects.create(
        school=locked.school,
        carer=carer,
        version=version,
        request=locked if locked.version_id == version.pk else signing_request_for(carer=carer, version=version),
        message=(message or "").strip(),
        declined_at=timezone.now(),
        ip_address=ip or None,
        user_agent=(user_agent or "")[:USER_AGENT_LENGTH],
    )
    audit_record(
        actor=None,
        school=locked.school,
        action=AUDIT_DECLINE,
        carer=carer,
        detail={"version": version.number, "decline": decline.pk},
    )
    declaration_declined.send(sender=Decline, decline=decline)
    return decline


PAPER_SCAN_TYPES = {  # what the first bytes of a file must be, and the extension we give it
    b"%PDF-": "pdf",
    b"\xff\xd8\xff": "jpg",
    b"\x89PNG\r\n\x1a\n": "png",
}
PAPER_SCAN_MAX_BYTES = 10 * 1024 * 1024


def paper_scan_kind(upload) -> str | None:
    """'pdf', 'jpg' or 'png' by the file's content (never its name or declared type), or None."""
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    for magic, extension in PAPER_SCAN_TYPES.items():
        if head.startswith(magic):
            return extension
    return None


def declaration_record_paper(
    *,
    carer: Carer,
    version: CodeVersion,
    signed_on: datetime.date,
    name_as_written: str,
    children: list[Pupil],
    scan,
    recorded_by,
    http_request=None,
) -> Declaration:
    """Record a declaration the carer signed on paper, with the scan, by a named member of staff.

    Guarantees: the date is not in the future nor before the version was published; the scan is a
    PDF, JPEG or PNG (by content) of at most 10 MB, stored under a name that says nothing about
    the family; one declaration per carer and version; the audit event names the staff member.
    """
    name_as_written = " ".join((name_as_written or "").split())
    errors = {}
    if not name_as_written:
        errors["name_as_written"] = "Enter the name as the carer wrote it on the form"
    if signed_on > timezone.localdate():
        errors["signed_on"] = "The date signed cannot be in the future"
    elif version.published_at and signed_on < timezone.localdate(version.published_at):
        errors["signed_on"] = (
            f"The date signed cannot be before this version was published "
            f"({timezone.localdate(version.published_at):%-d %B %Y})"
        )
    if not children:
        errors["children"] = "Choose the children named on the form"
    elif any(child.school_id != carer.school_id for child in children):
        errors["children"] = "Choose only children at this school"
    extension = None
    if scan is None:
        errors["scan"] = "Upload a scan or photo of the signed form"
    elif scan.size > PAPER_SCAN_MAX_BYTES:
        errors["scan"] = "The file must be 10 MB or smaller"
    else:
        extension = paper_scan_kind(scan)
        if extension is None:
            errors["scan"] = "The file must be a PDF, JPEG or PNG"
    if errors:
        raise ValidationError(errors)
    scan.name = f"{uuid.uuid4().hex}.{extension}"
    local_noon = datetime.datetime.combine(signed_on, datetime.time(12, 0))
    with transaction.atomic():
        if Declaration.objects.filter(carer=carer, version=version).exists():
            raise ValidationError("This carer has already signed this version.")
        try:
            with transaction.atomic():
                declaration = Declaration.objects.create(
                    school=carer.school,
                    carer=carer,
                    version=version,
                    version_fingerprint=version.fingerprint,
                    request=SigningRequest.objects.filter(carer=carer, version=version).first(),
                    carer_name=carer.full_name,
                    children_named=[{"id": child.pk, "name": child.full_name} for child in children],
                    statement=statement_for(carer=carer, version=version, children=children, name=name_as_written),
                    typed_name=name_as_written,
                    agreed=True,
                    signed_at=timezone.make_aware(local_noon),
                    method=Declaration.Method.PAPER,
                    recorded_by=recorded_by,
                    paper_scan=scan,
                )
        except IntegrityError:
            raise ValidationError("This carer has already signed this version.") from None
        audit_record(
            actor=recorded_by,
            school=carer.school,
            action=AUDIT_PAPER,
            carer=carer,
            detail={"version": version.number, "declaration": declaration.pk, "method": "paper"},
            request=http_request,
        )
        declaration_recorded.send(sender=Declaration, declaration=declaration)
    return declaration
