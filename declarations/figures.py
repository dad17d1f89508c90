"""How many carers stand where, school by school: the counts behind the dashboards and the
weekly completion e-mail. Counts only, never a carer's name.

Who is asked and where each carer stands are with_standing's (declarations.selectors), counted
here in one query per signing target: usually one for a whole association however many schools
or carers.
"""

from __future__ import annotations

import datetime
from collections import Counter, defaultdict
from dataclasses import dataclass

from django.db.models import Count

from declarations.selectors import (
    OUTSTANDING,
    SigningTarget,
    Standing,
    signing_targets,
    with_standing,
)
from schools.models import Carer


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
    def from_standings(cls, counts: Counter) -> Figures:
        """From how many carers stand where (declarations.selectors.Standing)."""
        return cls(
            asked=sum(counts.values()),
            signed_online=counts[Standing.ONLINE],
            signed_paper=counts[Standing.PAPER],
            declined=counts[Standing.DECLINED],
            outstanding=sum(counts[standing] for standing in OUTSTANDING),
            no_email=counts[Standing.NO_EMAIL],
        )

    def __add__(self, other: Figures) -> Figures:
        return Figures(*(getattr(self, name) + getattr(other, name) for name in self.__dataclass_fields__))

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
class SchoolStandings:
    """What a school asks its carers to sign (None: no code in force) and how many stand where."""

    target: SigningTarget | None
    standings: Counter

    @property
    def figures(self) -> Figures:
        return Figures.from_standings(self.standings)

    @property
    def outstanding_by_standing(self) -> list[tuple[Standing, int]]:
        """Each reason carers are still outstanding, in Standing's order, with how many."""
        return [(standing, self.standings[standing]) for standing in OUTSTANDING if self.standings[standing]]


def standings_by_school(schools, on: datetime.date | None = None) -> dict[int, SchoolStandings]:
    """For each school (by id), what its carers are asked to sign on `on` (today) and how many
    stand where: one count per distinct signing target, however many schools or carers."""
    targets = signing_targets(schools, on)
    schools_with: dict[SigningTarget, list[int]] = defaultdict(list)
    for school_id, target in targets.items():
        if target is not None:
            schools_with[target].append(school_id)
    counts: dict[int, Counter] = defaultdict(Counter)
    for target, school_ids in schools_with.items():
        carers = with_standing(Carer.objects.asked_to_sign(), target, schools=school_ids)
        for row in carers.values("school_id", "standing").annotate(n=Count("pk")).order_by():
            counts[row["school_id"]][row["standing"]] += row["n"]
    return {school_id: SchoolStandings(target, counts[school_id]) for school_id, target in targets.items()}
