"""Reads of codes and versions for the public and staff pages."""

from dataclasses import dataclass

from django.db.models import Count, Q
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext_noop

from codes.models import Code, CodeReview, CodeVersion
from codes.services import (
    code_for_school,
    code_review_due,
    current_draft,
    published_versions,
    schools_using_code,
    version_in_force,
    version_state,
)
from schools.models import Carer, Organisation


def organisation_code(organisation: Organisation) -> Code | None:
    """The code an organisation publishes: an association's own, a school's own or adopted one."""
    if organisation.is_school:
        return code_for_school(organisation)
    return Code.objects.filter(owner=organisation).first()


def public_version(code: Code, number: int) -> CodeVersion:
    """A published version anyone may read; drafts are never public."""
    return get_object_or_404(code.versions.select_related("code__owner"), number=number, status="published")


# A version's state as the public pages show it (`{% translate state|capfirst %}`).
VERSION_STATES = (gettext_noop("In force"), gettext_noop("Superseded"), gettext_noop("Scheduled"), gettext_noop("Draft"))


def version_history(code: Code, *, include_drafts=False):
    """Versions newest first, each with its state ('in force', 'superseded', 'scheduled', 'draft')."""
    today = timezone.localdate()
    in_force = version_in_force(code, today)
    versions = code.versions.all() if include_drafts else published_versions(code)
    return [(v, version_state(v, in_force, today)) for v in versions.order_by("-number")]


@dataclass(frozen=True)
class Reach:
    """Who publishing a version that requires signing asks: carers asked to sign (the one rule,
    Carer.objects.asked_to_sign) at the schools using the code, by e-mail or on paper."""

    schools: int
    by_email: int
    on_paper: int


def publish_reach(code: Code) -> Reach:
    carers = Carer.objects.asked_to_sign().filter(school__in=schools_using_code(code))
    counts = carers.aggregate(
        by_email=Count("pk", filter=~Q(email="")), on_paper=Count("pk", filter=Q(email="")),
    )
    return Reach(schools=schools_using_code(code).count(), **counts)


def has_document_control(version: CodeVersion) -> bool:
    """Whether the code keeps a document control table (Alsop High's does)."""
    return bool(version.author_name or version.document_version or version.approved_by)


def document_history(version: CodeVersion) -> list[CodeVersion]:
    """The document control table's "Document History": every published version of the code up
    to this one (and this one, if it is a draft being previewed), oldest first. Built from the
    portal's own versions, so publishing version 2 adds its row."""
    earlier = published_versions(version.code).filter(number__lt=version.number)
    return sorted([*earlier, version], key=lambda v: v.number)


def organisations_for_directory(query: str = ""):
    organisations = Organisation.objects.select_related("association")
    if query:
        organisations = organisations.filter(Q(name__icontains=query) | Q(association__name__icontains=query))
    return organisations


def code_overview(code: Code):
    """What a headteacher needs to see about their code: in force, next, draft, review due."""
    today = timezone.localdate()
    in_force = version_in_force(code, today)
    scheduled = published_versions(code).filter(effective_from__gt=today).last()
    latest = scheduled or in_force
    # The version's own review date, or the one a "no change needed" review of it set.
    review_due = code_review_due(code, today) if latest else None
    if review_due is None:
        review = None
    elif review_due < today:
        review = "overdue"
    elif (review_due - today).days <= 30:
        review = "soon"
    else:
        review = None
    return {
        "code": code,
        "in_force": in_force,
        "scheduled": scheduled,
        "draft": current_draft(code),
        "review_due": review_due,
        "review": review,
        "under_review": latest,
        "reviews": list(CodeReview.objects.filter(code=code).select_related("reviewed_by", "version")[:5]),
        # An association's code that no school uses (no members, or all have their own) is
        # signed nowhere: its pages say so.
        "signed_nowhere": not schools_using_code(code).exists(),
    }
