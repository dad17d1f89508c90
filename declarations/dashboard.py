"""Completion at a glance: how many carers have signed, declined or are still outstanding, for a
school (overall, by year group, by registration group and over time) and for each member school
of an association.

Counts only, never a carer's name: association admins see these figures for their members'
schools but never their families. Who is asked and where each carer stands are the rules of the
status page (declarations.selectors: carers_asked_to_sign, up_to_date_lookups, carer_state),
counted in the database, so each page takes the same number of queries however many carers or
member schools there are.
"""

from __future__ import annotations

import datetime
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.db.models import Case, Count, IntegerField, OuterRef, Subquery, Value, When
from django.db.models.functions import TruncDate
from django.utils import timezone

from codes.models import Code, CodeVersion
from declarations.models import Declaration
from declarations.selectors import (
    Reason,
    carer_state,
    carers_asked_to_sign,
    signing_baseline,
    up_to_date_lookups,
)
from schools.models import Organisation, Pupil, PupilCarer
from schools.selectors import carers_with_responsibility

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
        no_email = counts[Reason.NO_EMAIL]
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
    """Carers who have signed, day by day, from the day the version was published to today.

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
    version: CodeVersion  # the version to sign: signing it, or any later version, counts
    in_force: CodeVersion  # the same, or a later correction that did not need signing again
    figures: Figures
    by_year_group: list[Group] = field(default_factory=list)
    by_reg_group: list[Group] = field(default_factory=list)
    timeline: Timeline | None = None


@dataclass(frozen=True)
class SigningTarget:
    """What a school's carers are asked to sign now."""

    version: CodeVersion  # the latest version in force that required signing
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


def school_completion(school: Organisation, version: CodeVersion, *, today: datetime.date | None = None) -> SchoolCompletion:
    """The school's figures for `version` (declarations.selectors.version_to_sign): overall, by
    year group (N, R, 1 to 13), by registration group, and day by day since the version to sign
    was published. Carers whose only children have left are not asked, so not counted.

    A fixed number of queries (five), whatever the number of carers.
    """
    baseline = signing_baseline(version.code, version)
    carers = carers_asked_to_sign(school)
    state = carer_state(code_id=baseline.code_id, baseline_number=baseline.number)
    overall = Counter(
        {row["state"]: row["n"] for row in carers.annotate(state=state).values("state").annotate(n=Count("pk"))}
    )
    links = PupilCarer.objects.filter(
        parental_responsibility=True, pupil__on_roll=True, pupil__school=school, carer__in=carers
    ).annotate(
        state=carer_state(
            code_id=baseline.code_id, baseline_number=baseline.number, carer="carer_id", email="carer__email"
        )
    )
    return SchoolCompletion(
        school=school,
        version=baseline,
        in_force=version,
        figures=Figures.from_states(overall),
        by_year_group=sorted(
            _groups(links, "pupil__year_group", lambda key: YEAR_GROUP_LABELS.get(key, key)),
            key=lambda group: (YEAR_GROUP_ORDER.get(group.key, len(YEAR_GROUP_ORDER)), group.key),
        ),
        by_reg_group=sorted(
            _groups(links, "pupil__reg_group", lambda key: key or NO_REG_GROUP),
            key=lambda group: (group.key == "", _natural(group.key)),
        ),
        timeline=_timeline(carers, baseline, asked=sum(overall.values()), today=today),
    )


def _groups(links, group_field: str, label) -> list[Group]:
    """One query: carers in each state per group. A carer with children in two groups counts in
    both; two children in one group, once."""
    counts: dict[str, Counter] = defaultdict(Counter)
    rows = links.values(group_field, "state").annotate(n=Count("carer", distinct=True)).order_by()
    for row in rows:
        counts[row[group_field]][row["state"]] += row["n"]
    return [Group(key, label(key), Figures.from_states(states)) for key, states in counts.items()]


