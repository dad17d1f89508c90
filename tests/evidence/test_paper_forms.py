"""Prefilled paper forms for families an e-mail does not reach: one PDF, a page per carer, with
the declaration naming the carer and children, signature and date lines, the form's reference
and the carer's own link (as a QR code and an address); the reference finds the carer when the
form comes back."""

import io
import re
from urllib.parse import urlsplit

import pytest
from django.urls import reverse
from pypdf import PdfReader

from codes.models import CodeVersion
from declarations.form_reference import carer_for_reference, form_reference
from declarations.models import SigningRequest
from schools.models import AuditEvent, Carer
from sending import invitations, outbox
from sending.models import SendBatch
from tests.factories import SchoolFactory
from tests.sending.test_sending import parent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("locmem_mail")]


@pytest.fixture
def families(school, school_code):
    no_email = parent(school, email="", year="3", reg="3B", forename="Nora", surname="Noemail")
    bounced = parent(school, year="5", reg="5A", forename="Bea", surname="Bounced")
    emailed = parent(school, year="5", reg="5A", forename="Ed", surname="Emailed")
    invitations.invitations_send(school=school, audience=SendBatch.AudienceKind.ALL, user=None, enqueue=False)
    outbox.outbox_send_pending()
    Carer.objects.filter(pk=bounced.pk).update(email_bounced=bounced.email)
    return {"no_email": no_email, "bounced": bounced, "emailed": emailed}


def pages(response) -> list[str]:
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "application/pdf"
    return [page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages]


def printed_address(text: str) -> str:
    """The short address of the carer's link printed on a page."""
    return re.search(r"https?://\S*/sign/s/[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}/", text).group(0)


def test_forms_for_carers_an_email_does_not_reach_name_them_and_their_children_with_lines_and_a_link(
    staff, school, families, client
):
    response = staff.post(reverse("exports:paper_forms", args=[school.slug]), {"who": "unreached"})
    texts = pages(response)
    assert len(texts) == 2
    for text, carer in zip(texts, [families["bounced"], families["no_email"]]):
        assert carer.full_name in text
        child = carer.children.get()
        assert child.forename in text and child.surname in text
        assert "Signature" in text and "Date" in text and "Name in capitals" in text
        assert form_reference(carer) in text
    # The printed short address opens the carer's own signing page, typed in any case.
    client.logout()
    address = urlsplit(printed_address(texts[1])).path
    opened = client.get(address.lower(), follow=True)
    assert opened.status_code == 200 and "Nora Noemail" in opened.content.decode()
    assert SigningRequest.objects.get(carer=families["no_email"]).link_number == 1
    event = AuditEvent.objects.get(action=AuditEvent.Action.PRINT_PAPER_FORMS)
    assert event.detail["carers"] == 2


def test_forms_for_one_year_group_and_for_one_carer(staff, school, families):
    texts = pages(staff.post(reverse("exports:paper_forms", args=[school.slug]), {"who": "outstanding", "year": "5"}))
    assert len(texts) == 2 and "Bea Bounced" in texts[0] and "Ed Emailed" in texts[1]

    carer = families["emailed"]
    paper_page = staff.get(reverse("declarations_staff:paper", args=[school.slug, carer.pk])).content.decode()
    assert form_reference(carer) in paper_page
    texts = pages(staff.post(reverse("exports:paper_forms", args=[school.slug]), {"carer": carer.pk}))
    assert len(texts) == 1 and "Ed Emailed" in texts[0]


def test_nothing_to_print_says_so(staff, school, families):
    response = staff.post(
        reverse("exports:paper_forms", args=[school.slug]), {"who": "unreached", "year": "11"}, follow=True
    )
    assert "Nobody you chose needs a paper form" in response.content.decode()


def test_the_reference_on_a_returned_form_opens_its_carer_and_a_mistyped_one_finds_nobody(staff, school, families):
    carer = families["no_email"]
    reference = form_reference(carer)
    find = reverse("declarations_staff:paper_find", args=[school.slug])
    response = staff.get(find, {"reference": reference.lower().replace("-", " ")})
    assert response.status_code == 302
    assert response["Location"] == reverse("declarations_staff:paper", args=[school.slug, carer.pk])

    wrong_letter = reference[:-1] + ("A" if reference[-1] != "A" else "B")
    response = staff.get(find, {"reference": wrong_letter}, follow=True)
    assert f"No paper form of {school.name} has the reference “{wrong_letter}”" in response.content.decode()


def test_a_reference_finds_only_the_schools_own_carers(school, families):
    elsewhere = parent(SchoolFactory(), forename="Olga", surname="Other")
    assert carer_for_reference(Carer.objects.filter(school=school), form_reference(elsewhere)) is None
    assert carer_for_reference(Carer.objects.filter(school=school), form_reference(families["bounced"])) == families["bounced"]


def test_staff_of_another_school_cannot_print_its_forms(client, verified_client, school, families):
    from tests.factories import StaffRoleFactory

    verified_client(client, StaffRoleFactory(organisation=SchoolFactory()).user)
    assert client.post(reverse("exports:paper_forms", args=[school.slug]), {"who": "unreached"}).status_code == 404
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.PRINT_PAPER_FORMS).exists()


def test_a_short_address_stops_working_once_a_new_link_replaces_its_link(staff, school, families, client):
    from declarations import services

    texts = pages(staff.post(reverse("exports:paper_forms", args=[school.slug]), {"carer": families["no_email"].pk}))
    address = urlsplit(printed_address(texts[0])).path
    services.link_issue(signing_request=SigningRequest.objects.get(carer=families["no_email"]))
    client.logout()
    assert client.get(address).status_code == 404
    assert client.get("/sign/s/AAAA-BBBB-CCCC/").status_code == 404


def test_each_form_is_in_its_carers_home_language_and_the_declaration_stays_as_the_school_wrote_it(staff, school, school_code):
    welsh = parent(school, email="", year="3", reg="3B", forename="Megan", surname="Cymraeg")
    Carer.objects.filter(pk=welsh.pk).update(language="cy")
    english = parent(school, email="", year="3", reg="3B", forename="Nora", surname="Noemail")
    response = staff.post(reverse("exports:paper_forms", args=[school.slug]), {"who": "unreached"})
    by_carer = {carer.full_name: text for text in pages(response) for carer in (welsh, english) if carer.full_name in text}
    cymraeg, saesneg = by_carer[welsh.full_name], by_carer[english.full_name]
    assert "Llofnod" in cymraeg and "Enw mewn priflythrennau" in cymraeg and "Neu llofnodwch ar-lein" in cymraeg
    assert f"Cyfeirnod {form_reference(welsh)}" in cymraeg
    assert "Name in capitals" not in cymraeg and "Name in capitals" in saesneg and "Llofnod" not in saesneg
    # The declaration is the school's English text on both.
    statement = CodeVersion.objects.get(code=school_code).declaration_statement.split("{")[0].strip()[:30]
    assert statement and statement in " ".join(cymraeg.split()) and statement in " ".join(saesneg.split())
