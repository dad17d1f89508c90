"""A made-up association at local-authority scale, for benchmarks and for trying the dashboards:
`manage.py generate_scale_data`.

By default: 50 schools (about four in five primary, the rest secondary, three to four times the
size), 25,000 pupils, 40,000 carers, five years of annual versions of the association's shared
code (each published on 1 September and requiring signing) and about 150,000 declarations.
Everything is fictional and says so: the schools are in the made-up borough of Northmere, their
address reads "Generated test data", every e-mail address is at example.org (reserved, never
delivered), and the IP addresses are from the documentation ranges.

What a user of the dashboards would notice is modelled:

- families: siblings at the same school share their carers; most families have one or two
  carers with parental responsibility, some a third contact without it (a grandparent, a
  childminder); about one carer in twenty-five has no e-mail address (they need paper forms);
- years: most families were there for all five versions, some joined later (this year's
  starters among them), a few have left (their pupils are kept, off roll, as imports keep them);
- signing: for each version a family was there for, most carers with parental responsibility
  signed, mostly within the first week and often in the evening; some declined; some never
  answered; carers with no e-mail address signed on paper, recorded by the office, or not at all.
  This year's version is still being signed: more are outstanding;
- the current version's invitations: one batch per school (the scheduler's), an invitation
  e-mail and a signing link per carer with an e-mail address, and reminders for those who had not
  signed by each reminder day. Earlier years keep only their declarations and declines;
- staff: a headteacher and an office member for each school and an association admin, with the
  demo password and demo second factor (schools/demo.py), so the pages can be seen.

The versions are real: made and published through codes.services (so frozen and fingerprinted),
with the clock set to the morning they were published. Publishing queues the usual invitation
task for each version; a worker that runs it finds this year's invitations sent and earlier
versions replaced, and sends nothing. The families, requests, e-mails and
declarations are written with bulk_create in batches, in one transaction, never row by row: the
full size takes well under two minutes on PostgreSQL. Random choices come from a generator seeded
by `seed` and the association's slug, so the same command on the same day makes the same data.
"""

from __future__ import annotations

import datetime
import hashlib
import math
import random
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from itertools import batched
from unittest import mock

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from codes import services as code_services
from codes.models import Code, CodeVersion
from codes.seeding import SEED_DIR
from declarations.models import Declaration, Decline, SigningRequest
from declarations.selectors import names_in_words
from demo.accounts import DEMO_AUTHENTICATOR_NAME, DEMO_PASSWORD, DEMO_RECOVERY_CODES, demo_totp_key_hex
from schools import mfa
from schools.models import AuditEvent, Carer, Organisation, Pupil, PupilCarer, StaffRole
from sending.models import OutboxMessage, ScheduledStep, SendBatch

BATCH_SIZE = 2000
SEED_BODY = SEED_DIR / "halton-code.md"
SEED_ASSOCIATION_NAMES = (  # how the seed text names its association, longest first
    ("Halton Association of Primary Headteachers (HAPH)", "{name}"),
    ("Halton Association of Primary Headteachers", "{name}"),
    ("Halton Association of primary Headteachers", "{name}"),
    ("Halton Primary Schools and Colleges", "{borough} schools"),
    ("Halton Primary Schools", "{borough} schools"),
)
BOROUGH = "Northmere"

# Made-up place names: a prefix and a suffix, as English place names are built.
PLACE_PREFIXES = (
    "Alder", "Ash", "Bramble", "Briar", "Copper", "Elder", "Fern", "Foxglove", "Hazel", "Heron",
    "Holly", "Juniper", "Kestrel", "Larch", "Linnet", "Marigold", "Otter", "Plover", "Quill",
    "Rowan", "Sedge", "Sorrel", "Tansy", "Teasel", "Thistle", "Wren", "Yarrow", "Yew",
)
PLACE_SUFFIXES = ("brook", "combe", "dale", "field", "ford", "gate", "holme", "leigh", "mere", "moor", "stead", "wick")
SAINTS = ("Aidan", "Bede", "Brigid", "Cuthbert", "Hilda", "Oswald", "Wilfrid", "Chad", "Winifred", "Columba")
PRIMARY_KINDS = (
    "{place} Primary School",
    "{place} Community Primary School",
    "{place} Church of England Primary School",
    "St {saint}'s Catholic Primary School, {place}",
    "{place} Infant and Junior School",
)
SECONDARY_KINDS = ("{place} High School", "{place} Academy", "{place} School and Sixth Form College")

