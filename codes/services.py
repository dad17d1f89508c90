"""The version lifecycle of a code of conduct: one place for its rules.

draft → published → superseded. A draft is edited freely by the code's owner; publishing
freezes it for ever and fingerprints it. "In force" and "superseded" are derived from the
published versions' effective dates, so publishing never rewrites an earlier version.
"""

import datetime
import hashlib
import json
import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, Max, OuterRef
from django.utils import timezone

from codes.markup import fill_placeholders
from codes.models import Code, CodeReview, CodeVersion
from codes.signals import version_published
from schools import permissions
from schools.models import Organisation

logger = logging.getLogger(__name__)


# The fields that make up what a parent reads and signs. Changing any of them changes the
# fingerprint; nothing else (who published it, when the row was created) does.
CONTENT_FIELDS = (
    "title",
    "body",
    "declaration_statement",
    "covering_letter",
    "author_name",
    "author_job_title",
    "document_version",
    "approved_by",
    "approved_on",
    "links_to",
    "revision_note",
    "effective_from",
    "review_due",
    "requires_signing",
)
EDITABLE_FIELDS = CONTENT_FIELDS[:11]

DEFAULT_DECLARATION = (
    "I {carer}, parent/carer of {children}, declare that I have received, read and understand "
    "the terms and conditions of this code of conduct.\n\n"
    "I understand my obligations under this code of conduct and agree to comply fully with them "
    "whilst my child is a pupil at {school}."
)


def _with_unix_line_endings(content: dict) -> dict:
    """Text as a browser posts it (CRLF) or as pasted from elsewhere (CR), saved with "\\n" only:
    the comparison, the Markdown and the e-mails' plain text all read paragraphs by "\\n\\n"."""
    return {
        field: value.replace("\r\n", "\n").replace("\r", "\n") if isinstance(value, str) else value
        for field, value in content.items()
    }


def add_one_year(day: datetime.date) -> datetime.date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


def version_fingerprint(version: CodeVersion) -> str:
    """SHA-256 of the version's content (number, text, dates), as canonical JSON."""
    content = {"number": version.number}
    for field in CONTENT_FIELDS:
        value = getattr(version, field)
        content[field] = value.isoformat() if isinstance(value, datetime.date) else value
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def codes_for_schools(schools) -> dict[int, Code | None]:
    """The code each school (by id) uses: its own if it has one, otherwise its association's.
    One query however many schools."""
    owners = {school.pk for school in schools} | {school.association_id for school in schools if school.association_id}
    codes = {code.owner_id: code for code in Code.objects.filter(owner_id__in=owners)}
    return {school.pk: codes.get(school.pk) or codes.get(school.association_id) for school in schools}


def code_for_school(school) -> Code | None:
    """The code a school uses (codes_for_schools)."""
    return codes_for_schools([school])[school.pk]


def schools_using_code(code: Code):
    """The schools whose carers sign this code: the same rule as codes_for_schools, asked the
    other way round. Its own school's, or the association's member schools that have no code of
    their own."""
    schools = Organisation.objects.filter(kind=Organisation.Kind.SCHOOL)
    if code.owner.is_school:
        return schools.filter(pk=code.owner_id)
    return schools.filter(association_id=code.owner_id).exclude(Exists(Code.objects.filter(owner=OuterRef("pk"))))


def published_versions(code: Code):
    return code.versions.filter(status=CodeVersion.Status.PUBLISHED).order_by("-effective_from", "-number")


def version_in_force(code: Code, on: datetime.date | None = None) -> CodeVersion | None:
    """The latest published version whose effective date has come (rule 1 of the product)."""
    on = on or timezone.localdate()
    return published_versions(code).filter(effective_from__lte=on).first()


