"""Completion at a glance: how many carers have signed, declined or are still outstanding, for a
school (overall, by year group, by registration group and over time) and for each member school
of an association.

Counts only, never a carer's name: association admins see these figures for their members'
schools but never their families. Who is asked and where each carer stands are the rules of the
status page (declarations.selectors: carers asked to sign, up_to_date_lookups, carer_state),
counted in the database, so each page takes the same number of queries however many carers or
member schools there are.

Counted set by set, not carer by carer: where each carer stands is decided from three sets of
carer ids (with a declaration that counts, whose latest such declaration is a paper one, with a
decline that counts) that the database works out once per query, where carer_state's subqueries
run once per carer; and a school's figures are counted from one row per carer and child rather
than by three queries each working out every carer's state again. On the scale dataset
(demo.scale_data: 50 schools, 40,000 carers) that took the largest school's page from about
170 to 12 ms of database time and the association's from about 260 ms (730 ms once PostgreSQL
judged it costly enough to JIT-compile on every request) to 55 ms (bench/profiles/dashboards.md).
"""

from __future__ import annotations

import datetime
import functools
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.db import connections, router
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

    A fixed number of queries (two), whatever the number of carers: one row per link between a
    carer asked to sign and a child on roll, with where the carer stands, counted here; and
    when each carer first signed, for the chart.
    """
    baseline = signing_baseline(version.code, version)
    alias = router.db_for_read(PupilCarer)
    sql, params = _links_sql(alias, school.pk, baseline.code_id, baseline.number)
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        links = cursor.fetchall()
    # A carer's state is the same on each of their rows; a carer with children in two groups
    # counts in both, once in each (hence the sets of (group, carer, state)).
    state_of = {carer_id: state for carer_id, state, _year_group, _reg_group in links}
    in_year_group = {(year_group, carer_id, state) for carer_id, state, year_group, _reg_group in links}
    in_reg_group = {(reg_group, carer_id, state) for carer_id, state, _year_group, reg_group in links}
    return SchoolCompletion(
        school=school,
        version=baseline,
        in_force=version,
        figures=Figures.from_states(Counter(state_of.values())),
        by_year_group=sorted(
            _groups(in_year_group, lambda key: YEAR_GROUP_LABELS.get(key, key)),
            key=lambda group: (YEAR_GROUP_ORDER.get(group.key, len(YEAR_GROUP_ORDER)), group.key),
        ),
        by_reg_group=sorted(
            _groups(in_reg_group, lambda key: key or NO_REG_GROUP),
            key=lambda group: (group.key == "", _natural(group.key)),
        ),
        timeline=_timeline(school, state_of, baseline, today=today),
    )


@functools.lru_cache(maxsize=1024)
def _links_sql(alias: str, school_id: int, code_id: int, baseline_number: int) -> tuple[str, tuple]:
    """The SQL and parameters of school_completion's main query: (carer id, state, year group,
    registration group) for each link between a carer asked to sign and a child on roll.

    Built by the ORM once per process for each school and version to sign, then run afresh on
    every request: the text of the query is all that is kept, never a figure, so a signature
    made a second ago counts. Building it (three subqueries in a CASE) took about 2 ms of each
    request's 25 (bench/profiles/dashboards.md). The rows need no conversion from the database's
    types on any backend (whole numbers and strings), so they are read without the ORM's.
    """
    sets = answered_sets(Q(school_id=school_id, **up_to_date_lookups(code_id, baseline_number)))
    # The carers asked to sign (schools.selectors.carers_with_responsibility: not erased, with
    # parental responsibility for a pupil on roll; a carer's children are at the carer's school),
    # one row per such pupil.
    links = (
        PupilCarer.objects.using(alias)
        .filter(
            parental_responsibility=True,
            pupil__school_id=school_id,
            pupil__on_roll=True,
            carer__school_id=school_id,
            carer__erased_at__isnull=True,
        )
        .annotate(state=counted_state([(Q(), sets)], carer="carer", email="carer__email"))
        .values_list("carer_id", "state", "pupil__year_group", "pupil__reg_group")
        .order_by()
    )
    sql, params = links.query.get_compiler(using=alias).as_sql()
    return sql, tuple(params)


def _groups(memberships: set[tuple[str, int, str]], label) -> list[Group]:
    """Each group's carers counted by where they stand, from (group, carer id, state) triples."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for (key, state), n in Counter((key, state) for key, _carer_id, state in memberships).items():
        counts[key][state] = n
    return [Group(key, label(key), Figures.from_states(states)) for key, states in counts.items()]


def _natural(text: str) -> list:
    """'2A' before '10A': runs of digits compare as numbers."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def _timeline(school, state_of: dict[int, str], baseline: CodeVersion, *, today: datetime.date | None) -> Timeline:
    """One query: when each carer of the school first made a declaration that counts; the carers
    asked (`state_of`) counted by that day, in the school's time zone.

    The earliest local day rather than the local day of the earliest time (the same day): a
    date the database returns as one, with no conversion of each row in Python. Read from the
    declaration_counting index, which carries signed_at for it (migration 0006)."""
    first_signed = (
        Declaration.objects.filter(school=school, **up_to_date_lookups(baseline.code_id, baseline.number))
        .values("carer_id")
        .annotate(day=Min(TruncDate("signed_at")))
        .values_list("carer_id", "day")
        .order_by()
    )
    per_day = Counter(day for carer_id, day in first_signed if carer_id in state_of)
    days, running = [], 0
    for day in sorted(per_day):
        running += per_day[day]
        days.append((day, per_day[day], running))
    start = timezone.localdate(baseline.published_at) if baseline.published_at else baseline.effective_from
    end = today or timezone.localdate()
    if days:
        start, end = min(start, days[0][0]), max(end, days[-1][0])
    return Timeline(start=start, end=max(start, end), days=days, asked=len(state_of))


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
    tests/declarations/test_dashboard.py holds the figures to the status page's."""
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
    signing_baseline (tests/declarations/test_dashboard.py holds them to the same answers).

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
        targets[school.pk] = SigningTarget(version=baseline, in_force=in_force, shared=school.pk not in code_of)
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
            schools_with[(target.version.code_id, target.version.number)].append(school_id)
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