FORENAMES = (
    "Olivia", "Amelia", "Isla", "Ava", "Mia", "Ivy", "Lily", "Isabella", "Rosie", "Sophia", "Grace",
    "Freya", "Poppy", "Evie", "Ella", "Aisha", "Zara", "Maya", "Hannah", "Chloe", "Noah", "Oliver",
    "George", "Arthur", "Muhammad", "Leo", "Harry", "Oscar", "Archie", "Henry", "Theo", "Jack",
    "Charlie", "Finley", "Alfie", "Jacob", "Ethan", "Yusuf", "Kai", "Reuben", "Samuel", "Dylan",
)
ADULT_FORENAMES = (
    "Sarah", "Emma", "Laura", "Rachel", "Claire", "Nicola", "Gemma", "Kirsty", "Fatima", "Priya",
    "Joanne", "Louise", "Helen", "Stacey", "Amy", "Michelle", "David", "James", "Daniel", "Mark",
    "Paul", "Andrew", "Richard", "Craig", "Lee", "Imran", "Tomasz", "Stephen", "Gareth", "Kevin",
    "Wayne", "Neil", "Adam", "Matthew", "Christopher", "Jonathan",
)
SURNAMES = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Robinson",
    "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Jackson",
    "Clarke", "Patel", "Khan", "Lewis", "James", "Phillips", "Mason", "Mitchell", "Rose", "Davis",
    "Rodriguez", "Cox", "Alexander", "Morgan", "Moore", "Mills", "King", "Lee", "Baker", "Harris",
    "Scott", "Turner", "Hill", "Cooper", "Ward", "Morris", "Hughes", "Edwards", "Kowalski", "Begum",
    "Hussain", "Ali", "Murphy", "O'Brien", "Kelly", "Doyle", "Fletcher", "Atherton", "Hurst",
    "Pilkington", "Sutcliffe", "Greenwood", "Ashworth", "Nowak", "Okafor", "Mensah", "Chen",
)
PHONES = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 15; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/137.0 Mobile "
    "Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; SM-A546B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/136.0 Mobile "
    "Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/137.0 Safari/537.36",
)
DECLINE_MESSAGES = (
    "",
    "",
    "",
    "We do not use social media, so this does not apply to us.",
    "I would rather discuss this with the head teacher in person.",
    "I do not agree with the section on group chats.",
)
REVISION_NOTES = (
    "Annual review: the section on messaging apps now covers class group chats.",
    "Annual review: added a paragraph on sharing photographs of other people's children.",
    "Annual review: clearer wording on raising concerns with the school first.",
    "Annual review: now names the school's complaints procedure.",
    "Annual review: updated the list of legislation the code has regard to.",
    "Annual review: reminders about livestreaming and recording school events.",
)
REVISION_PARAGRAPHS = (
    "Class group chats are for sharing practical information; please raise any concern about a "
    "child or member of staff with the school directly.",
    "Please do not share photographs or videos of school events that show children other than your own.",
    "If you have a concern, speak to your child's teacher first; the school will always listen.",
    "The school's complaints procedure explains how to raise a concern formally.",
    "This code also has regard to the Online Safety Act 2023.",
    "Please do not livestream or record school performances, sports days or assemblies.",
)

# Chances, per carer with parental responsibility and version they were asked to sign.
SIGN_PAST, DECLINE_PAST = 0.92, 0.02
SIGN_CURRENT, DECLINE_CURRENT = 0.78, 0.03
PAPER_SIGNS = 0.5  # carers with no e-mail address who returned a paper form
NO_EMAIL = 0.04
FAMILY_JOINED_AT_START = 0.88  # the rest joined in a later year, evenly
FAMILY_LEFT = 0.03  # of families that were there before this year
SECOND_CARER_RESPONSIBLE = 0.95
OTHER_CONTACT_RESPONSIBLE = 0.7


