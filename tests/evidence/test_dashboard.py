"""Completion at a glance: a school's figures (overall, by year group and registration group, and
over time) and an association's member schools side by side; who may see them; and that the
pages take the same number of queries however many carers and schools there are."""

import datetime
import html
import itertools
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext

from declarations import selectors, services
from declarations.figures import Figures
from declarations.models import Declaration, Decline
from evidence import dashboard
from evidence.completion_chart import chart_for, nice_step
from schools.models import Carer, Organisation, Pupil, PupilCarer, StaffRole
from tests.declarations.factories import NOW, PDF, add_child, family, issued_link
from tests.factories import (
    AssociationFactory,
    CodeFactory,
    SchoolFactory,
    StaffRoleFactory,
    UserFactory,
    published_version,
)
from tests.schools.factories import PupilCarerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tasks")]

DAY = datetime.timedelta(days=1)


def text_of(response) -> str:
    """The page as a reader sees it: tags gone, entities decoded, spaces collapsed."""
    assert response.status_code == 200, response.status_code
    body = response.content.decode()
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def element(response, tag, element_id) -> str:
    body = response.content.decode()
    match = re.search(rf"<{tag}[^>]*id=\"{element_id}\".*?</{tag}>", body, re.S)
    assert match, f"no <{tag} id={element_id}>"
    return match.group(0)


