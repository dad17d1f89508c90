"""Reads of codes and versions for the public and staff pages."""

from django.db.models import Exists, OuterRef, Q
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext_noop

from codes.models import Code, CodeReview, CodeVersion
from codes.services import (
    code_for_school,
    code_review_due,
    current_draft,
    published_versions,
    version_in_force,
    version_state,
)
from schools.models import Organisation


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


def schools_using_code(code: Code):
    """The schools whose carers sign this code: its own school, or the association's member
    schools that have no code of their own (code_for_school's rule, for many schools at once)."""
    schools = Organisation.objects.filter(kind=Organisation.Kind.SCHOOL)
    if code.owner.is_school:
        return schools.filter(pk=code.owner_id)
    return schools.filter(association_id=code.owner_id).exclude(Exists(Code.objects.filter(owner=OuterRef("pk"))))


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
    }