def _natural(text: str) -> list:
    """'2A' before '10A': runs of digits compare as numbers."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def _timeline(carers, baseline: CodeVersion, *, asked: int, today: datetime.date | None) -> Timeline:
    """One query: how many carers first signed on each day (in the school's time zone)."""
    first_signed = Subquery(
        Declaration.objects.filter(carer=OuterRef("pk"), **up_to_date_lookups(baseline.code_id, baseline.number))
        .order_by("signed_at")
        .values("signed_at")[:1]
    )
    per_day = (
        carers.annotate(first_signed=first_signed)
        .filter(first_signed__isnull=False)
        .annotate(day=TruncDate("first_signed"))
        .values("day")
        .annotate(n=Count("pk"))
        .order_by("day")
    )
    days, running = [], 0
    for row in per_day:
        running += row["n"]
        days.append((row["day"], row["n"], running))
    start = timezone.localdate(baseline.published_at) if baseline.published_at else baseline.effective_from
    end = today or timezone.localdate()
    if days:
        start, end = min(start, days[0][0]), max(end, days[-1][0])
    return Timeline(start=start, end=max(start, end), days=days, asked=asked)


# An association's member schools.


def signing_targets(schools: list[Organisation], on: datetime.date | None = None) -> dict[int, SigningTarget | None]:
    """For each school (by id), what its carers are asked to sign now, in two queries however
    many schools: the many-schools form of declarations.selectors.version_to_sign and
    signing_baseline (tests/declarations/test_dashboard.py holds them to the same answers).

    A school uses its own code if it has one, otherwise its association's (codes.services.
    code_for_school); the version in force is the latest published one whose effective date has
    come (rule 1); the version to sign is the latest of those up to it that required signing.
    """
    on = on or timezone.localdate()
    owners = {school.pk for school in schools} | {school.association_id for school in schools if school.association_id}
    code_of = dict(Code.objects.filter(owner_id__in=owners).values_list("owner_id", "pk"))
    published: dict[int, list[CodeVersion]] = defaultdict(list)
    versions = (
        CodeVersion.objects.filter(
            code_id__in=code_of.values(), status=CodeVersion.Status.PUBLISHED, effective_from__lte=on
        )
        .only("pk", "code_id", "number", "title", "document_version", "effective_from", "requires_signing", "published_at")
        .order_by("-effective_from", "-number")
    )
    for version in versions:
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
        targets[school.pk] = SigningTarget(version=baseline, in_force=in_force, shared=school.pk not in code_of)
    return targets


def association_completion(association: Organisation, *, on: datetime.date | None = None) -> AssociationCompletion:
    """Each member school's figures for its own version to sign (members may use the
    association's code or their own), in a fixed number of queries (four), whatever the number
    of schools or carers."""
    schools = list(association.members.filter(kind=Organisation.Kind.SCHOOL).order_by("name"))
    targets = signing_targets(schools, on)
    counted = {school_id: target for school_id, target in targets.items() if target is not None}
    counts: dict[int, Counter] = defaultdict(Counter)
    if counted:
        # Each carer is counted against their own school's version: its code and baseline.
        def per_school(value_of):
            schools_with = defaultdict(list)
            for school_id, target in counted.items():
                schools_with[value_of(target)].append(school_id)
            return Case(
                *(When(school_id__in=ids, then=Value(value)) for value, ids in schools_with.items()),
                output_field=IntegerField(),
            )

        carers = (
            carers_with_responsibility(list(counted))
            .annotate(
                target_code=per_school(lambda target: target.version.code_id),
                target_baseline=per_school(lambda target: target.version.number),
            )
            .annotate(state=carer_state(code_id=OuterRef("target_code"), baseline_number=OuterRef("target_baseline")))
        )
        for row in carers.values("school_id", "state").annotate(n=Count("pk")).order_by():
            counts[row["school_id"]][row["state"]] += row["n"]
    return AssociationCompletion(
        association=association,
        rows=[SchoolRow(school, targets[school.pk], Figures.from_states(counts[school.pk])) for school in schools],
    )