class ScaleDataRefused(Exception):
    """The data was not made, and nothing was changed: why, in plain English."""


@dataclass(frozen=True)
class ScaleSpec:
    """How big an association to make. `scaled(0.01)` is the default size times 0.01."""

    schools: int = 50
    pupils: int = 25_000
    carers: int = 40_000
    years: int = 5
    name: str = f"{BOROUGH} Schools Partnership"
    slug: str = "northmere-schools"
    seed: int = 2026

    @classmethod
    def scaled(cls, scale: float, **overrides) -> ScaleSpec:
        default = cls()
        sized = {
            "schools": max(2, round(default.schools * scale)),
            "pupils": max(2, round(default.pupils * scale)),
            "carers": max(2, round(default.carers * scale)),
        }
        return replace(default, **{**sized, **{k: v for k, v in overrides.items() if v is not None}})

    def problems(self) -> list[str]:
        found = []
        if self.schools < 1:
            found.append("There must be at least one school.")
        if self.pupils < self.schools:
            found.append("There must be at least one pupil per school.")
        if self.carers < self.schools:
            found.append("There must be at least one carer per school.")
        if not 1 <= self.years <= 20:
            found.append("Years must be between 1 and 20.")
        if not self.name.strip() or not self.slug or slugify(self.slug) != self.slug:
            found.append("The association needs a name and a slug of lower-case letters, digits and hyphens.")
        return found


@dataclass
class ScaleResult:
    association: Organisation
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    largest_school: Organisation | None = None


# Made while generating one school.


@dataclass
class _Family:
    surname: str
    joined: int  # index of the first version the family was asked to sign
    left: int | None  # index of the last school year they were there, if they have left
    pupils: list[Pupil] = field(default_factory=list)
    carers: list[tuple[Carer, bool]] = field(default_factory=list)  # (carer, parental responsibility)

    def there_for(self, year: int) -> bool:
        return self.joined <= year and (self.left is None or year <= self.left)


@dataclass
class _SchoolPlan:
    name: str
    slug: str
    secondary: bool
    pupils: int
    carers: int


@dataclass
class _Year:
    index: int
    version: CodeVersion
    starts: datetime.datetime  # when it came into force (and the invitations went)
    current: bool


def generate_scale_data(spec: ScaleSpec | None = None, *, log=None) -> ScaleResult:
    """Make the association described by `spec` (default: the full size) and everything in it.

    Refuses (ScaleDataRefused, before changing anything) in production, when the spec does not
    make sense, or when an organisation with the association's slug exists already. All of it is
    made in one transaction: it is there entirely or not at all.
    """
    spec = spec or ScaleSpec()
    log = log or (lambda message: None)
    if settings.PRODUCTION:
        raise ScaleDataRefused("Scale data is made-up families: it is never generated with PORTAL_ENV=production.")
    problems = spec.problems()
    if problems:
        raise ScaleDataRefused(" ".join(problems))
    started = time.perf_counter()
    rng = random.Random(f"{spec.seed}:{spec.slug}")
    with transaction.atomic():
        if Organisation.objects.filter(slug=spec.slug).exists():
            raise ScaleDataRefused(
                f"An organisation with the slug {spec.slug!r} exists already; nothing was changed. "
                "Give another --slug (and --name) to make a second association."
            )
        taken = set(Organisation.objects.values_list("slug", flat=True))
        association = Organisation.objects.create(
            kind=Organisation.Kind.ASSOCIATION,
            name=spec.name,
            slug=spec.slug,
            address=f"Generated test data: not a real organisation\n{BOROUGH}",
            email=f"office@{spec.slug}.example.org",
        )
        plans = _plan_schools(spec, rng, taken | {spec.slug})
        schools = Organisation.objects.bulk_create(
            Organisation(
                kind=Organisation.Kind.SCHOOL,
                name=plan.name,
                slug=plan.slug,
                association=association,
                address=f"Generated test data: not a real school\n{index + 1} School Lane\n{BOROUGH}",
                email=f"office@{plan.slug}.example.org",
            )
            for index, plan in enumerate(plans)
        )
        staff = _staff_create(association, schools)
        admin = staff[association.pk][StaffRole.Role.ASSOCIATION_ADMIN]
        years = _versions_publish(association, admin, spec.years, rng)
        log(f"{len(schools)} schools, their staff and {len(years)} versions made")
        for number, (school, plan) in enumerate(zip(schools, plans), start=1):
            _school_generate(school, plan, years, staff[school.pk], rng)
            if number % 10 == 0 or number == len(schools):
                log(f"  families and declarations of {number}/{len(schools)} schools made")
        largest = max(zip(schools, plans), key=lambda pair: pair[1].pupils)[0]
        counts = scale_counts(association)
    return ScaleResult(association, time.perf_counter() - started, counts, largest)


