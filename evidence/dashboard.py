"""Completion at a glance: how many carers have signed, declined or are still outstanding, for a
school (overall, by year group, by registration group and over time) and for each member school
of an association.

Counts only, never a carer's name: association admins see these figures for their members'
schools but never their families. Who is asked and where each carer stands are the rules of the
status page (declarations.selectors), counted by the database: each page takes the same number of
queries however many carers or member schools there are.

Where each carer stands is decided from three sets of carer ids (with a declaration that counts,
whose latest such declaration is a paper one, with a decline that counts), each a subquery that
does not depend on the carer counted, so the database works each set out once per query rather
than once per carer.
"""

from __future__ import annotations

import datetime
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.db.models import Case, CharField, Count, Exists, Min, OuterRef, Q, Value, When
from django.db.models.functions import TruncDate
from django.utils import timezone

from codes.models import Code, CodeVersion
from declarations.models import Declaration, Decline
from declarations.selectors import Standing, signing_baseline, up_to_date_lookups
from schools.models import Carer, Organisation, Pupil, PupilCarer

YEAR_GROUP_LABELS = dict(Pupil.YearGroup.choices)
YEAR_GROUP_ORDER = {value: index for index, value in enumerate(YEAR_GROUP_LABELS)}
NO_REG_GROUP = "No registration group"


def percent(part: int, whole: int) -> int | None:
    """`part` as a whole-number percentage of `whole` (halves round up); None when whole is 0."""
    return (200 * part + whole) // (2 * whole) if whole else None


@dataclass(frozen=True)
class Figures:
    """Carers asked to sign, and where they stand. Outstanding includes those with no e-mail
    address, who need a paper form."""

    asked: int = 0
    signed_online: int = 0
    signed_paper: int = 0
    declined: int = 0
    outstanding: int = 0
    no_email: int = 0

    @classmethod
    def from_states(cls, counts: Counter) -> Figures:
        """From how many carers are in each state of declarations.selectors.carer_state."""
        no_email = counts[Standing.NO_EMAIL]
        return cls(
            asked=sum(counts.values()),
            signed_online=counts[Declaration.Method.ONLINE],
            signed_paper=counts[Declaration.Method.PAPER],
            declined=counts["declined"],
            outstanding=counts["outstanding"] + no_email,
            no_email=no_email,
        )

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            *(getattr(self, name) + getattr(other, name) for name in self.__dataclass_fields__)
        )

    @property
    def signed(self) -> int:
        return self.signed_online + self.signed_paper

    @property
    def signed_percent(self) -> int | None:
        return percent(self.signed, self.asked)

    @property
    def declined_percent(self) -> int | None:
        return percent(self.declined, self.asked)

    @property
    def outstanding_percent(self) -> int | None:
        return percent(self.outstanding, self.asked)


@dataclass(frozen=True)
class Group:
    """A year group or registration group: the carers of its pupils on roll."""

    key: str
    label: str
    figures: Figures


@dataclass(frozen=True)
class Timeline:
    """Carers who have signed, day by day, from the day the signing baseline was published to today.

    Each carer counts once, on the day of their first declaration that counts, so the last
    running total is the number signed.
    """

    start: datetime.date
    end: datetime.date
    days: list[tuple[datetime.date, int, int]]  # (day, signed that day, running total), signing days only
    asked: int

    @property
    def total(self) -> int:
        return self.days[-1][2] if self.days else 0

    @property
    def busiest(self) -> tuple[datetime.date, int, int] | None:
        """The (first) day the most carers signed."""
        return max(self.days, key=lambda day: day[1], default=None)


@dataclass
class SchoolCompletion:
    school: Organisation
    baseline: CodeVersion  # the signing baseline: signing it, or any later version, counts
    in_force: CodeVersion  # the same, or a later correction that did not need signing again
    figures: Figures
    by_year_group: list[Group] = field(default_factory=list)
    by_reg_group: list[Group] = field(default_factory=list)
    timeline: Timeline | None = None


@dataclass(frozen=True)
class SigningTarget:
    """What a school's carers are asked to sign now."""

    baseline: CodeVersion  # the signing baseline: the latest version in force that required signing
    in_force: CodeVersion
    shared: bool  # the association's code, not the school's own


@dataclass
class SchoolRow:
    school: Organisation
    target: SigningTarget | None
    figures: Figures


@dataclass
class AssociationCompletion:
    association: Organisation
    rows: list[SchoolRow]

    @property
    def total(self) -> Figures:
        return sum((row.figures for row in self.rows if row.target), Figures())

    @property
    def schools_counted(self) -> int:
        return sum(1 for row in self.rows if row.target)


# One school.


