"""Completion at a glance: how many carers have signed, declined or are still outstanding, for a
school (overall, by year group, by registration group and over time) and for each member school
of an association.

Counts only, never a carer's name: association admins see these figures for their members'
schools but never their families. Who is asked and where each carer stands are the rules of the
status page's (Carer.objects.asked_to_sign and declarations.selectors.with_standing), counted
here and by declarations.figures: each page takes the same number of queries however many carers
there are, and a few per code however many member schools.
"""

from __future__ import annotations

import datetime
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.db.models import Min
from django.db.models.functions import TruncDate
from django.utils import timezone

from codes.models import CodeVersion
from declarations.figures import Figures, standings_by_school
from declarations.models import Declaration
from declarations.selectors import SigningTarget, with_standing
from schools.models import Carer, Organisation, Pupil, PupilCarer

YEAR_GROUP_LABELS = dict(Pupil.YearGroup.choices)
YEAR_GROUP_ORDER = {value: index for index, value in enumerate(YEAR_GROUP_LABELS)}
NO_REG_GROUP = "No registration group"


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


@dataclass
class SchoolRow:
    school: Organisation
    target: SigningTarget | None
    figures: Figures

    @property
    def shared_code(self) -> bool:
        """The school signs its association's code, not its own."""
        return self.target is not None and self.target.in_force.code.owner_id != self.school.pk


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
    school: Organisation, target: SigningTarget, *, today: datetime.date | None = None
) -> SchoolCompletion:
    """The school's figures for what it asks carers to sign (declarations.selectors.signing_target):
    overall, by year group (N, R, 1 to 13), by registration group, and day by day since the
    signing baseline was published. Carers whose only children have left are not asked, so not
    counted; a carer with children in two groups counts once in each.

    Three queries, whatever the number of carers: where each carer asked stands, their links to
    children on roll (for the groups), and how many first signed on each day (for the chart).
    """
    asked = Carer.objects.filter(school=school).asked_to_sign()
    standing_of = dict(with_standing(asked, target, schools=[school]).values_list("pk", "standing").order_by())
    figures = Figures.from_standings(Counter(standing_of.values()))
    # Each carer counted above is in the groups of the children on roll they are responsible
    # for, once per group however many of their children are in it.
    links = (
        PupilCarer.objects.filter(parental_responsibility=True, pupil__school=school, pupil__on_roll=True)
        .values_list("carer_id", "pupil__year_group", "pupil__reg_group")
        .order_by()
    )
    in_year, in_reg = set(), set()
    for carer_id, year_group, reg_group in links:
        if carer_id in standing_of:
            in_year.add((year_group, carer_id))
            in_reg.add((reg_group, carer_id))
    return SchoolCompletion(
        school=school,
        baseline=target.required,
        in_force=target.in_force,
        figures=figures,
        by_year_group=sorted(
            _groups(in_year, standing_of, lambda key: YEAR_GROUP_LABELS.get(key, key)),
            key=lambda group: (YEAR_GROUP_ORDER.get(group.key, len(YEAR_GROUP_ORDER)), group.key),
        ),
        by_reg_group=sorted(
            _groups(in_reg, standing_of, lambda key: key or NO_REG_GROUP),
            key=lambda group: (group.key == "", _natural(group.key)),
        ),
        timeline=_timeline(school, standing_of, figures.asked, target, today=today),
    )


def _groups(members: set[tuple[str, int]], standing_of: dict[int, str], label) -> list[Group]:
    """Each group's carers, (group, carer) pairs, counted by where they stand."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for key, carer_id in members:
        counts[key][standing_of[carer_id]] += 1
    return [Group(key, label(key), Figures.from_standings(standings)) for key, standings in counts.items()]


def _natural(text: str) -> list:
    """'2A' before '10A': runs of digits compare as numbers."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def _timeline(school, standing_of: dict[int, str], asked_count: int, target: SigningTarget, *, today) -> Timeline:
    """How many of the carers asked (`standing_of`'s) first made a declaration that counts on
    each day, in the school's time zone. The earliest local day of a carer's declarations is
    the local day of their earliest, so the database returns dates and nothing is converted row
    by row; it reads them from the counting index alone, and the carers not asked are left out
    here."""
    first_signed = (
        Declaration.objects.filter(school=school, **target.counts())
        .values("carer_id")
        .annotate(day=Min(TruncDate("signed_at")))
        .values_list("carer_id", "day")
        .order_by()
    )
    per_day = Counter(day for carer_id, day in first_signed if carer_id in standing_of)
    days, running = [], 0
    for day in sorted(per_day):
        running += per_day[day]
        days.append((day, per_day[day], running))
    baseline = target.required
    start = timezone.localdate(baseline.published_at) if baseline.published_at else baseline.effective_from
    end = today or timezone.localdate()
    if days:
        start, end = min(start, days[0][0]), max(end, days[-1][0])
    return Timeline(start=start, end=max(start, end), days=days, asked=asked_count)


# An association's member schools.


def association_completion(association: Organisation, *, on: datetime.date | None = None) -> AssociationCompletion:
    """Each member school's figures for what its own carers are asked to sign (members may use
    the association's code or their own): one count per distinct signing target, so usually one
    for the whole association, however many schools or carers."""
    schools = list(association.members.filter(kind=Organisation.Kind.SCHOOL).order_by("name"))
    by_school = standings_by_school(schools, on)
    return AssociationCompletion(
        association=association,
        rows=[SchoolRow(school, by_school[school.pk].target, by_school[school.pk].figures) for school in schools],
    )
