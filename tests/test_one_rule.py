"""One rule, one place: the same families run through every page, export, figure and send that
asks who is asked to sign and where each carer stands, and they all agree.

Each case is a family a school really has. For each, the status page (declarations), the
register (evidence), the completion figures (evidence, and the weekly e-mail), the invitations to "everyone who has not
signed" and the paper-form list (sending) are asked, and must tell the same story.
"""

import csv
import io

import pytest

from codes.models import Code
from declarations import selectors
from declarations.models import Declaration
from evidence.dashboard import association_completion, school_completion
from evidence.exports import DeclarationFilters, RegisterCsv
from evidence.link_export import carers_to_reach
from schools.models import Carer
from sending.invitations import audience_carers, audience_paper_carers
from sending.staff_notices import completion as weekly_completion
from tests.declarations.cycle import next_version
from tests.factories import AssociationFactory, CodeFactory, UserFactory, published_version
from tests.sending.test_sending import parent, record_decline, record_signature


def signs(school, code):
    carer = parent(school)
    record_signature(carer, code.versions.order_by("number").last())
    return carer


def declines_then_signs(school, code):
    carer = parent(school)
    version = code.versions.order_by("number").last()
    record_decline(carer, version)
    record_signature(carer, version)
    return carer


def signs_before_a_minor_correction(school, code):
    carer = parent(school)
    record_signature(carer, code.versions.order_by("number").last())
    next_version(code, requires_signing=False, revision_note="A typo fixed.")
    return carer


def signs_before_a_real_change(school, code):
    carer = parent(school)
    record_signature(carer, code.versions.order_by("number").last())
    next_version(code)
    return carer


def signed_on_paper(carer, version):
    return record_signature(carer, version, method=Declaration.Method.PAPER, recorded_by=UserFactory())


def signs_on_paper(school, code):
    carer = parent(school)
    signed_on_paper(carer, code.versions.order_by("number").last())
    return carer


def signs_on_paper_then_online_after_a_minor_correction(school, code):
    carer = parent(school)
    signed_on_paper(carer, code.versions.order_by("number").last())
    record_signature(carer, next_version(code, requires_signing=False, revision_note="A typo fixed."))
    return carer


def signs_online_then_on_paper_after_a_minor_correction(school, code):
    carer = parent(school)
    record_signature(carer, code.versions.order_by("number").last())
    signed_on_paper(carer, next_version(code, requires_signing=False, revision_note="A typo fixed."))
    return carer


def address_bounced(school, code):
    carer = parent(school)
    Carer.objects.filter(pk=carer.pk).update(email_bounced=carer.email)  # as sending.bounces records it
    return carer


def declines(school, code):
    carer = parent(school)
    record_decline(carer, code.versions.order_by("number").last())
    return carer


# (case, how the family is made, asked to sign?, standing on the status page)
CASES = [
    ("signed online", signs, True, selectors.Standing.ONLINE),
    ("declined, then signed", declines_then_signs, True, selectors.Standing.ONLINE),
    ("signed on paper", signs_on_paper, True, selectors.Standing.PAPER),
    # Both declarations count; how the carer signed is told by the latest.
    ("on paper, then online after a minor correction", signs_on_paper_then_online_after_a_minor_correction, True, selectors.Standing.ONLINE),
    ("online, then on paper after a minor correction", signs_online_then_on_paper_after_a_minor_correction, True, selectors.Standing.PAPER),
    ("signed, then a minor correction", signs_before_a_minor_correction, True, selectors.Standing.ONLINE),
    ("signed, then a change that needs signing", signs_before_a_real_change, True, selectors.Standing.NOT_SENT),
    ("declined", declines, True, selectors.Standing.DECLINED),
    ("not asked yet", lambda school, code: parent(school), True, selectors.Standing.NOT_SENT),
    ("no e-mail address", lambda school, code: parent(school, email=""), True, selectors.Standing.NO_EMAIL),
    ("e-mail address bounced", address_bounced, True, selectors.Standing.BOUNCED),
    (
        "shares an e-mail address with another carer",
        lambda school, code: parent(school, email="family@example.org") and parent(school, email="family@example.org"),
        True,
        selectors.Standing.NOT_SENT,
    ),
    ("no parental responsibility", lambda school, code: parent(school, responsible=False), False, None),
    ("only child has left", lambda school, code: parent(school, on_roll=False), False, None),
]


@pytest.fixture(params=["own code", "joined an association late"])
def school_and_code(request, school):
    if request.param == "own code":
        code = CodeFactory(owner=school)
    else:
        # The association's code was in force before the school joined it: the school's carers
        # are asked to sign it all the same.
        association = AssociationFactory()
        code = CodeFactory(owner=association)
        school.association = association
        school.save()
    published_version(code)
    return school, code


@pytest.mark.parametrize(("case", "make", "asked", "standing"), CASES, ids=[case[0] for case in CASES])
def test_every_consumer_agrees_on_who_is_asked_and_where_they_stand(school_and_code, case, make, asked, standing):
    school, code = school_and_code
    carer = make(school, code)
    target = selectors.signing_target(school)
    assert target is not None and target.in_force.code == Code.objects.get(pk=code.pk)

    # Who is asked to sign: the one rule, and the status page built on it.
    assert Carer.objects.filter(pk=carer.pk).asked_to_sign().exists() == asked
    status = selectors.school_status(school, target.in_force)
    rows = {row.carer.pk: row for row in status.rows}
    assert (carer.pk in rows) == asked
    if not asked:
        assert status.total == 0
        assert school_completion(school, target).figures.asked == 0
        return

    # Where they stand: the annotation, the status page and the register say the same.
    annotated = selectors.with_standing(Carer.objects.filter(pk=carer.pk), target).get()
    assert annotated.standing == standing
    row = rows[carer.pk]
    state = "signed" if standing in selectors.SIGNED else "declined" if standing == "declined" else "outstanding"
    assert row.state == state
    register = list(csv.reader(io.StringIO(RegisterCsv(school=school, filters=DeclarationFilters()).render()[2].decode("utf-8-sig"))))
    register_row = next(line for line in register[1:] if carer.surname in line and carer.forename in line)
    assert any(cell.lower().startswith(state) for cell in register_row), register_row

    # The completion figures count them the same way.
    figures = school_completion(school, target).figures
    assert figures.asked == status.total
    assert (figures.signed, figures.declined, figures.outstanding) == (status.signed, status.declined, status.outstanding)
    assert figures.no_email == sum(1 for r in status.rows if r.reason == selectors.Standing.NO_EMAIL)
    # The headteacher's weekly e-mail and the association's dashboard count the same.
    assert weekly_completion([school])[0]["figures"] == figures
    if school.association_id:
        (row,) = [row for row in association_completion(school.association).rows if row.school == school]
        assert row.figures == figures

    # Sending to "everyone who has not signed" reaches exactly the outstanding carers an e-mail
    # reaches; the send page's paper-form list holds the others (no address, or it bounced), the
    # same carers as the paper forms page.
    invited = set(audience_carers(school=school, audience="all-unsigned", version=target.in_force).values_list("pk", flat=True))
    paper = set(audience_paper_carers(school=school, audience="all-unsigned", version=target.in_force).values_list("pk", flat=True))
    outstanding = {r.carer.pk for r in status.rows if r.state == "outstanding"}
    assert invited == {pk for pk in outstanding if rows[pk].reason not in selectors.UNREACHED}
    assert paper == {pk for pk in outstanding if rows[pk].reason in selectors.UNREACHED}
    assert paper == {carer.pk for carer in carers_to_reach(school, target)}