def school_completion(
    school: Organisation, in_force: CodeVersion, *, today: datetime.date | None = None
) -> SchoolCompletion:
    """The school's figures for the version in force (declarations.selectors.version_to_sign):
    overall, by year group (N, R, 1 to 13), by registration group, and day by day since the
    signing baseline was published. Carers whose only children have left are not asked, so not
    counted; a carer with children in two groups counts once in each.

    Four queries, whatever the number of carers: the carers asked to sign counted by where they
    stand, the same counted by their children's year groups and by their registration groups, and
    how many first signed on each day, for the chart.
    """
    baseline = signing_baseline(in_force.code, in_force)
    sets = answered_sets(Q(school=school, **up_to_date_lookups(baseline.code_id, baseline.number)))
    asked = carers_with_responsibility([school])
    overall = asked.annotate(state=counted_state([(Q(), sets)])).values("state").annotate(n=Count("pk")).order_by()
    # Each link between a carer asked to sign and a child on roll at the school (a carer's
    # children are at the carer's school), with where the carer stands.
    links = PupilCarer.objects.filter(
        parental_responsibility=True,
        pupil__school=school,
        pupil__on_roll=True,
        carer__in=asked,
    ).annotate(state=counted_state([(Q(), sets)], carer="carer", email="carer__email"))
    figures = Figures.from_states(Counter({row["state"]: row["n"] for row in overall}))
    return SchoolCompletion(
        school=school,
        baseline=baseline,
        in_force=in_force,
        figures=figures,
        by_year_group=sorted(
            _groups(links, "pupil__year_group", lambda key: YEAR_GROUP_LABELS.get(key, key)),
            key=lambda group: (YEAR_GROUP_ORDER.get(group.key, len(YEAR_GROUP_ORDER)), group.key),
        ),
        by_reg_group=sorted(
            _groups(links, "pupil__reg_group", lambda key: key or NO_REG_GROUP),
            key=lambda group: (group.key == "", _natural(group.key)),
        ),
        timeline=_timeline(school, asked, figures.asked, baseline, today=today),
    )


def _groups(links, group: str, label) -> list[Group]:
    """Each group's carers (counted once however many of their children are in it) by where they
    stand; `group` names the pupil's field the links are grouped by."""
    counts: dict[str, Counter] = defaultdict(Counter)
    rows = links.values(group, "state").annotate(n=Count("carer", distinct=True)).order_by()
    for row in rows:
        counts[row[group]][row["state"]] = row["n"]
    return [Group(key, label(key), Figures.from_states(states)) for key, states in counts.items()]


