"""New signing links by e-mail: re-issued by staff, or asked for by a carer.

Issuing the link itself (a new token, its hash stored, the old one dead) is signing's rule
(declarations.services.link_issue); this module decides who gets one and queues the e-mail.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from declarations import selectors
from declarations.models import SigningRequest
from declarations.services import link_issue, signing_request_for
from schools import permissions
from schools.audit import audit_record
from schools.models import AuditEvent, Carer
from schools.selectors import carer_is_eligible
from sending.models import OutboxMessage
from sending.outbox import message_queue, next_sequence


class NoCodeInForce(ValidationError):
    """The school has no version in force, so there is nothing to send a link for."""


@transaction.atomic
def link_send_new(*, signing_request: SigningRequest) -> OutboxMessage:
    """Replace the carer's link (the old one stops working at once) and queue an e-mail with a
    new one. Refused (ValidationError) when the school has no e-mail address for the carer."""
    signing_request = (
        SigningRequest.objects.select_for_update(no_key=True, of=("self",))
        .select_related("carer", "school", "version")
        .get(pk=signing_request.pk)
    )
    carer = signing_request.carer
    if not carer.email:
        raise ValidationError("The school has no e-mail address for this carer: record a paper form instead.")
    link_issue(signing_request=signing_request)
    kind = OutboxMessage.Kind.NEW_LINK
    sequence = next_sequence(carer=carer, version_id=signing_request.version_id, kind=kind)
    return message_queue(carer=carer, version_id=signing_request.version_id, kind=kind, sequence=sequence)


@transaction.atomic
def link_reissue(*, user, carer: Carer, http_request=None) -> OutboxMessage:
    """Staff re-issue a carer's link to sign the version in force: the old link stops working,
    a new one is e-mailed, and the member of staff is recorded in the audit log.

    Refused with PermissionDenied unless `user` may manage the carer's school's families;
    NoCodeInForce when there is nothing to sign; ValidationError without an e-mail address."""
    school = carer.school
    if not permissions.can_manage_families(user, school):
        raise PermissionDenied
    version = selectors.version_to_sign(school)
    if version is None:
        raise NoCodeInForce("Your school has no code of conduct in force to sign.")
    signing_request = selectors.outstanding_request(carer, version) or signing_request_for(carer=carer, version=version)
    message = link_send_new(signing_request=signing_request)
    audit_record(
        actor=user,
        school=school,
        action=AuditEvent.Action.REISSUE_LINK,
        carer=carer,
        detail={"version": signing_request.version.number, "request": signing_request.pk},
        request=http_request,
    )
    return message


def new_link_request(*, email: str) -> int:
    """A carer asked for a new link by e-mail address. For each carer with that address whom
    their school has asked to sign, and who is not yet up to date, replace the link and queue an
    e-mail with the new one. Returns how many were queued; callers never tell the asker."""
    email = (email or "").strip()
    if not email:
        return 0
    queued = 0
    for carer in Carer.objects.filter(email__iexact=email, erased_at__isnull=True).select_related("school"):
        if not carer_is_eligible(carer):
            continue
        version = selectors.version_to_sign(carer.school)
        if version is None or selectors.current_declaration(carer, version) is not None:
            continue
        outstanding = selectors.outstanding_request(carer, version)
        if outstanding is None:
            continue  # the school has not asked them yet: not ours to start
        link_send_new(signing_request=outstanding)
        queued += 1
    return queued
