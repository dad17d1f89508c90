"""Printable paper forms, prefilled: one page per carer, for one carer or every carer of a year or
registration group an e-mail does not reach (or who has not signed), as one PDF to print.

Each page has the declaration of the version in force filled in with the carer's name and their
children, lines for a signature, the name in capitals and the date, the form's reference (staff
type it in to find the carer when the form comes back: declarations/form_reference.py), and a QR
code and the address of the carer's own signing link, for those who would rather sign online.
Each page is in the carer's home language where the portal has it (the declaration itself stays as
the school wrote it).
The link follows the e-mails' rule (evidence/link_export.py: links_issue): a link that still works
is kept, a new one made only where none works. Each print is in the school's audit log.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from codes.markup import render_markdown
from declarations.form_reference import form_reference
from declarations.selectors import OUTSTANDING, signing_target
from declarations.services import statement_for
from evidence.link_export import Who, carers_to_reach, children_in_words, links_issue
from evidence.pdf import _inline_only_fetcher, _logo_data_uri, _qr_data_uri
from evidence.services import Download
from portal.languages import shown_language
from schools import permissions
from schools.audit import audit_record
from schools.models import AuditEvent, Organisation
from sending.emails import sign_link


@dataclass(frozen=True)
class PaperForms:
    download: Download | None  # None when nobody was chosen
    carers: int
    new_links: int


def paper_forms_print(
    *,
    user,
    school: Organisation,
    who: str = Who.UNREACHED,
    year_group: str = "",
    reg_group: str = "",
    carer_id: int | None = None,
    request=None,
) -> PaperForms | None:
    """The prefilled forms as one PDF: for one carer (`carer_id`, any carer still outstanding), or
    for `who` (optionally in one year or registration group). None when no code is in force.
    Refused with PermissionDenied unless `user` may manage the school's families."""
    if not permissions.can_manage_families(user, school):
        raise PermissionDenied("Only the school's headteacher and office staff may print paper forms.")
    target = signing_target(school)
    if target is None:
        return None
    version = target.in_force
    carers = carers_to_reach(school, target, Who.OUTSTANDING if carer_id else who)
    if carer_id:
        carers = carers.filter(pk=carer_id, standing__in=OUTSTANDING)
    if year_group:
        carers = carers.filter(children__on_roll=True, children__year_group=year_group).distinct()
    if reg_group:
        carers = carers.filter(children__on_roll=True, children__reg_group=reg_group).distinct()
    with transaction.atomic():
        issued = links_issue(carers, school=school, version=version, short=True)
        if not issued:
            return PaperForms(None, 0, 0)
        audit_record(
            actor=user,
            school=school,
            action=AuditEvent.Action.PRINT_PAPER_FORMS,
            carer=issued[0].carer if carer_id else None,
            detail={
                "who": "one carer" if carer_id else str(who),
                "year": year_group,
                "reg": reg_group,
                "carers": len(issued),
                "new links": sum(link.new for link in issued),
                "version": version.number,
            },
            request=request,
        )
    pages = []
    for link in issued:
        carer, url = link.carer, sign_link(link.token)
        pages.append(
            {
                "carer": carer,
                "language": shown_language(carer.language),
                "children": children_in_words(carer),
                "statement_html": render_markdown(statement_for(carer=carer, version=version)),
                "reference": form_reference(carer),
                "link": url,
                "short": settings.PORTAL_BASE_URL + reverse("signing:short_link", args=[link.short_code]),
                "qr": _qr_data_uri(url),
                "expires": timezone.localtime(link.expires_at),
            }
        )
    pdf = _render(school=school, version=version, pages=pages)
    name = f"{school.slug}-paper-forms-{timezone.localdate():%Y-%m-%d}.pdf"
    return PaperForms(Download(name, "application/pdf", pdf), len(issued), sum(link.new for link in issued))


def _render(*, school, version, pages) -> bytes:
    from weasyprint import HTML  # loads Pango and fonts: only when a PDF is made

    html = render_to_string(
        "pdf/paper_forms.html", {"school": school, "version": version, "pages": pages, "logo": _logo_data_uri(school)}
    )
    return HTML(string=html, url_fetcher=_inline_only_fetcher()).write_pdf()