def scale_counts(association: Organisation) -> dict[str, int]:
    """What the association holds, in words a user would recognise."""
    schools = Organisation.objects.filter(association=association)
    return {
        "schools": schools.count(),
        "pupils": Pupil.objects.filter(school__in=schools).count(),
        "pupils on roll": Pupil.objects.filter(school__in=schools, on_roll=True).count(),
        "carers": Carer.objects.filter(school__in=schools).count(),
        "carers without an e-mail address": Carer.objects.filter(school__in=schools, email="").count(),
        "links between pupils and carers": PupilCarer.objects.filter(pupil__school__in=schools).count(),
        "published versions": CodeVersion.objects.filter(
            code__owner=association, status=CodeVersion.Status.PUBLISHED
        ).count(),
        "declarations": Declaration.objects.filter(school__in=schools).count(),
        "paper declarations": Declaration.objects.filter(school__in=schools, method=Declaration.Method.PAPER).count(),
        "declines": Decline.objects.filter(school__in=schools).count(),
        "signing requests": SigningRequest.objects.filter(school__in=schools).count(),
        "e-mails in the outbox": OutboxMessage.objects.filter(school__in=schools).count(),
        "staff accounts": StaffRole.objects.filter(organisation__in=[association, *schools]).count(),
    }


# Schools and staff.


def _plan_schools(spec: ScaleSpec, rng: random.Random, taken: set[str]) -> list[_SchoolPlan]:
    """Names and sizes: about one school in five secondary, three to four times a primary's size;
    pupils and carers shared out so that the totals are exactly the spec's."""
    secondaries = round(spec.schools / 5) if spec.schools > 1 else 0
    kinds = [True] * secondaries + [False] * (spec.schools - secondaries)
    rng.shuffle(kinds)
    weights = [(3.6 * rng.uniform(0.7, 1.3)) if secondary else rng.uniform(0.55, 1.45) for secondary in kinds]
    pupils = _share(spec.pupils, weights)
    carers = _share(spec.carers, weights)
    places = [prefix + suffix for prefix in PLACE_PREFIXES for suffix in PLACE_SUFFIXES]
    rng.shuffle(places)
    plans, places_left = [], iter(places)
    for secondary, n_pupils, n_carers in zip(kinds, pupils, carers):
        while True:
            place = next(places_left, None)
            if place is None:
                raise ScaleDataRefused("There are not enough made-up school names left for so many schools.")
            pattern = rng.choice(SECONDARY_KINDS if secondary else PRIMARY_KINDS)
            name = pattern.format(place=place, saint=rng.choice(SAINTS))
            slug = slugify(name)[:80]
            if slug not in taken:
                taken.add(slug)
                break
        plans.append(_SchoolPlan(name, slug, secondary, n_pupils, n_carers))
    return plans


def _share(total: int, weights: list[float]) -> list[int]:
    """`total` split in proportion to `weights`, at least 1 each, summing to exactly `total`."""
    extra = total - len(weights)
    exact = [extra * weight / sum(weights) for weight in weights]
    shares = [1 + math.floor(value) for value in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: exact[i] - math.floor(exact[i]), reverse=True)
    for i in by_remainder[: total - sum(shares)]:
        shares[i] += 1
    return shares


