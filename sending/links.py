"""Links by e-mail: re-issued by staff, or asked for by a carer.

Making a link (a numbered token, its hash stored) is signing's rule (declarations.services);
this module decides who gets an e-mail and queues it. Which link the e-mail carries is chosen
when it is sent (sending/claims.py links_for): the carer's current link if it still works,
else a new one. So a carer who asks again gets the link they may already be signing with, which
keeps working; only staff re-issuing a link (say, one that went astray) stops the old one.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.tasks import task

from declarations import selectors
from declarations.models import SigningRequest
from declarations.services import link_issue, signing_request_for
from schools import permissions
from schools.audit import audit_record
from schools.models import AuditEvent, Carer
from schools.selectors import carer_is_eligible
from sending.models import OutboxMessage
from sending.outbox import message_queue, next_sequence

Kind = OutboxMessage.Kind


class NoCodeInForce(ValidationError):
    """The school has no version in force, so there is nothing to send a link for."""


@transaction.atomic
def link_send_new(*, signing_request: SigningRequest) -> OutboxMessage:
    """Replace the carer's link (the old one stops working at once) and queue an e-mail with the
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
    sequence = next_sequence(carer=carer, version_id=signing_request.version_id, kind=Kind.NEW_LINK)
    return message_queue(carer=carer, version_id=signing_request.version_id, kind=Kind.NEW_LINK, sequence=sequence)


@transaction.atomic
def link_send_again(*, signing_request: SigningRequest) -> OutboxMessage:
    """Queue an e-mail with the carer's link, replacing nothing: the link they hold if it still
    works, else a new one. An e-mail already waiting to go is enough: none is added."""
    carer, version_id = signing_request.carer, signing_request.version_id
    waiting = OutboxMessage.objects.filter(
        carer=carer, version_id=version_id, kind=Kind.NEW_LINK, status=OutboxMessage.Status.PENDING
    ).first()
    if waiting is not None:
        return waiting
    sequence = next_sequence(carer=carer, version_id=version_id, kind=Kind.NEW_LINK)
    return message_queue(carer=carer, version_id=version_id, kind=Kind.NEW_LINK, sequence=sequence)


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
    """A carer asked for their link by e-mail address. For each carer with that address whom
    their school has asked to sign, and who is not yet up to date, queue an e-mail with their
    link (link_send_again: a link they hold keeps working). Returns how many were queued; it runs
    in the background (send_new_links), so the page never tells the asker anything."""
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
        link_send_again(signing_request=outstanding)
        queued += 1
    return queued


@task()
def send_new_links(email: str) -> int:
    """The "send me a new link" page's work, off the page: whether the address is known or not,
    the page does the same (queues this) and answers in the same time."""
    return new_link_request(email=email)