def version_state(version: CodeVersion, in_force: CodeVersion | None, on: datetime.date | None = None) -> str:
    """'draft', 'scheduled', 'in force' or 'superseded', for showing to people."""
    on = on or timezone.localdate()
    if version.is_draft:
        return "draft"
    if version.effective_from > on:
        return "scheduled"
    if in_force is not None and in_force.pk == version.pk:
        return "in force"
    return "superseded"


def current_draft(code: Code) -> CodeVersion | None:
    return code.versions.filter(status=CodeVersion.Status.DRAFT).first()


def _next_number(code: Code) -> int:
    return (code.versions.aggregate(n=Max("number"))["n"] or 0) + 1


def _check_may_manage(user, code: Code):
    if user is not None and not permissions.can_manage_code(user, code):
        raise PermissionDenied("You can only change your own organisation's code.")


@transaction.atomic
def version_create_first(*, code: Code, user=None, **content) -> CodeVersion:
    """Create the first draft of a code that has no versions yet (used when setting a code up)."""
    _check_may_manage(user, code)
    Code.objects.select_for_update().get(pk=code.pk)
    if code.versions.exists():
        raise ValidationError("This code already has versions; start a new draft from the one in force.")
    unknown = set(content) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"Not version content: {', '.join(sorted(unknown))}")
    content.setdefault("declaration_statement", DEFAULT_DECLARATION)
    content.setdefault("title", code.title)
    return CodeVersion.objects.create(code=code, number=1, created_by=user, **_with_unix_line_endings(content))


@transaction.atomic
def draft_start(*, code: Code, user) -> CodeVersion:
    """Start the next draft as a copy of the version in force (or the latest published one).

    Guarantees one draft per code: if a draft already exists it is returned unchanged.
    """
    _check_may_manage(user, code)
    Code.objects.select_for_update().get(pk=code.pk)
    existing = current_draft(code)
    if existing is not None:
        return existing
    source = version_in_force(code) or published_versions(code).first()
    if source is None:
        raise ValidationError("This code has no published version to start from.")
    content = {field: getattr(source, field) for field in EDITABLE_FIELDS}
    content["revision_note"] = ""
    return CodeVersion.objects.create(
        code=code, number=_next_number(code), based_on=source, created_by=user, **content
    )


@transaction.atomic
def draft_update(*, version: CodeVersion, user, **content) -> CodeVersion:
    """Change a draft's content. Published versions are refused."""
    _check_may_manage(user, version.code)
    version = CodeVersion.objects.select_for_update().get(pk=version.pk)
    if not version.is_draft:
        raise ValidationError("A published version can never change; start a new draft instead.")
    unknown = set(content) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"Not version content: {', '.join(sorted(unknown))}")
    for field, value in _with_unix_line_endings(content).items():
        setattr(version, field, value)
    version.full_clean(exclude=["code", "based_on", "created_by", "published_by"])
    version.save()
    return version


@transaction.atomic
def draft_discard(*, version: CodeVersion, user) -> None:
    _check_may_manage(user, version.code)
    version = CodeVersion.objects.select_for_update().get(pk=version.pk)
    if not version.is_draft:
        raise ValidationError("Only a draft can be discarded.")
    version.delete()


