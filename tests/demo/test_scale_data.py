"""manage.py generate_scale_data: a made-up association at local-authority scale, here made small."""

import datetime
import io

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db.models import F

from codes.models import CodeVersion
from declarations.models import Declaration, Decline, SigningRequest
from demo.scale_data import ScaleSpec, scale_counts
from schools.models import Carer, Organisation, Pupil, PupilCarer, StaffRole
from sending.models import OutboxMessage

pytestmark = pytest.mark.django_db

SMALL = ["--schools", "3", "--pupils", "90", "--carers", "150", "--years", "3"]
TODAY = datetime.datetime(2026, 11, 20, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def today():
    with time_machine.travel(TODAY, tick=False):
        yield


def run(*args):
    out = io.StringIO()
    call_command("generate_scale_data", *args, stdout=out)
    return out.getvalue()


def association():
    return Organisation.objects.get(slug=ScaleSpec().slug)


def test_makes_the_association_asked_for_and_says_what_it_made():
    out = run(*SMALL)

    made = association()
    schools = Organisation.objects.filter(association=made)
    assert made.is_association and schools.count() == 3
    assert Pupil.objects.filter(school__in=schools).count() == 90
    assert Carer.objects.filter(school__in=schools).count() == 150
    assert "Made Northmere Schools Partnership" in out
    for line in ("schools                                3", "pupils                                90",
                 "carers                               150"):
        assert " ".join(line.split()) in " ".join(out.split())
    assert "Generated test data" in schools.first().address
    assert not Carer.objects.exclude(email="").exclude(email__endswith="@example.org").exists()


def test_scale_shrinks_the_default_size():
    run("--scale", "0.004")

    counts = scale_counts(association())
    assert counts["schools"] == 2 and counts["pupils"] == 100 and counts["carers"] == 160
    assert counts["published versions"] == 5


def test_one_published_version_a_september_each_requiring_signing():
    run(*SMALL)

    versions = list(CodeVersion.objects.filter(code__owner=association()).order_by("number"))
    assert [v.number for v in versions] == [1, 2, 3]
    assert all(v.is_published and v.requires_signing and len(v.fingerprint) == 64 for v in versions)
    assert [v.effective_from for v in versions] == [datetime.date(year, 9, 1) for year in (2024, 2025, 2026)]
    assert [v.published_at.date() for v in versions] == [v.effective_from for v in versions]
    assert "Northmere Schools Partnership" in versions[0].body and "Halton" not in versions[0].body
    assert versions[2].revision_note


def test_declarations_are_of_the_associations_published_versions_by_carers_of_its_pupils():
    run(*SMALL)

    made = association()
    declarations = Declaration.objects.filter(school__association=made)
    assert declarations.count() > 150  # most carers signed most years
    assert not declarations.exclude(version__code__owner=made).exists()
    assert not declarations.exclude(version__status=CodeVersion.Status.PUBLISHED).exists()
    assert not declarations.exclude(carer__school=F("school")).exists()
    # Only carers with parental responsibility for a pupil at the school sign.
    assert not declarations.exclude(
        carer__pupil_links__parental_responsibility=True, carer__pupil_links__pupil__school=F("school")
    ).exists()
    assert not declarations.filter(signed_at__lt=F("version__published_at")).exists()
    assert declarations.filter(method=Declaration.Method.PAPER, recorded_by__isnull=False).exists()
    assert Decline.objects.filter(school__association=made).exists()


def test_families_share_carers_within_their_school():
    run(*SMALL)

    links = PupilCarer.objects.filter(pupil__school__association=association())
    assert not links.exclude(carer__school=F("pupil__school")).exists()
    assert not Carer.objects.filter(school__association=association(), pupil_links__isnull=True).exists()
    # Siblings: some carers are linked to more than one pupil.
    per_carer = {}
    for carer_id in links.values_list("carer_id", flat=True):
        per_carer[carer_id] = per_carer.get(carer_id, 0) + 1
    assert any(n > 1 for n in per_carer.values())
    assert Carer.objects.filter(school__association=association(), email="").exists()


def test_this_years_version_has_invitations_links_and_reminders():
    run(*SMALL)

    current = CodeVersion.objects.filter(code__owner=association()).order_by("-number").first()
    requests = SigningRequest.objects.filter(school__association=association())
    assert requests.exists() and not requests.exclude(version=current).exists()
    assert not requests.filter(carer__email="").exists()
    outbox = OutboxMessage.objects.filter(school__association=association())
    assert outbox.filter(kind=OutboxMessage.Kind.INVITATION).count() == requests.count()
    assert outbox.filter(kind=OutboxMessage.Kind.REMINDER_1).exists()
    # Those who signed online this year did so through their link.
    assert not Declaration.objects.filter(version=current, method="online", request__isnull=True).exists()


def test_each_school_has_a_headteacher_and_office_staff_who_can_see_its_dashboard(client):
    run(*SMALL)

    school = Organisation.objects.filter(association=association()).first()
    roles = set(StaffRole.objects.filter(organisation=school).values_list("role", flat=True))
    assert roles == {StaffRole.Role.HEADTEACHER, StaffRole.Role.OFFICE}
    client.force_login(StaffRole.objects.get(organisation=school, role=StaffRole.Role.HEADTEACHER).user)
    assert client.get(f"/staff/completion/schools/{school.slug}/").status_code == 200
    admin = StaffRole.objects.get(organisation=association(), role=StaffRole.Role.ASSOCIATION_ADMIN).user
    client.force_login(admin)
    page = client.get(f"/staff/completion/associations/{association().slug}/")
    assert page.status_code == 200 and school.name in page.content.decode()


def test_running_it_twice_refuses_and_changes_nothing():
    run(*SMALL)
    before = scale_counts(association())

    with pytest.raises(CommandError, match="exists already; nothing was changed"):
        run(*SMALL)

    assert scale_counts(association()) == before
    assert Organisation.objects.filter(kind=Organisation.Kind.ASSOCIATION).count() == 1


def test_a_second_association_gets_its_own_schools():
    run(*SMALL)
    run("--schools", "2", "--pupils", "20", "--carers", "30", "--years", "1", "--slug", "small-trust",
        "--name", "Small Trust")

    small = Organisation.objects.get(slug="small-trust")
    assert scale_counts(small)["schools"] == 2 and scale_counts(association())["schools"] == 3


def test_refused_in_production(settings):
    settings.PRODUCTION = True

    with pytest.raises(CommandError, match="never generated with PORTAL_ENV=production"):
        run(*SMALL)

    assert not Organisation.objects.exists()