def _staff_create(association: Organisation, schools: list[Organisation]) -> dict[int, dict[str, object]]:
    """A headteacher and an office member per school and an admin for the association, each with
    the demo password and the demo second factor. {organisation id: {role: user}}."""
    User = get_user_model()
    password = make_password(DEMO_PASSWORD)  # hashed once: hashing is slow on purpose
    wanted = [(association, StaffRole.Role.ASSOCIATION_ADMIN, f"admin.{association.slug}", "Association Secretary")]
    for school in schools:
        wanted.append((school, StaffRole.Role.HEADTEACHER, f"head.{school.slug}", "Headteacher"))
        wanted.append((school, StaffRole.Role.OFFICE, f"office.{school.slug}", "Office Manager"))
    users = User.objects.bulk_create(
        User(
            username=username[:150],
            first_name=title.split()[0],
            last_name=organisation.name[:150],
            email=f"{username}@example.org",
            password=password,
        )
        for organisation, role, username, title in wanted
    )
    StaffRole.objects.bulk_create(
        StaffRole(user=user, organisation=organisation, role=role, job_title=title)
        for user, (organisation, role, username, title) in zip(users, wanted)
    )
    TOTPDevice.objects.bulk_create(
        TOTPDevice(user=user, name=DEMO_AUTHENTICATOR_NAME, key=demo_totp_key_hex(), confirmed=True) for user in users
    )
    devices = StaticDevice.objects.bulk_create(StaticDevice(user=user, name=mfa.RECOVERY_CODES_NAME) for user in users)
    StaticToken.objects.bulk_create(
        StaticToken(device=device, token=code) for device in devices for code in DEMO_RECOVERY_CODES
    )
    staff: dict[int, dict[str, object]] = {}
    for user, (organisation, role, _, _) in zip(users, wanted):
        staff.setdefault(organisation.pk, {})[role] = user
    return staff


# The shared code, one version a year.


def _versions_publish(association: Organisation, admin, years: int, rng: random.Random) -> list[_Year]:
    """The association's code with `years` versions, one published each 1 September up to this
    school year's, each requiring signing: made and published by the admin through
    codes.services, with the clock set to that morning so each records when it was published."""
    this_year = _this_school_year()
    body = SEED_BODY.read_text(encoding="utf-8")
    for seed_name, ours in SEED_ASSOCIATION_NAMES:
        body = body.replace(seed_name, ours.format(name=association.name, borough=BOROUGH))
    code = Code.objects.create(owner=association, title="Social Media Code of Conduct for Parents/Carers")
    result = []
    for index in range(years):
        start_year = this_year - years + 1 + index
        effective = datetime.date(start_year, 9, 1)
        content = {"document_version": f"V{index + 1}", "approved_by": "The association's headteachers",
                   "approved_on": effective - datetime.timedelta(days=45)}
        if index == 0:
            version = code_services.version_create_first(code=code, user=admin, body=body, **content)
        else:
            version = code_services.draft_start(code=code, user=admin)
            body = f"{body.rstrip()}\n\n{REVISION_PARAGRAPHS[(index - 1) % len(REVISION_PARAGRAPHS)]}\n"
            version = code_services.draft_update(
                version=version, user=admin, body=body,
                revision_note=REVISION_NOTES[(index - 1) % len(REVISION_NOTES)], **content,
            )
        published_at = timezone.make_aware(datetime.datetime.combine(effective, datetime.time(7, 30)))
        with _clock_at(min(published_at, timezone.now())):
            version = code_services.version_publish(version=version, user=admin, effective_from=effective)
        result.append(_Year(index, version, published_at, current=index == years - 1))
    return result


@contextmanager
def _clock_at(moment: datetime.datetime):
    """Django's clock reads `moment` inside: a version published in a past September says so."""
    with mock.patch.object(timezone, "now", return_value=moment):
        yield


# One school's families, and their history of signing.


def _school_generate(school: Organisation, plan: _SchoolPlan, years: list[_Year], staff: dict, rng: random.Random):
    families = _families_create(school, plan, len(years), rng)
    office = staff[StaffRole.Role.OFFICE]
    for year in years:
        _year_of_signing(school, families, year, office, rng)