def rows(table_html) -> dict[str, list[str]]:
    """{row header: [cell texts]} for a table's body and footer rows."""
    result = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table_html, re.S):
        cells = [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", c)).split()) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        if cells and "scope=\"row\"" in row:
            result[cells[0]] = cells[1:]
    return result


def school_url(school):
    return f"/staff/completion/schools/{school.slug}/"


def association_url(association):
    return f"/staff/completion/associations/{association.slug}/"


def parent(school, name, child, year_group, reg_group, *, email=True):
    forename, surname = name.split()
    address = f"{forename.lower()}.{surname.lower()}@example.org" if email else ""
    return family(
        school, forename=forename, surname=surname, email=address, children=((child, surname, year_group, reg_group),)
    )


def sign_online(carer, version):
    return services.declaration_sign(
        signing_request=issued_link(carer, version)[0],
        version_id_shown=version.pk,
        typed_name=carer.full_name,
        agreed=True,
        ip=None,
        user_agent="",
    )


def decline(carer, version):
    return services.declaration_decline(
        signing_request=issued_link(carer, version)[0], version_id_shown=version.pk, message="", ip=None, user_agent=""
    )


def sign_on_paper(carer, version, office, signed_on):
    return services.declaration_record_paper(
        carer=carer,
        version=version,
        signed_on=signed_on,
        name_as_written=carer.full_name,
        children=list(carer.children.all()),
        scan=SimpleUploadedFile("form.pdf", PDF),
        recorded_by=office,
    )


@pytest.fixture
def families(school, version, office, media, now):
    """Eight carers asked to sign, signing over a week from 22 November 2026 (the day version 1 was
    published), and two who are not asked. The clock ends at 30 November 2026."""
    olivia = parent(school, "Olivia Online", "Amy", "3", "3B")
    sign_online(olivia, version)  # 22 November
    now.move_to(NOW + 2 * DAY)
    sign_on_paper(parent(school, "Peter Paper", "Ben", "5", "5A", email=False), version, office, datetime.date(2026, 11, 24))
    sign_online(parent(school, "Owen Online", "Cat", "R", "RB"), version)  # 24 November
    decline(parent(school, "Dee Declined", "Dan", "3", "3A"), version)
    parent(school, "Nora Noemail", "Eve", "3", "3B", email=False)
    parent(school, "Nat Notsent", "Fin", "10", "10C")
    parent(school, "Nell Nursery", "Gil", "N", "")
    now.move_to(NOW + 5 * DAY)
    tess = family(
        school, forename="Tess", surname="Twins", email="tess@example.org",
        children=(("Hal", "Twins", "3", "3B"), ("Ivy", "Twins", "5", "5A")),
    )
    sign_online(tess, version)  # 27 November: two children, two year groups
    # Not asked: no parental responsibility, and a carer whose only child has left.
    PupilCarerFactory(pupil__school=school, carer__forename="Uma", carer__surname="Uncle", parental_responsibility=False)
    left = family(school, forename="Len", surname="Left", email="len@example.org", children=())
    add_child(left, forename="Jo", surname="Left", on_roll=False)
    sign_online(parent(school, "Sue Signedthenleft", "Kim", "4", "4A"), version)
    Pupil.objects.filter(forename="Kim").update(on_roll=False, left_on=datetime.date(2026, 11, 27))
    now.move_to(NOW + 8 * DAY)


@pytest.fixture(autouse=True)
def staff_sessions_outlast_the_clock(settings):
    """These tests sign staff in once and then move the clock on by days; the limits on a staff
    session's length (tested in tests/portal/test_sessions.py) would sign them out."""
    settings.PORTAL_STAFF_IDLE_HOURS = settings.PORTAL_STAFF_MAX_HOURS = 24 * 365


@pytest.fixture
def staff(client, office):
    client.force_login(office)  # counts only: no second factor needed
    return client


# The school's figures.


def test_school_page_counts_signed_online_and_on_paper_declined_outstanding_and_no_email(staff, school, families):
    response = staff.get(school_url(school))
    overall = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", element(response, "ul", "overall"))).split())
    assert "8 carers asked to sign" in overall
    assert "4 signed (50%): 3 online, 1 on paper" in overall
    assert "1 declined (13%)" in overall
    assert "3 outstanding (38%), of whom 1 has no e-mail address and needs a paper form" in overall
    page = text_of(response)
    for name in ("Olivia", "Nora", "Len", "Uma", "Sue"):
        assert name not in page, "counts only: no carer is named, and nobody not asked is counted"


def test_school_page_breaks_the_figures_down_by_year_group_in_school_order(staff, school, families):
    by_year = rows(element(staff.get(school_url(school)), "table", "by-year-group"))
    assert list(by_year) == ["Nursery", "Reception", "Year 3", "Year 5", "Year 10"]
    # Asked, signed, online, paper, declined, outstanding, no e-mail.
    assert by_year["Year 3"] == ["4", "2 (50%)", "2", "0", "1 (25%)", "1 (25%)", "1"]
    assert by_year["Year 5"] == ["2", "2 (100%)", "1", "1", "0 (0%)", "0 (0%)", "0"], "Tess counts in both her children's years"
    assert by_year["Reception"] == ["1", "1 (100%)", "1", "0", "0 (0%)", "0 (0%)", "0"]
    assert by_year["Nursery"] == ["1", "0 (0%)", "0", "0", "0 (0%)", "1 (100%)", "0"]
    assert by_year["Year 10"] == ["1", "0 (0%)", "0", "0", "0 (0%)", "1 (100%)", "0"]


def test_school_page_breaks_the_figures_down_by_registration_group(staff, school, families):
    by_reg = rows(element(staff.get(school_url(school)), "table", "by-reg-group"))
    assert list(by_reg) == ["3A", "3B", "5A", "10C", "RB", "No registration group"]
    assert by_reg["3B"] == ["3", "2 (67%)", "2", "0", "0 (0%)", "1 (33%)", "1"]
    assert by_reg["3A"] == ["1", "0 (0%)", "0", "0", "1 (100%)", "0 (0%)", "0"]
    assert by_reg["No registration group"][0] == "1"


def test_school_figures_agree_with_the_status_page(school, version, families):
    figures = dashboard.school_completion(school, selectors.signing_target(school)).figures
    status = selectors.school_status(school, version)
    reasons = dict(status.outstanding_reasons)
    assert (figures.asked, figures.signed, figures.signed_online, figures.signed_paper) == (
        status.total, status.signed, status.signed_online, status.signed_paper,
    )
    assert (figures.declined, figures.outstanding) == (status.declined, status.outstanding)
    assert figures.no_email == reasons[selectors.Standing.NO_EMAIL.label]


def test_chart_draws_the_running_total_with_a_title_a_description_and_a_table_of_the_same_figures(staff, school, families):
    response = staff.get(school_url(school))
    svg = re.search(r"<svg.*?</svg>", response.content.decode(), re.S).group(0)
    assert 'role="img"' in svg and 'aria-labelledby="chart-title"' in svg and 'aria-describedby="chart-desc"' in svg
    assert "style" not in svg, "the Content Security Policy refuses inline styles"
    title = re.search(r'<title id="chart-title">(.*?)</title>', svg, re.S).group(1)
    desc = re.search(r'<desc id="chart-desc">(.*?)</desc>', svg, re.S).group(1)
    assert "Carers who have signed version 1, running total by day, 22 November 2026 to 30 November 2026" in title
    assert "4 of 8 carers asked had signed by 30 November 2026 (50%)" in desc
    assert "The first signed on 22 November 2026; the most in one day was 2, on 24 November 2026." in desc
    assert svg.count("<circle") == 3, "a marker on each day someone signed"
    assert "8 asked to sign" in svg and "4 signed" in svg
    table = rows(element(response, "table", "chart-table"))
    assert table == {"22 November 2026": ["1", "1"], "24 November 2026": ["2", "3"], "27 November 2026": ["1", "4"]}
    assert "<details" in response.content.decode()


def test_chart_counts_each_carer_once_on_the_day_they_first_signed(school, version, families):
    timeline = dashboard.school_completion(school, selectors.signing_target(school)).timeline
    assert timeline.total == dashboard.school_completion(school, selectors.signing_target(school)).figures.signed
    assert timeline.start == datetime.date(2026, 11, 22) and timeline.end == datetime.date(2026, 11, 30)


def test_chart_layout_steps_between_signing_days_and_scales_to_everyone_asked():
    timeline = dashboard.Timeline(
        start=datetime.date(2026, 11, 22),
        end=datetime.date(2026, 11, 30),
        days=[(datetime.date(2026, 11, 22), 1, 1), (datetime.date(2026, 11, 24), 2, 3)],
        asked=8,
    )
    chart = chart_for(timeline)
    points = [tuple(map(float, point.split(","))) for point in chart.points.split()]
    values = [round((chart.bottom - y) / (chart.bottom - chart.top) * 8) for _, y in points]
    assert values == [1, 1, 3, 3], "flat until the day before the next signatures, flat to today"
    assert points[0][0] == chart.left and points[-1][0] == chart.right
    assert [tick.label for tick in chart.y_ticks] == ["0", "2", "4", "6", "8"]
    assert chart.x_ticks[0].label == "22 Nov 2026" and chart.x_ticks[-1].label == "30 Nov"
    assert chart.asked_y == chart.top
    assert [nice_step(n) for n in (1, 8, 20, 2000, 2345)] == [1, 2, 5, 500, 500]


def test_a_minor_correction_keeps_signers_signed_and_a_new_version_to_sign_asks_everyone_again(
    staff, school, school_code, version, families, now
):
    correction = published_version(
        school_code, requires_signing=False, effective_from=datetime.date(2026, 11, 30), body="Typo fixed."
    )
    olivia = Carer.objects.get(forename="Olivia")
    sign_online(olivia, correction)  # she signs the corrected text too: still one carer signed
    response = staff.get(school_url(school))
    text = text_of(response)
    assert "Carers asked to sign Social Media Code of Conduct for Parents and Carers, version 1" in text
    assert "Version 2, in force since 30 November 2026, was a correction that did not need signing again" in text
    assert "4 signed (50%): 3 online, 1 on paper" in text and "1 declined (13%)" in text
    assert rows(element(response, "table", "chart-table"))["22 November 2026"] == ["1", "1"]
    assert "30 November 2026" not in rows(element(response, "table", "chart-table"))

    published_version(school_code, requires_signing=True, effective_from=datetime.date(2026, 11, 30), body="New rules.")
    text = text_of(staff.get(school_url(school)))
    assert "version 3" in text and "correction" not in text
    assert "0 signed (0%)" in text and "8 outstanding (100%)" in text


def test_a_school_with_no_code_in_force_says_so(client):
    school = SchoolFactory()
    head = StaffRoleFactory(organisation=school, role=StaffRole.Role.HEADTEACHER).user
    client.force_login(head)
    assert "has no code of conduct in force yet" in text_of(client.get(school_url(school)))


# Who may see the figures.


@pytest.fixture
def halton(association, school, other_school):
    """The school and another both members of the association."""
    Organisation.objects.filter(pk__in=[school.pk, other_school.pk]).update(association=association)
    return association


def role(organisation, kind):
    return StaffRoleFactory(organisation=organisation, role=kind).user


def test_the_school_page_is_for_the_schools_staff_and_its_associations_admins(client, school, version, halton, other_school, headteacher, office):
    url = school_url(school)
    admin = role(halton, StaffRole.Role.ASSOCIATION_ADMIN)
    other_association_admin = role(AssociationFactory(), StaffRole.Role.ASSOCIATION_ADMIN)
    allowed = [headteacher, office, admin]
    refused = [
        role(other_school, StaffRole.Role.HEADTEACHER),
        role(other_school, StaffRole.Role.OFFICE),
        other_association_admin,
        UserFactory(),
        UserFactory(is_superuser=True, is_staff=True),
    ]
    for user in allowed:
        client.force_login(user)
        assert client.get(url).status_code == 200, user
    for user in refused:
        client.force_login(user)
        assert client.get(url).status_code == 404, user
    client.logout()
    response = client.get(url)
    assert response.status_code == 302 and response.url.startswith("/staff/login/")


def test_association_admins_see_figures_but_no_way_to_the_families(client, school, version, halton, office, families):
    client.force_login(role(halton, StaffRole.Role.ASSOCIATION_ADMIN))
    response = client.get(school_url(school))
    assert "4 signed (50%)" in text_of(response)
    assert "/staff/declarations/" not in response.content.decode()
    client.force_login(office)
    assert "/staff/declarations/whitefield-primary/" in client.get(school_url(school)).content.decode()


def test_the_association_page_is_for_its_admins_only(client, halton, school, headteacher):
    url = association_url(halton)
    client.force_login(role(halton, StaffRole.Role.ASSOCIATION_ADMIN))
    assert client.get(url).status_code == 200
    for user in (headteacher, role(AssociationFactory(), StaffRole.Role.ASSOCIATION_ADMIN), UserFactory()):
        client.force_login(user)
        assert client.get(url).status_code == 404
    assert client.get(association_url(school)).status_code == 404, "a school is not an association"
    client.logout()
    assert client.get(url).url.startswith("/staff/login/")


def test_staff_dashboard_links_to_completion_for_each_school_and_association(client, school, halton, other_school, office):
    admin = role(halton, StaffRole.Role.ASSOCIATION_ADMIN)
    client.force_login(admin)
    body = client.get("/staff/").content.decode()
    assert association_url(halton) in body
    assert school_url(school) in body and school_url(other_school) in body
    assert "/staff/declarations/" not in body
    client.force_login(office)
    body = client.get("/staff/").content.decode()
    assert school_url(school) in body and school_url(other_school) not in body
    assert association_url(halton) not in body


# Across an association.


@pytest.fixture
def members(halton, school, other_school, school_code, version, office, media, now):
    """Whitefield uses its own code (the `families` above); Peartree and a third school use the
    association's shared code, which has had a minor correction since version 1."""
    shared = CodeFactory(owner=halton)
    shared_v1 = published_version(shared, effective_from=datetime.date(2026, 9, 1))
    third = SchoolFactory(name="Alder Academy", slug="alder-academy", association=halton)
    sign_online(parent(other_school, "Pam Peartree", "Lia", "7", "7P"), shared_v1)
    parent(other_school, "Pat Peartree", "Max", "8", "8P")
    decline(parent(third, "Ada Alder", "Ned", "12", "12A"), shared_v1)
    published_version(shared, requires_signing=False, effective_from=datetime.date(2026, 10, 1), body="Typo fixed.")
    return shared


def test_association_page_shows_each_member_school_against_its_own_version_and_totals(client, halton, school, other_school, families, members):
    client.force_login(role(halton, StaffRole.Role.ASSOCIATION_ADMIN))
    response = client.get(association_url(halton))
    table = rows(element(response, "table", "schools"))
    assert list(table) == ["Alder Academy", "Peartree Spring Primary School", "Whitefield Primary School", "All schools"]
    assert table["Whitefield Primary School"] == ["Version 1 of its own code", "8", "4 (50%)", "3", "1", "1 (13%)", "3 (38%)", "1"]
    assert table["Peartree Spring Primary School"] == ["Version 1 of the shared code", "2", "1 (50%)", "1", "0", "0 (0%)", "1 (50%)", "0"]
    assert table["Alder Academy"] == ["Version 1 of the shared code", "1", "0 (0%)", "0", "0", "1 (100%)", "0 (0%)", "0"]
    assert table["All schools"] == ["3 schools with a code in force", "11", "5 (45%)", "4", "1", "2 (18%)", "4 (36%)", "1"]
    body = response.content.decode()
    for school_ in (school, other_school):
        assert f'href="{school_url(school_)}"' in body
    assert "Olivia" not in body and "Pam" not in body


def test_association_rows_match_each_schools_own_page(halton, school, other_school, families, members):
    completion = dashboard.association_completion(halton)
    for row in completion.rows:
        version = selectors.version_to_sign(row.school)
        assert row.target.in_force == version
        assert row.target.required == selectors.signing_baseline(version.code, version)
        assert row.figures == dashboard.school_completion(row.school, selectors.signing_target(row.school)).figures


def test_signing_targets_for_many_schools_follow_each_schools_own_code_or_its_associations(
    halton, school, school_code, members, now
):
    """A school with a code of its own signs it (even before any version is in force); the other
    members sign the association's, whose minor correction keeps version 1 as the one required."""
    scheduled = SchoolFactory(association=halton)
    own_future = CodeFactory(owner=scheduled)
    own_v1 = published_version(own_future, effective_from=datetime.date(2027, 1, 1))
    nothing = SchoolFactory(association=halton)
    CodeFactory(owner=nothing)  # a code with no published version: nothing to sign
    shared_v1, correction = members.versions.order_by("number")
    whitefield_v1 = school_code.versions.get()
    schools = list(halton.members.all())
    expected = {
        datetime.date(2026, 9, 15): {scheduled: None, nothing: None, school: (whitefield_v1, whitefield_v1)},
        datetime.date(2026, 11, 22): {scheduled: None, nothing: None, school: (whitefield_v1, whitefield_v1)},
        datetime.date(2027, 2, 1): {scheduled: (own_v1, own_v1), nothing: None, school: (whitefield_v1, whitefield_v1)},
    }
    for day, known in expected.items():
        targets = selectors.signing_targets(schools, day)
        for member in schools:
            target = targets[member.pk]
            answer = None if target is None else (target.in_force, target.required)
            shared = (shared_v1, shared_v1) if day < datetime.date(2026, 10, 1) else (correction, shared_v1)
            assert answer == known.get(member, shared), (day, member)
            assert target == selectors.signing_target(member, day)


# Bounded queries.


STATES = ["online", "paper", "declined", "no-email", "outstanding", "outstanding-two-children"]
YEARS = [value for value, _ in Pupil.YearGroup.choices]


def crowd(school, version, count, recorded_by, *, start=0):
    """`count` carers at the school in every state, in every year group, made in bulk."""
    pupils = Pupil.objects.bulk_create(
        Pupil(school=school, mis_id=f"P{start + n}", forename="Pupil", surname=f"{start + n}",
              year_group=YEARS[n % len(YEARS)], reg_group=f"{YEARS[n % len(YEARS)]}{'AB'[n % 2]}")
        for n in range(count)
    )
    carers = Carer.objects.bulk_create(
        Carer(school=school, mis_id=f"C{start + n}", forename="Carer", surname=f"{start + n}",
              email="" if STATES[n % len(STATES)] in ("no-email", "paper") else f"c{start + n}@example.org")
        for n in range(count)
    )
    PupilCarer.objects.bulk_create(
        PupilCarer(pupil=pupil, carer=carer, parental_responsibility=True) for pupil, carer in zip(pupils, carers)
    )
    PupilCarer.objects.bulk_create(
        PupilCarer(pupil=pupils[n - 1], carer=carers[n], parental_responsibility=True)
        for n in range(1, count) if STATES[n % len(STATES)] == "outstanding-two-children"
    )
    signed_at = itertools.cycle([NOW, NOW + DAY, NOW + 3 * DAY])
    Declaration.objects.bulk_create(
        Declaration(
            school=school, carer=carer, version=version, version_fingerprint=version.fingerprint,
            carer_name="Carer", children_named=[], statement="I agree.", typed_name="Carer", agreed=True,
            signed_at=next(signed_at), method=STATES[n % len(STATES)],
            recorded_by=recorded_by if STATES[n % len(STATES)] == "paper" else None,
        )
        for n, carer in enumerate(carers) if STATES[n % len(STATES)] in ("online", "paper")
    )
    Decline.objects.bulk_create(
        Decline(school=school, carer=carer, version=version, declined_at=NOW)
        for n, carer in enumerate(carers) if STATES[n % len(STATES)] == "declined"
    )


def queries_for(client, url) -> int:
    # A staff session notes its last use at most once a minute (portal/sessions.py), on whichever
    # request comes first: not a query of the page's.
    client.get("/staff/")
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


def test_school_page_takes_the_same_number_of_queries_for_20_or_2000_carers(staff, school, version, office, now):
    now.move_to(NOW + 4 * DAY)
    crowd(school, version, 20, office)
    with_20 = queries_for(staff, school_url(school))
    crowd(school, version, 1980, office, start=20)
    with_2000 = queries_for(staff, school_url(school))
    assert with_2000 == with_20, (with_20, with_2000)
    figures = dashboard.school_completion(school, selectors.signing_target(school)).figures
    assert figures.asked == 2000 and figures.signed_online == 334 and figures.signed_paper == 334
    print(f"school page: {with_20} queries for 20 carers, {with_2000} for 2,000")


def test_association_page_costs_a_few_queries_per_code_in_use_and_none_per_school_or_carer(
    client, association, office, now
):
    now.move_to(NOW + 4 * DAY)
    shared = CodeFactory(owner=association)
    shared_version = published_version(shared)
    admin = role(association, StaffRole.Role.ASSOCIATION_ADMIN)
    client.force_login(admin)

    def add_school(carers, *, own_code=False):
        school = SchoolFactory(association=association)
        version = published_version(CodeFactory(owner=school)) if own_code else shared_version
        crowd(school, version, carers, office)

    add_school(7, own_code=True)
    for _ in range(2):
        add_school(7)
    with_3 = queries_for(client, association_url(association))
    for _ in range(11):
        add_school(180)
    with_14_sharing = queries_for(client, association_url(association))
    assert with_14_sharing == with_3, (with_3, with_14_sharing)
    for _ in range(4):
        add_school(7, own_code=True)
    with_5_own_codes = queries_for(client, association_url(association))
    # Each school's own code: its version in force, the versions that count, and its carers
    # counted against them.
    assert with_5_own_codes == with_3 + 3 * 4, (with_3, with_5_own_codes)
    completion = dashboard.association_completion(association)
    assert len(completion.rows) == 18 and completion.total.asked == 7 * 7 + 11 * 180


# Fresh figures, and the sets the association counts from.


def test_a_signature_made_since_the_last_request_counts_on_the_next(staff, school, version, families):
    """Nothing is kept between requests: the next one counts a signature made since the last."""
    url = school_url(school)
    assert "4 signed (50%): 3 online, 1 on paper" in text_of(staff.get(url))
    sign_online(Carer.objects.get(forename="Nat"), version)
    text = text_of(staff.get(url))
    assert "5 signed (63%): 4 online, 1 on paper" in text and "2 outstanding (25%)" in text
    table = rows(element(staff.get(url), "table", "chart-table"))
    assert list(table.values())[-1][1] == "5"


def test_association_counts_a_paper_signature_overtaken_by_a_later_version_as_the_schools_pages_do(
    association, office, media, now
):
    """Every member on the shared code (one set of answers for all): a paper signature counts as
    paper while its version is the code's latest, and as online once the carer signs a later
    correction online; the association's rows agree with each school's own page throughout."""
    shared = CodeFactory(owner=association)
    first_version = published_version(shared, effective_from=datetime.date(2026, 9, 1))
    alder, birch = SchoolFactory(association=association), SchoolFactory(association=association)
    pia = parent(alder, "Pia Paper", "Lou", "2", "2A")
    sign_on_paper(pia, first_version, office, datetime.date(2026, 11, 22))
    sign_on_paper(parent(birch, "Pete Paper", "Mo", "4", "4B", email=False), first_version, office, datetime.date(2026, 11, 22))
    sign_online(parent(birch, "Oona Online", "Nia", "4", "4A"), first_version)

    def figures_agreeing_with_each_schools_page():
        completion = dashboard.association_completion(association)
        for row in completion.rows:
            assert row.figures == dashboard.school_completion(row.school, selectors.signing_target(row.school)).figures
        return {row.school: row.figures for row in completion.rows}

    figures = figures_agreeing_with_each_schools_page()
    assert (figures[alder].signed_online, figures[alder].signed_paper) == (0, 1)
    assert (figures[birch].signed_online, figures[birch].signed_paper) == (1, 1)

    correction = published_version(shared, requires_signing=False, effective_from=datetime.date(2026, 11, 22), body="Typo fixed.")
    # The service does not ask an up-to-date carer to sign again; the rule still says her latest
    # declaration that counts decides, so make one as an import of old records might.
    Declaration.objects.create(
        school=alder, carer=pia, version=correction, version_fingerprint=correction.fingerprint, carer_name="Pia Paper",
        children_named=[], statement="I agree.", typed_name="Pia Paper", agreed=True, signed_at=NOW + DAY,
        method=Declaration.Method.ONLINE,
    )
    figures = figures_agreeing_with_each_schools_page()
    assert (figures[alder].signed_online, figures[alder].signed_paper) == (1, 0), "her latest declaration is online"
    assert (figures[birch].signed_online, figures[birch].signed_paper) == (1, 1)


def test_a_row_of_figures_prints_the_columns_of_the_heading_in_order():
    def texts(tag, html_):
        return [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(rf"<{tag}[^>]*>(.*?)</{tag}>", html_)]

    assert texts("th", render_to_string("dashboard/_figures.html#head")) == [
        "Asked to sign", "Signed", "Signed online", "Signed on paper", "Declined", "Outstanding",
        "Outstanding with no e-mail address",
    ]
    cells = render_to_string("dashboard/_figures.html#cells", {"f": Figures(8, 3, 1, 1, 3, 1)})
    assert texts("td", cells) == ["8", "4 (50%)", "3", "1", "1 (13%)", "3 (38%)", "1"]
    empty = render_to_string("dashboard/_figures.html#cells", {"f": Figures()})
    assert texts("td", empty) == ["0"] * 7, "no percentages when nobody is asked"


def test_a_chart_published_today_starts_today_not_the_day_before():
    today = datetime.date(2026, 11, 22)
    timeline = dashboard.Timeline(start=today, end=today, days=[(today, 3, 3)], asked=8)
    chart = chart_for(timeline)
    assert [tick.label for tick in chart.x_ticks] == ["22 Nov 2026", "now"]
    points = [tuple(map(float, point.split(","))) for point in chart.points.split()]
    assert points == [(chart.left, chart.bottom), (chart.right, chart.end.y)]
    assert chart.end.running == 3