def _natural(text: str) -> list:
    """'2A' before '10A': runs of digits compare as numbers."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def _timeline(school, asked, asked_count: int, baseline: CodeVersion, *, today: datetime.date | None) -> Timeline:
    """How many of the carers asked first made a declaration that counts on each day, in the
    school's time zone. The earliest local day of a carer's declarations is the local day of
    their earliest, so the database returns dates and nothing is converted row by row."""
    first_signed = (
        Declaration.objects.filter(
            school=school, carer__in=asked, **up_to_date_lookups(baseline.code_id, baseline.number)
        )
        .values("carer_id")
        .annotate(day=Min(TruncDate("signed_at")))
        .values_list("day", flat=True)
        .order_by()
    )
    per_day = Counter(first_signed)
    days, running = [], 0
    for day in sorted(per_day):
        running += per_day[day]
        days.append((day, per_day[day], running))
    start = timezone.localdate(baseline.published_at) if baseline.published_at else baseline.effective_from
    end = today or timezone.localdate()
    if days:
        start, end = min(start, days[0][0]), max(end, days[-1][0])
    return Timeline(start=start, end=max(start, end), days=days, asked=asked_count)


# Where each carer stands, set by set.


@dataclass(frozen=True)
class AnsweredSets:
    """Carer ids, as subqueries that do not refer to the carer being counted, so the database works
    each out once per query (and looks carers up in it) rather than once per carer."""

    signed: object  # with a declaration that counts
    paper: object  # whose latest declaration that counts was recorded from a paper form
    declined: object  # with a decline that counts


def answered_sets(counting: Q, *, later_versions: bool = True) -> AnsweredSets:
    """The sets, from the declarations and declines that `counting` (a filter on either) picks out:
    those that count for the carers looked up in the sets, i.e. of any version of their school's
    code from its signing baseline on (declarations.selectors.up_to_date_lookups). A declaration's
    or decline's school is its carer's: carers belong to one school.

    `later_versions=False` when the code has no version after those counted (one version counts
    and it is the code's latest, draft or not): then a carer's paper declaration that counts is
    their latest, and the paper set need not look for a later one, declaration by declaration.
    """
    declarations = Declaration.objects.filter(counting)
    paper = declarations.filter(method=Declaration.Method.PAPER)
    if later_versions:
        # Any later version of the same code counts as well.
        later = Declaration.objects.filter(
            carer=OuterRef("carer"),
            version__code_id=OuterRef("version__code_id"),
            version__number__gt=OuterRef("version__number"),
        )
        paper = paper.exclude(Exists(later))
    return AnsweredSets(
        signed=declarations.values("carer_id"),
        paper=paper.values("carer_id"),
        declined=Decline.objects.filter(counting).values("carer_id"),
    )


def counted_state(groups: list[tuple[Q, AnsweredSets]], *, carer: str = "pk", email: str = "email") -> Case:
    """Where a carer stands, as one SQL expression: the rule of declarations.selectors.carer_state
    ("online" or "paper": how they signed their latest declaration that counts; "declined"; else
    Standing.NO_EMAIL or "outstanding"). `groups` pairs which carers (a condition on the model
    queried) with the sets that count for them. `carer` and `email` name the carer and their
    e-mail address on that model ("carer" and "carer__email" from PupilCarer).
    tests/evidence/test_dashboard.py holds the figures to the status page's."""
    answered = []
    for who, sets in groups:
        answered += [
            When(who, **{f"{carer}__in": sets.paper}, then=Value(Declaration.Method.PAPER)),
            When(who, **{f"{carer}__in": sets.signed}, then=Value(Declaration.Method.ONLINE)),
            When(who, **{f"{carer}__in": sets.declined}, then=Value("declined")),
        ]
    return Case(
        *answered,
        When(**{email: ""}, then=Value(Standing.NO_EMAIL)),
        default=Value("outstanding"),
        output_field=CharField(),
    )


# An association's member schools.


def signing_targets(schools: list[Organisation], on: datetime.date | None = None) -> dict[int, SigningTarget | None]:
    """For each school (by id), what its carers are asked to sign now, in two queries however
    many schools: the many-schools form of declarations.selectors.version_to_sign and
    signing_baseline (tests/evidence/test_dashboard.py holds them to the same answers).

    A school uses its own code if it has one, otherwise its association's (codes.services.
    code_for_school); the version in force is the latest published one whose effective date has
    come (rule 1); the version to sign is the latest of those up to it that required signing.
    """
    return _signing_targets(schools, on)[0]


def _signing_targets(schools, on) -> tuple[dict[int, SigningTarget | None], list[CodeVersion]]:
    """signing_targets, and every version of the codes concerned (whatever their status), which
    association_completion needs as well: one query for both."""
    on = on or timezone.localdate()
    owners = {school.pk for school in schools} | {school.association_id for school in schools if school.association_id}
    code_of = dict(Code.objects.filter(owner_id__in=owners).values_list("owner_id", "pk"))
    all_versions = list(
        CodeVersion.objects.filter(code_id__in=code_of.values())
        .only(
            "pk", "code_id", "number", "status", "title", "document_version", "effective_from", "requires_signing",
            "published_at",
        )
        .order_by("-effective_from", "-number")
    )
    published: dict[int, list[CodeVersion]] = defaultdict(list)
    for version in all_versions:
        if version.status == CodeVersion.Status.PUBLISHED and version.effective_from and version.effective_from <= on:
            published[version.code_id].append(version)
    targets = {}
    for school in schools:
        code_id = code_of.get(school.pk) or code_of.get(school.association_id)
        in_force = published[code_id][0] if published.get(code_id) else None
        if in_force is None:
            targets[school.pk] = None
            continue
        baseline = max(
            (v for v in published[code_id] if v.requires_signing and v.number <= in_force.number),
            key=lambda v: v.number,
            default=in_force,
        )
        targets[school.pk] = SigningTarget(baseline=baseline, in_force=in_force, shared=school.pk not in code_of)
    return targets, all_versions


def association_completion(association: Organisation, *, on: datetime.date | None = None) -> AssociationCompletion:
    """Each member school's figures for its own version to sign (members may use the
    association's code or their own), in a fixed number of queries (four), whatever the number
    of schools or carers."""
    schools = list(association.members.filter(kind=Organisation.Kind.SCHOOL).order_by("name"))
    targets, all_versions = _signing_targets(schools, on)
    counted = {school_id: target for school_id, target in targets.items() if target is not None}
    counts: dict[int, Counter] = defaultdict(Counter)
    if counted:
        # Each carer is counted against their own school's version to sign: what counts is a
        # version of its code from its baseline on. Schools that share one (usually all of them:
        # the association's code) share one set of answers, read by version id, so that the
        # database reads only those versions' declarations (by index).
        schools_with = defaultdict(list)
        for school_id, target in counted.items():
            schools_with[(target.baseline.code_id, target.baseline.number)].append(school_id)
        groups = []
        for (code_id, baseline_number), school_ids in schools_with.items():
            # Every version of the code from the baseline on, whatever its status: when that is
            # one version, the code has no later one for a paper declaration to be overtaken by.
            version_ids = [v.pk for v in all_versions if v.code_id == code_id and v.number >= baseline_number]
            # With one set of answers for every school counted (usually), the carers counted are
            # exactly those it is for: no need to ask each carer's school three times over.
            who = Q(school_id__in=school_ids) if len(schools_with) > 1 else Q()
            groups.append((who, answered_sets(Q(version_id__in=version_ids), later_versions=len(version_ids) > 1)))
        carers = Carer.objects.filter(school__in=list(counted)).asked_to_sign().annotate(state=counted_state(groups))
        for row in carers.values("school_id", "state").annotate(n=Count("pk")).order_by():
            counts[row["school_id"]][row["state"]] += row["n"]
    return AssociationCompletion(
        association=association,
        rows=[SchoolRow(school, targets[school.pk], Figures.from_states(counts[school.pk])) for school in schools],
    )