def _families_create(school: Organisation, plan: _SchoolPlan, n_years: int, rng: random.Random) -> list[_Family]:
    """Pupils grouped into families (siblings share their carers) and each family's carers."""
    n_families = max(1, min(plan.carers, round(plan.pupils / 1.3)))
    families = []
    for _ in range(n_families):
        joined = 0 if n_years == 1 or rng.random() < FAMILY_JOINED_AT_START else rng.randrange(1, n_years)
        left = None
        if joined < n_years - 1 and rng.random() < FAMILY_LEFT:
            left = rng.randrange(joined, n_years - 1)
        families.append(_Family(rng.choice(SURNAMES), joined, left))
    # Each family one child, the other pupils siblings of a family chosen at random.
    members = list(range(n_families)) + [rng.randrange(n_families) for _ in range(plan.pupils - n_families)]
    year_groups, classes = _year_groups(plan)
    pupils, owners = [], []
    for number, family_index in enumerate(members, start=1):
        family = families[family_index]
        year_group = rng.choice(year_groups)
        left_on = None
        if family.left is not None:  # the end of the summer term of the last year they were there
            left_on = datetime.date(_this_school_year() - n_years + 1 + family.left + 1, 7, 22)
        pupils.append(
            Pupil(
                school=school,
                mis_id=f"A{number:06d}",
                forename=rng.choice(FORENAMES),
                surname=family.surname,
                year_group=year_group,
                reg_group=f"{year_group}{rng.choice(classes[year_group])}",
                on_roll=left_on is None,
                left_on=left_on,
            )
        )
        owners.append(family_index)
    for chunk in batched(zip(pupils, owners), BATCH_SIZE):
        Pupil.objects.bulk_create([pupil for pupil, _ in chunk])
        for pupil, family_index in chunk:
            families[family_index].pupils.append(pupil)

    # Carers: one per family, then the rest shared out (a second parent first, then other contacts).
    sizes = [1] * n_families
    for _ in range(plan.carers - n_families):
        index = rng.randrange(n_families)
        if sizes[index] >= 4:
            index = min(range(n_families), key=sizes.__getitem__)
        sizes[index] += 1
    carers, owners, responsible = [], [], []
    for family_index, (family, size) in enumerate(zip(families, sizes)):
        for position in range(size):
            forename = rng.choice(ADULT_FORENAMES)
            surname = family.surname if position == 0 or rng.random() < 0.7 else rng.choice(SURNAMES)
            has_email = rng.random() >= NO_EMAIL
            carers.append(
                Carer(
                    school=school,
                    mis_id=f"C{len(carers) + 1:06d}",
                    title=rng.choice(("Mrs", "Mr", "Ms", "Miss", "Dr", "")),
                    forename=forename,
                    surname=surname,
                    email=f"{slugify(forename)}.{slugify(surname)}{len(carers) + 1}@example.org" if has_email else "",
                )
            )
            owners.append(family_index)
            if position == 0:
                responsible.append(True)
            elif position == 1:
                responsible.append(rng.random() < SECOND_CARER_RESPONSIBLE)
            else:
                responsible.append(rng.random() < OTHER_CONTACT_RESPONSIBLE)
    for chunk in batched(zip(carers, owners, responsible), BATCH_SIZE):
        Carer.objects.bulk_create([carer for carer, _, _ in chunk])
        for carer, family_index, has_responsibility in chunk:
            families[family_index].carers.append((carer, has_responsibility))
    links = (
        PupilCarer(
            pupil=pupil,
            carer=carer,
            relationship=_relationship(position, has_responsibility, rng),
            parental_responsibility=has_responsibility,
            priority=position + 1,
        )
        for family in families
        for pupil in family.pupils
        for position, (carer, has_responsibility) in enumerate(family.carers)
    )
    for chunk in batched(links, BATCH_SIZE):
        PupilCarer.objects.bulk_create(chunk)
    return families


def _this_school_year() -> int:
    """The calendar year in which this school year began (on 1 September)."""
    today = timezone.localdate()
    return today.year if today >= datetime.date(today.year, 9, 1) else today.year - 1