@transaction.atomic
def version_publish(
    *,
    version: CodeVersion,
    user,
    effective_from: datetime.date,
    review_due: datetime.date | None = None,
    requires_signing: bool = True,
) -> CodeVersion:
    """Publish a draft: freeze its text, fingerprint it, and schedule it to come into force.

    Guarantees: the version can never change again (model and database both refuse);
    its effective date is not earlier than any version already published for the code, so
    "in force" is never ambiguous; the review date defaults to a year after the effective date.
    The first version of a code always requires signing. Once a version that requires signing has
    committed, a background task asks every carer at every school using the code to sign it from
    its effective date (sending/scheduler.py); the publish itself writes nothing for carers.
    """
    _check_may_manage(user, version.code)
    Code.objects.select_for_update().get(pk=version.code_id)
    version = CodeVersion.objects.select_for_update().get(pk=version.pk)
    if not version.is_draft:
        raise ValidationError("This version is already published.")
    review_due = review_due or add_one_year(effective_from)
    errors = {}
    latest = published_versions(version.code).first()
    if latest is not None and effective_from < latest.effective_from:
        errors["effective_from"] = (
            f"The effective date cannot be before {latest.effective_from:%-d %B %Y}, "
            f"when version {latest.number} came into force."
        )
    if review_due <= effective_from:
        errors["review_due"] = "The review date must be after the effective date."
    if not version.body.strip():
        errors["body"] = "The code has no text."
    if not version.declaration_statement.strip():
        errors["declaration_statement"] = "Parents need a declaration statement to sign."
    if errors:
        raise ValidationError(errors)
    version.effective_from = effective_from
    version.review_due = review_due
    version.requires_signing = requires_signing or latest is None
    version.status = CodeVersion.Status.PUBLISHED
    version.published_at = timezone.now()
    version.published_by = user
    version.fingerprint = version_fingerprint(version)
    version.save()
    # Receivers ask carers to sign again when the version requires it (sending/receivers.py);
    # they run inside this transaction, so what they write commits or rolls back with the publish.
    version_published.send(sender=CodeVersion, version=version)
    return version


def declaration_text(version: CodeVersion, *, school_name: str, carer: str = "", children: str = "") -> str:
    """The declaration statement (Markdown) with its placeholders filled in, each value escaped
    so that it shows as exactly the characters given (codes.markup.fill_placeholders).

    Left blank, the carer and children show as bracketed prompts, as on a paper form.
    """
    values = {"carer": carer or "[your full name]", "children": children or "[your child's name]", "school": school_name}
    return fill_placeholders(version.declaration_statement, values)


# The annual review.


def version_under_review(code: Code, on: datetime.date | None = None) -> CodeVersion | None:
    """The version whose review date counts: the next one coming into force, or the one in force."""
    on = on or timezone.localdate()
    scheduled = published_versions(code).filter(effective_from__gt=on).last()
    return scheduled or version_in_force(code, on)


def code_review_due(code: Code, on: datetime.date | None = None) -> datetime.date | None:
    """When the code is next due for review: the review date of the version under review, or,
    once a review of that version found no change needed, the date that review set."""
    version = version_under_review(code, on)
    if version is None:
        return None
    review = CodeReview.objects.filter(version=version).order_by("-recorded_at", "-pk").first()
    return review.next_review_due if review is not None else version.review_due


@transaction.atomic
def code_review_record(
    *, code: Code, user, note: str = "", review_due_answered: datetime.date | None = None
) -> CodeReview:
    """Record that the annual review found no change needed.

    Guarantees: only the code's headteacher (or association admin) may; no version changes (the
    frozen text stays as it is) and nobody is asked to sign again; the next review falls due a
    year after the date this review answers, or a year from today if that date has passed. Given
    `review_due_answered` (the date the page showed), refused if the review date has changed since
    (a review recorded twice, or a version published in between), so a double submit moves it once.
    """
    if user is None or not permissions.can_manage_code(user, code):
        raise PermissionDenied("You can only review your own organisation's code.")
    Code.objects.select_for_update().get(pk=code.pk)
    today = timezone.localdate()
    version = version_under_review(code, today)
    if version is None:
        raise ValidationError("This code has no published version to review.")
    current = code_review_due(code, today)
    if review_due_answered is not None and review_due_answered != current:
        raise ValidationError(
            f"The review date is now {current:%-d %B %Y}: someone has recorded a review or published a "
            "version since this page was opened. Nothing was changed."
        )
    return CodeReview.objects.create(
        code=code,
        version=version,
        reviewed_on=today,
        reviewed_by=user,
        note=(note or "").strip(),
        previous_review_due=current,
        next_review_due=add_one_year(max(current, today)),
    )
