"""Reads about signing: what a carer is asked to sign, and where every carer of a school stands.

"Up to date" follows rule 2 of the product: a carer is up to date when they have signed the
latest version that required signing, or any version after it. A version published as a typo
fix (not requiring signing) therefore never makes a carer outstanding again.
"""

from __future__ import annotations

import datetime
import functools
from collections import Counter
from dataclasses import dataclass

from django.db import models
from django.db.models import (
    Case,
    CharField,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from codes.models import Code, CodeVersion
from codes.services import codes_for_schools, published_versions, version_in_force
from declarations.models import Declaration, Decline, SigningRequest
from schools.models import Carer, Organisation, Pupil, PupilCarer
from schools.selectors import pupils_on_roll


@dataclass(frozen=True)
class SigningTarget:
    """What a school's carers are asked to sign on a day: the one selector for it.

    `in_force` is the version in force (rule 1): what a carer reads and signs. `required` is the
    latest version up to it that required signing (rule 2): a carer who has signed it, or any
    later version, is up to date. After a minor correction they differ, so the correction asks
    nobody to sign again."""

    in_force: CodeVersion
    required: CodeVersion

    def counts(self) -> dict:
        """Lookups for the declarations, declines and requests that count now: any version of
        the code from `required` on (up_to_date_lookups)."""
        return up_to_date_lookups(self.required.code_id, self.required.number)

    def numbers_counted(self) -> dict[int, int]:
        """The versions counts() counts, by id, with their numbers."""
        lookups = {lookup.removeprefix("version__"): value for lookup, value in self.counts().items()}
        return dict(CodeVersion.objects.filter(**lookups).values_list("pk", "number"))

    @classmethod
    def for_version(cls, in_force: CodeVersion) -> SigningTarget:
        """The target when `in_force` is the version in force."""
        return cls(in_force, signing_baseline(in_force.code, in_force))


def signing_targets(schools, on: datetime.date | None = None) -> dict[int, SigningTarget | None]:
    """What each school's carers (by school id) are asked to sign on `on` (today), or None where
    no code is in force: the one selector. Schools sharing a code (an association's) share the
    answer, so it takes a few queries per code, not per school."""
    codes = codes_for_schools(schools)
    by_code = {}
    for code in {code.pk: code for code in codes.values() if code is not None}.values():
        in_force = version_in_force(code, on)
        by_code[code.pk] = SigningTarget.for_version(in_force) if in_force else None
    return {school_id: by_code[code.pk] if code else None for school_id, code in codes.items()}


def signing_target(school: Organisation, on: datetime.date | None = None) -> SigningTarget | None:
    """signing_targets for one school."""
    return signing_targets([school], on)[school.pk]


def version_to_sign(school: Organisation, on: datetime.date | None = None) -> CodeVersion | None:
    """The version in force at the school (signing_target's `in_force`)."""
    target = signing_target(school, on)
    return target.in_force if target else None


def version_required(school: Organisation, on: datetime.date | None = None) -> CodeVersion | None:
    """The version a carer must have signed, or signed after, to be up to date (signing_target's `required`)."""
    target = signing_target(school, on)
    return target.required if target else None


def revisions_since(signed: CodeVersion, version: CodeVersion) -> list[CodeVersion]:
    """The published versions after `signed` up to `version`, oldest first, that have a revision
    note: what changed since the carer last signed, in the school's own words."""
    return list(
        published_versions(version.code)
        .filter(number__gt=signed.number, number__lte=version.number)
        .exclude(revision_note="")
        .order_by("number")
    )


def signing_baseline(code: Code, in_force: CodeVersion) -> CodeVersion:
    """The latest version up to `in_force` that required signing (rule 2): signing it, or any
    later version, makes a carer up to date."""
    if in_force.requires_signing:
        return in_force
    return (
        published_versions(code)
        .filter(requires_signing=True, number__lte=in_force.number)
        .order_by("-number")
        .first()
    ) or in_force


def up_to_date_lookups(code_id, baseline_number) -> dict:
    """Lookups for the declarations (and declines and requests) that count for a school now:
    any version of its code from the signing baseline on (rule 2). The arguments may be values
    or expressions (OuterRef) when many schools are counted in one query."""
    return {"version__code_id": code_id, "version__number__gte": baseline_number}


def children_to_name(carer: Carer) -> list[Pupil]:
    """The carer's children named in their declaration: on roll at the carer's school, with a
    parental responsibility link to the carer."""
    return children_to_name_for([carer])[carer.pk]


def children_to_name_for(carers) -> dict[int, list[Pupil]]:
    """children_to_name for many carers (a chunk of e-mails), in one query, by carer id."""
    named = {carer.pk: [] for carer in carers}
    links = (
        PupilCarer.objects.filter(
            carer_id__in=list(named),
            parental_responsibility=True,
            pupil__on_roll=True,
            pupil__school_id=F("carer__school_id"),
        )
        .select_related("pupil")
        .order_by("pupil__forename", "pupil__surname", "pupil_id")
    )
    for link in links:  # one link per pupil and carer (one_link_per_pupil_and_carer)
        named[link.carer_id].append(link.pupil)
    return named


def signing_children(signing_request: SigningRequest) -> list[Pupil]:
    """children_to_name for the carer holding this signing request, looked up once per request
    object: the signing page needs them to decide there is something to sign, for the statement
    and to show them."""
    if not hasattr(signing_request, "_children_to_name"):
        signing_request._children_to_name = children_to_name(signing_request.carer)
    return signing_request._children_to_name


def names_in_words(names: list[str]) -> str:
    """'Amy Smith', 'Amy Smith and Ben Smith', 'Amy Smith, Ben Smith and Cara Smith'."""
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def current_declaration(carer: Carer, in_force: CodeVersion) -> Declaration | None:
    """The declaration that makes the carer up to date with the version in force, if any."""
    baseline = signing_baseline(in_force.code, in_force)
    return (
        Declaration.objects.filter(
            carer=carer, version__code_id=in_force.code_id, version__number__gte=baseline.number
        )
        .select_related("version", "school")
        .order_by("-version__number")
        .first()
    )


def outstanding_request(carer: Carer, in_force: CodeVersion) -> SigningRequest | None:
    """The carer's latest request to sign a version from the signing baseline on, if the school
    has asked them."""
    baseline = signing_baseline(in_force.code, in_force)
    return (
        SigningRequest.objects.filter(
            carer=carer, version__code_id=in_force.code_id, version__number__gte=baseline.number
        )
        .order_by("-version__number")
        .first()
    )


def current_decline(carer: Carer, in_force: CodeVersion) -> Decline | None:
    """The carer's decline that counts for the version in force (from its signing baseline on,
    as for declarations): a minor correction does not ask them again either."""
    baseline = signing_baseline(in_force.code, in_force)
    return (
        Decline.objects.filter(carer=carer, **up_to_date_lookups(in_force.code_id, baseline.number))
        .order_by("-version__number")
        .first()
    )


def latest_declarations(carer: Carer, in_force: CodeVersion) -> tuple[Declaration | None, Declaration | None]:
    """current_declaration and previous_declaration for the version in force, in one query: the
    carer's latest declaration of this code is the current one if it counts (from the signing
    baseline on), and otherwise the previous one (the baseline is never after the version in
    force). What the signing page needs on every request."""
    latest = (
        Declaration.objects.filter(carer=carer, version__code_id=in_force.code_id, version__number__lte=in_force.number)
        .select_related("version", "school")
        .order_by("-version__number")
        .first()
    )
    if latest is None:
        return None, None
    if latest.version.number >= signing_baseline(in_force.code, in_force).number:
        return latest, None
    return None, latest


def previous_declaration(carer: Carer, version: CodeVersion) -> Declaration | None:
    """The carer's latest declaration of an earlier version of the same code: what they last
    agreed to, to show them what changed since."""
    return (
        Declaration.objects.filter(carer=carer, version__code_id=version.code_id, version__number__lt=version.number)
        .select_related("version")
        .order_by("-version__number")
        .first()
    )


def carers_asked_to_sign(school: Organisation):
    """Every carer the school asks to sign, online or on paper (CarerQuerySet.asked_to_sign)."""
    return Carer.objects.filter(school=school).asked_to_sign()


# The school's status page.


class Standing(models.TextChoices):
    """Where a carer stands with what their school asks them to sign: signed (and how), declined,
    or outstanding and why. The one definition is with_standing, below."""

    ONLINE = "online", "Signed online"
    PAPER = "paper", "Signed on paper"
    DECLINED = "declined", "Declined"
    NO_EMAIL = "no-email", "No e-mail address: needs a paper form"
    BOUNCED = "bounced", "E-mail bounced: needs another way"
    NOT_SENT = "not-sent", "Not sent yet"
    FAILED = "failed", "E-mail could not be sent"
    SENT = "sent", "Sent, not opened"
    OPENED = "opened", "Opened, not signed"
    EXPIRED = "expired", "Link expired"


SIGNED = [Standing.ONLINE, Standing.PAPER]
OUTSTANDING = [
    Standing.NO_EMAIL,
    Standing.BOUNCED,
    Standing.NOT_SENT,
    Standing.FAILED,
    Standing.SENT,
    Standing.OPENED,
    Standing.EXPIRED,
]
# Outstanding carers an e-mail does not reach: the paper-form and personal-link lists.
UNREACHED = [Standing.NO_EMAIL, Standing.BOUNCED]


def with_standing(carers, target: SigningTarget, *, schools=None, now: datetime.datetime | None = None):
    """`carers` annotated with `standing` (a Standing value) for what their school asks them to
    sign: signed (the method of their latest declaration that counts, rule 2), declined, or
    outstanding: no e-mail address, not sent yet, the e-mail failed, sent, opened, or the link
    expired (from their latest signing request that counts). Every page, export, figure and
    reminder that asks where a carer stands asks this.

    `schools`, when the caller knows them, limits the carers to those schools and reads only
    their declarations and declines, rather than those of every school sharing the code."""
    counts = target.counts()
    # Signed, declined: sets of carers, each read once for the whole query however many carers
    # are counted (an association's 40,000 as cheaply as one school's), never carer by carer.
    answers = Declaration.objects.filter(**counts)
    declines = Decline.objects.filter(**counts)
    if schools is not None:
        carers = carers.filter(school__in=schools)
        answers, declines = answers.filter(school__in=schools), declines.filter(school__in=schools)
    answered_later = Declaration.objects.filter(
        carer=OuterRef("carer"), version__code_id=OuterRef("version__code_id"), version__number__gt=OuterRef("version__number")
    )
    # How a carer signed is the method of their latest declaration that counts.
    latest_on_paper = answers.filter(method=Declaration.Method.PAPER).exclude(Exists(answered_later))
    # Where the carer's latest request that counts has got to, worked out on that one row: only
    # for those still outstanding.
    # The versions that count are read once, with their numbers, so that looking up each
    # outstanding carer's latest request needs no join to the versions (on an association's
    # 40,000 carers, a ninth of the count; bench/profiles/dashboards.md).
    numbers = target.numbers_counted()
    latest_version_first = Case(
        *(When(version_id=pk, then=Value(number)) for pk, number in numbers.items()), output_field=IntegerField()
    ).desc()
    asked = (
        SigningRequest.objects.filter(carer=OuterRef("pk"), version_id__in=list(numbers))
        # A carer has one request per version at most: with one version counted, no order needed.
        .order_by(*([latest_version_first] if len(numbers) > 1 else []))
        .annotate(
            reached=Case(
                When(sent_at__isnull=True, delivery_failed_at__isnull=False, then=Value(Standing.FAILED)),
                When(sent_at__isnull=True, then=Value(Standing.NOT_SENT)),
                When(expires_at__lte=now or timezone.now(), then=Value(Standing.EXPIRED)),
                When(opened_at__isnull=False, then=Value(Standing.OPENED)),
                default=Value(Standing.SENT),
                output_field=CharField(),
            )
        )
        .values("reached")[:1]
    )
    return carers.annotate(
        standing=Case(
            When(pk__in=latest_on_paper.values("carer_id"), then=Value(Standing.PAPER)),
            When(pk__in=answers.values("carer_id"), then=Value(Standing.ONLINE)),
            When(pk__in=declines.values("carer_id"), then=Value(Standing.DECLINED)),
            When(email="", then=Value(Standing.NO_EMAIL)),
            When(email_bounced=F("email"), then=Value(Standing.BOUNCED)),
            default=Coalesce(Subquery(asked), Value(Standing.NOT_SENT)),
            output_field=CharField(),
        )
    )


@dataclass
class CarerStatus:
    carer: Carer
    children: list[Pupil]
    state: str  # "signed", "declined" or "outstanding"
    declaration: Declaration | None = None
    decline: Decline | None = None
    request: SigningRequest | None = None
    reason: str = ""

    @property
    def reason_label(self) -> str:
        return Standing(self.reason).label if self.reason else ""


@dataclass
class SchoolStatus:
    version: CodeVersion
    rows: list[CarerStatus]

    @functools.cached_property
    def _counts(self) -> Counter:
        counts = Counter(row.state for row in self.rows)
        counts.update(row.reason for row in self.rows if row.reason)
        counts.update(row.declaration.method for row in self.rows if row.declaration is not None)
        return counts

    @property
    def total(self) -> int:
        return len(self.rows)

    @property
    def signed(self) -> int:
        return self._counts["signed"]

    @property
    def signed_online(self) -> int:
        return self._counts[Declaration.Method.ONLINE]

    @property
    def signed_paper(self) -> int:
        return self._counts[Declaration.Method.PAPER]

    @property
    def declined(self) -> int:
        return self._counts["declined"]

    @property
    def outstanding(self) -> int:
        return self._counts["outstanding"]

    @property
    def outstanding_reasons(self) -> list[tuple[str, int]]:
        """(reason in words, how many), for the reasons that apply to anyone."""
        return [(label, self._counts[key]) for key, label in Standing.choices if key in OUTSTANDING and self._counts[key]]


def carers_standing(school: Organisation, target: SigningTarget, *, year_group: str = "", reg_group: str = ""):
    """Every carer the school asks to sign, with their `standing` (with_standing), optionally only
    carers with parental responsibility for a pupil on roll in one year group and/or
    registration group."""
    carers = with_standing(carers_asked_to_sign(school), target, schools=[school])
    if year_group or reg_group:
        pupils = pupils_on_roll(school)
        if year_group:
            pupils = pupils.filter(year_group=year_group)
        if reg_group:
            pupils = pupils.filter(reg_group=reg_group)
        carers = carers.filter(
            Exists(PupilCarer.objects.filter(carer=OuterRef("pk"), parental_responsibility=True, pupil__in=pupils))
        )
    return carers


def school_status(
    school: Organisation, version: CodeVersion, *, year_group: str = "", reg_group: str = ""
) -> SchoolStatus:
    """Where every carer asked to sign stands for the version in force, optionally only carers of
    pupils in one year group and/or registration group. A fixed number of queries, whatever the
    number of carers."""
    baseline = signing_baseline(version.code, version)
    later_versions = up_to_date_lookups(version.code_id, baseline.number)
    carers = carers_standing(school, SigningTarget(version, baseline), year_group=year_group, reg_group=reg_group)
    carers = carers.order_by("surname", "forename", "pk").prefetch_related(
        Prefetch(
            "pupil_links",
            queryset=PupilCarer.objects.filter(parental_responsibility=True, pupil__on_roll=True)
            .select_related("pupil")
            .order_by("pupil__forename", "pupil__surname"),
            to_attr="responsible_links",
        ),
        Prefetch(
            "declarations",
            queryset=Declaration.objects.filter(**later_versions)
            .select_related("version", "recorded_by")
            .order_by("-version__number"),
            to_attr="current_declarations",
        ),
        Prefetch(
            "declines",
            queryset=Decline.objects.filter(**later_versions).order_by("-version__number"),
            to_attr="current_declines",
        ),
        Prefetch(
            "signing_requests",
            queryset=SigningRequest.objects.filter(**later_versions).order_by("-version__number"),
            to_attr="current_requests",
        ),
    )
    now = timezone.now()
    return SchoolStatus(version=version, rows=[_carer_status(carer, now) for carer in carers])


def _carer_status(carer: Carer, now: datetime.datetime) -> CarerStatus:
    children = [link.pupil for link in carer.responsible_links]
    request = carer.current_requests[0] if carer.current_requests else None
    if carer.standing in SIGNED:
        return CarerStatus(carer, children, "signed", declaration=carer.current_declarations[0], request=request)
    if carer.standing == Standing.DECLINED:
        return CarerStatus(carer, children, "declined", decline=carer.current_declines[0], request=request)
    return CarerStatus(carer, children, "outstanding", request=request, reason=carer.standing)