def _year_groups(plan: _SchoolPlan) -> tuple[list[str], dict[str, list[str]]]:
    """The year groups a school teaches, and the registration groups of each (about 30 a class)."""
    if plan.secondary:
        groups = ["7", "8", "9", "10", "11"] + (["12", "13"] if plan.pupils % 2 else [])
        letters = "ABCDEFGH"
    else:
        groups = ["N", "R", "1", "2", "3", "4", "5", "6"]
        letters = "KLMW"
    per_group = max(1, math.ceil(plan.pupils / len(groups) / 30))
    return groups, {group: list(letters[: min(per_group, len(letters))]) for group in groups}


def _relationship(position: int, has_responsibility: bool, rng: random.Random) -> str:
    if position < 2 and has_responsibility:
        return rng.choice(("Mother", "Mother", "Father", "Father", "Parent", "Step-parent"))
    return rng.choice(("Grandparent", "Aunt", "Uncle", "Childminder", "Family friend"))


def _year_of_signing(school: Organisation, families: list[_Family], year: _Year, office, rng: random.Random):
    """What happened when carers were asked to sign one version: declarations, declines, and for
    this year's version the invitation batch, links and e-mails (with reminders)."""
    version = year.version
    now = timezone.now()
    asked = [
        (carer, family)
        for family in families
        if family.there_for(year.index)
        for carer, has_responsibility in family.carers
        if has_responsibility
    ]
    # How many days there have been to answer: a past year had its whole year.
    days_open = max(0, (now - year.starts).days) if year.current else 300
    sign, decline = (SIGN_CURRENT, DECLINE_CURRENT) if year.current else (SIGN_PAST, DECLINE_PAST)
    declarations, declines, requests, outbox = [], [], {}, []
    batch = None
    if year.current:
        batch = SendBatch.objects.create(
            school=school,
            version=version,
            kind=OutboxMessage.Kind.INVITATION,
            audience_kind=SendBatch.AudienceKind.ALL,
            queued_at=year.starts,
            finished_at=year.starts + datetime.timedelta(minutes=20),
        )
        # The publish wrote the step (sending/receivers.py); here it was taken on the day.
        ScheduledStep.objects.update_or_create(
            school=school,
            version=version,
            kind=ScheduledStep.Kind.INVITE,
            carer=None,
            defaults={
                "due_at": year.starts,
                "done_at": year.starts,
                "batch": batch,
                "outcome": "Invited every carer with an e-mail address to sign.",
            },
        )
        AuditEvent.objects.create(
            at=year.starts,
            school=school,
            action=AuditEvent.Action.SEND_INVITATIONS,
            target=f"version {version.number}",
            detail={"batch": batch.pk, "version": version.number, "audience": batch.audience_description},
        )
    cadence = school.reminder_cadence
    for carer, family in asked:
        roll = rng.random()
        answered_at = _answered_at(year, days_open, rng)
        if carer.email and roll < sign:
            outcome = "signed"
        elif carer.email and roll < sign + decline:
            outcome = "declined"
        elif not carer.email and roll < PAPER_SIGNS:
            outcome = "paper"
        else:
            outcome = "outstanding"
        if answered_at is None and outcome != "outstanding":
            outcome = "outstanding"  # nothing could have happened yet
        request = None
        if year.current and carer.email:
            request = _request_and_emails(school, carer, year, batch, outcome, answered_at, cadence, rng, outbox)
            requests[carer.pk] = request
        if outcome in {"signed", "paper"}:
            declarations.append((carer, family, request, outcome, answered_at))
        elif outcome == "declined":
            declines.append(
                Decline(
                    school=school,
                    carer=carer,
                    version=version,
                    message=rng.choice(DECLINE_MESSAGES),
                    declined_at=answered_at,
                    ip_address=_ip(rng),
                    user_agent=rng.choice(PHONES),
                )
            )
    for chunk in batched(requests.values(), BATCH_SIZE):
        SigningRequest.objects.bulk_create(chunk)
    for chunk in batched(outbox, BATCH_SIZE):
        OutboxMessage.objects.bulk_create(chunk)
    for chunk in batched(declines, BATCH_SIZE):
        Decline.objects.bulk_create(chunk)
    rows = (_declaration(school, version, carer, family, request, outcome, at, office, rng)
            for carer, family, request, outcome, at in declarations)
    for chunk in batched(rows, BATCH_SIZE):  # made after the requests, so they have their ids
        Declaration.objects.bulk_create(chunk)


