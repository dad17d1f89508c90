"""Personal links for the school's messaging app: the carers an e-mail does not reach (no address,
or it bounced) or everyone still outstanding, each with their children, mobile number and own
signing link, as CSV to load into ParentMail, Arbor, Schoolcomms or the like.

A link is the carer's current one if it still works, so a carer already holding a link keeps it
working; otherwise a new one is made, which replaces an expired or unrecoverable one (the rules of
declarations.services.link_to_send, the same as every e-mail's). The links live only in the file:
the portal keeps their hashes, as for e-mailed links. Each export is in the school's audit log.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.db.models import Prefetch
from django.utils import timezone

from declarations.models import SigningRequest
from declarations.selectors import (
    OUTSTANDING,
    UNREACHED,
    Standing,
    carers_asked_to_sign,
    signing_target,
    with_standing,
)
from declarations.services import (
    DEFAULT_LINK_DAYS,
    LINK_FIELDS,
    link_short_code,
    link_to_send,
    signing_request_for,
)
from evidence.exports import neutralise
from evidence.services import Download
from schools import permissions
from schools.audit import audit_record
from schools.models import AuditEvent, Organisation, Pupil
from sending.emails import sign_link

COLUMNS = ["Carer", "Children", "Mobile", "E-mail", "Why", "Personal link", "Link works until"]


class Who(models.TextChoices):
    UNREACHED = "unreached", "Carers an e-mail does not reach (no address, or it bounced)"
    OUTSTANDING = "outstanding", "Everyone who has not signed or declined"


@dataclass(frozen=True)
class LinkExport:
    download: Download
    carers: int
    new_links: int  # carers given a new link (they had none that still worked)


@dataclass(frozen=True)
class IssuedLink:
    carer: object
    token: str
    expires_at: object
    new: bool  # a new link: the carer had none that still worked
    short_code: str = ""  # with `short`: the link's short code, for a printed form


def carers_to_reach(school: Organisation, target, who: str = Who.UNREACHED):
    """The carers `who` names, with where they stand (with_standing) and their children on roll
    (`children_on_roll`), by surname."""
    standings = UNREACHED if who == Who.UNREACHED else OUTSTANDING
    return (
        with_standing(carers_asked_to_sign(school), target)
        .filter(standing__in=standings)
        .prefetch_related(
            Prefetch(
                "children",
                queryset=Pupil.objects.filter(on_roll=True).order_by("surname", "forename"),
                to_attr="children_on_roll",
            )
        )
        .order_by("surname", "forename", "pk")
    )


def links_issue(carers, *, school: Organisation, version, short: bool = False) -> list[IssuedLink]:
    """Each carer's link to sign `version`, by the e-mails' rule (declarations.services.
    link_to_send): their current link if it still works, else a new one, which replaces an
    expired or unrecoverable one. Run inside the caller's transaction."""
    now = timezone.now()
    valid_days = school.link_valid_days or DEFAULT_LINK_DAYS
    issued = []
    for carer in carers:
        signing_request = signing_request_for(carer=carer, version=version)
        locked = SigningRequest.objects.select_for_update(no_key=True, of=("self",)).get(pk=signing_request.pk)
        number = locked.link_number
        token = link_to_send(locked, now=now, valid_days=valid_days)
        code = link_short_code(locked) if short else ""
        locked.save(update_fields=LINK_FIELDS)
        issued.append(IssuedLink(carer, token, locked.expires_at, locked.link_number != number, code))
    return issued


def children_in_words(carer) -> str:
    return "; ".join(
        f"{pupil.forename} {pupil.surname}" + (f" ({pupil.reg_group})" if pupil.reg_group else "")
        for pupil in carer.children_on_roll
    )


def personal_links_export(*, user, school: Organisation, who: str = Who.UNREACHED, request=None) -> LinkExport | None:
    """The CSV of personal links for `who` at the school, or None when no code is in force.
    Refused with PermissionDenied unless `user` may manage the school's families."""
    if not permissions.can_manage_families(user, school):
        raise PermissionDenied("Only the school's headteacher and office staff may export personal links.")
    target = signing_target(school)
    if target is None:
        return None
    version = target.in_force
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    with transaction.atomic():
        issued = links_issue(carers_to_reach(school, target, who), school=school, version=version)
        for link in issued:
            carer = link.carer
            row = [
                carer.full_name,
                children_in_words(carer),
                carer.mobile,
                carer.email,
                Standing(carer.standing).label,
                sign_link(link.token),
                timezone.localtime(link.expires_at).strftime("%d/%m/%Y"),
            ]
            writer.writerow([neutralise(value) for value in row])
        count, new_links = len(issued), sum(link.new for link in issued)
        audit_record(
            actor=user,
            school=school,
            action=AuditEvent.Action.EXPORT_LINKS,
            detail={"who": str(who), "carers": count, "new links": new_links, "version": version.number},
            request=request,
        )
    now = timezone.now()
    filename = f"{school.slug}-personal-links-{timezone.localdate(now):%Y-%m-%d}.csv"
    download = Download(filename, "text/csv; charset=utf-8", ("\ufeff" + buffer.getvalue()).encode("utf-8"))
    return LinkExport(download, count, new_links)