def _answered_at(year: _Year, days_open: int, rng: random.Random) -> datetime.datetime | None:
    """When a carer answered: most within the first week, often in the evening; None if the
    version came into force too recently for anyone to have answered."""
    if days_open < 1:
        return None
    day = min(int(rng.expovariate(1 / 4)), days_open - 1, 120)
    hour = rng.choice((7, 8, 12, 13, 17, 18, 19, 19, 20, 20, 20, 21, 21, 22))
    moment = year.starts.replace(hour=0, minute=0) + datetime.timedelta(
        days=day, hours=hour, minutes=rng.randrange(60), seconds=rng.randrange(60)
    )
    return max(moment, year.starts + datetime.timedelta(minutes=30))


def _ip(rng: random.Random) -> str:
    return f"{rng.choice(('192.0.2', '198.51.100', '203.0.113'))}.{rng.randrange(1, 255)}"


def _request_and_emails(
    school, carer, year: _Year, batch, outcome, answered_at, cadence, rng, outbox
) -> SigningRequest:
    """This year's signing link for a carer with an e-mail address, its invitation e-mail, and a
    reminder on each reminder day they had not answered by."""
    sent_at = year.starts + datetime.timedelta(minutes=rng.randrange(1, 20))
    outbox.append(_sent(school, carer, year.version, OutboxMessage.Kind.INVITATION, batch, sent_at))
    reminded = 0
    last_reminded = None
    reminders = (OutboxMessage.Kind.REMINDER_1, OutboxMessage.Kind.REMINDER_2, OutboxMessage.Kind.REMINDER_3)
    for days, kind in zip(cadence, reminders):
        due = sent_at + datetime.timedelta(days=days)
        if due > timezone.now() or (answered_at is not None and outcome != "outstanding" and answered_at <= due):
            break
        outbox.append(_sent(school, carer, year.version, kind, None, due))
        reminded, last_reminded = reminded + 1, due
    opened = answered_at if outcome != "outstanding" else (
        sent_at + datetime.timedelta(hours=rng.randrange(1, 72)) if rng.random() < 0.4 else None
    )
    if opened is not None and opened > timezone.now():
        opened = None
    token = hashlib.sha256(rng.getrandbits(256).to_bytes(32, "big")).hexdigest()
    return SigningRequest(
        school=school,
        carer=carer,
        version=year.version,
        token_hash=token,
        issued_at=sent_at,
        expires_at=sent_at + datetime.timedelta(days=school.link_valid_days),
        sent_at=sent_at,
        opened_at=opened,
        last_reminded_at=last_reminded,
        reminders_sent=reminded,
    )


def _sent(school, carer, version, kind, batch, at) -> OutboxMessage:
    return OutboxMessage(
        school=school,
        carer=carer,
        version=version,
        kind=kind,
        batch=batch,
        status=OutboxMessage.Status.SENT,
        to_address=carer.email,
        claimed_at=at,
        sent_at=at,
        attempts=1,
    )


def _declaration(school, version, carer, family: _Family, request, outcome, at, office, rng) -> Declaration:
    children = sorted((pupil for pupil in family.pupils), key=lambda pupil: (pupil.forename, pupil.surname, pupil.pk))
    names = [pupil.full_name for pupil in children]
    online = outcome == "signed"
    return Declaration(
        school=school,
        carer=carer,
        version=version,
        version_fingerprint=version.fingerprint,
        request=request,
        carer_name=carer.full_name,
        children_named=[{"id": pupil.pk, "name": pupil.full_name} for pupil in children],
        statement=code_services.declaration_text(
            version, school_name=school.name, carer=carer.full_name, children=names_in_words(names)
        ),
        typed_name=carer.full_name,
        agreed=True,
        signed_at=at,
        ip_address=_ip(rng) if online else None,
        user_agent=rng.choice(PHONES) if online else "",
        method=Declaration.Method.ONLINE if online else Declaration.Method.PAPER,
        recorded_by=None if online else office,
    )


