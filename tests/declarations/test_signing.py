"""Signing online: what the carer sees, what is required, and the evidence that is recorded."""

import datetime
import html
import re

import pytest
from django.contrib import admin
from django.db import transaction
from django.test import RequestFactory
from pytest_django.asserts import assertInHTML

from codes.markup import render_markdown
from declarations import services
from declarations.models import Declaration, Decline, SigningRequest
from portal.client_ip import client_ip
from schools.models import AuditEvent
from sending.models import OutboxMessage
from tests.declarations.factories import NOW, add_child, family, issued_link
from tests.factories import published_version

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tasks")]

WHITEFIELD_STATEMENT = (
    "I {carer}, parent of {children}, declare that I have received, read and understand the "
    "Social Media Code of Conduct for Parents and Carers of {school}."
)


def page(response) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def opened(client, token):
    """A browser that has opened the carer's link."""
    assert client.get(f"/sign/t/{token}/").status_code == 303
    return client


def sign(client, version, typed_name="Mary Smith", **headers):
    return client.post("/sign/", {"typed_name": typed_name, "agreed": "on", "version": version.pk}, **headers)


# The page.


def test_the_page_shows_the_school_the_code_and_the_declaration_filled_in(opened, school, version):
    text = page(opened.get("/sign/"))
    assert "Whitefield Primary School" in text
    assert f'href="/schools/{school.slug}/brand.css"' in text  # the school's branding
    assert "Parents will be kind online." in text  # the full code
    assert "I Mary Smith, parent/carer of Amy Smith and Ben Smith, declare that I have received" in text
    assert 'name="typed_name"' in text and 'autocomplete="name"' in text
    assertInHTML(f'<input type="hidden" name="version" value="{version.pk}">', text)
    checkbox = text[text.index('name="agreed"') - 200 : text.index('name="agreed"') + 400]
    assert 'type="checkbox"' in checkbox and "checked" not in checkbox
    assert "<script" not in text  # works without JavaScript


def test_the_page_costs_the_same_few_queries_however_many_children_and_past_versions(
    opened, carer, school_code, version, django_assert_num_queries
):
    """Parents open the page all at once in a September evening: its cost must not grow with the
    family or the school's history (bench/signing.py measures it under load)."""
    with django_assert_num_queries(7):  # session, link, children, code, version in force, declarations, decline
        assert opened.get("/sign/").status_code == 200
    for n in range(4):
        add_child(carer, forename=f"Child{n}", surname="Smith")
    services.declaration_sign(
        signing_request=services.signing_request_for(carer=carer, version=version),
        version_id_shown=version.pk, typed_name="Mary Smith", agreed=True, ip=None, user_agent="",
    )
    newer = published_version(school_code, body="## Code\n\nParents will be kind online, always.")
    newer_link = services.signing_request_for(carer=carer, version=newer)
    services.link_issue(signing_request=newer_link)
    session = opened.session
    session["signing"] = {"request": newer_link.pk, "link": SigningRequest.objects.get(pk=newer_link.pk).token_hash}
    session.save()
    with django_assert_num_queries(8):  # and what changed since the version they signed
        text = page(opened.get("/sign/"))
    assert "You signed version 1" in text and "Child3 Smith" in text


def test_the_declaration_names_only_children_on_roll_the_carer_is_responsible_for(opened, carer):
    add_child(carer, forename="Cara", surname="Smith", on_roll=False)
    add_child(carer, forename="Dan", surname="Jones", parental_responsibility=False)
    text = page(opened.get("/sign/"))
    assert "parent/carer of Amy Smith and Ben Smith," in text
    assert "Cara" not in text and "Dan Jones" not in text


def test_the_schools_own_declaration_wording_is_used(client, school, school_code):
    version = published_version(school_code, declaration_statement=WHITEFIELD_STATEMENT, effective_from=datetime.date(2026, 11, 1))
    carer = family(school, forename="Ann", surname="Lee", email="ann@example.org", children=(("Zoë", "Lee", "R", "RA"),))
    _, token = issued_link(carer, version)
    client.get(f"/sign/t/{token}/")
    assert (
        "I Ann Lee, parent of Zoë Lee, declare that I have received, read and understand the Social Media "
        "Code of Conduct for Parents and Carers of Whitefield Primary School." in page(client.get("/sign/"))
    )


# What is required.


def test_typed_name_and_checkbox_are_required_with_plain_english_errors_and_nothing_recorded(opened, version):
    response = opened.post("/sign/", {"typed_name": "", "version": version.pk})
    assert response.status_code == 200
    text = page(response)
    assert "<title>Error: " in text
    assert "There is a problem" in text
    assert '<a href="#id_typed_name">Type your full name to sign</a>' in text
    assert '<a href="#id_agreed">Tick the box to confirm you agree</a>' in text
    assert 'id="id_typed_name"' in text and 'id="id_agreed"' in text
    assert not Declaration.objects.exists()
    assert not AuditEvent.objects.exists()
    assert not OutboxMessage.objects.exists()


def test_a_name_of_only_spaces_is_not_a_signature(opened, version):
    response = sign(opened, version, typed_name="    ")
    assert "Type your full name to sign" in page(response)
    assert not Declaration.objects.exists()


def test_an_unticked_box_is_not_agreement_and_the_typed_name_is_kept(opened, version):
    response = opened.post("/sign/", {"typed_name": "Mary Smith", "version": version.pk})
    text = page(response)
    assert "Tick the box to confirm you agree" in text and 'value="Mary Smith"' in text
    assert not Declaration.objects.exists()


# What is recorded.


def test_submit_records_every_evidence_field(
    opened, school, carer, version, link, tasks, django_capture_on_commit_callbacks
):
    signing_request, _ = link
    shown = page(opened.get("/sign/"))
    long_browser = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) " + "x" * 1500
    with django_capture_on_commit_callbacks(execute=True):
        response = sign(
            opened, version, typed_name="  Mary   Smith ", REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT=long_browser
        )
    assert response.status_code == 303 and response["Location"] == "/sign/done/"

    declaration = Declaration.objects.get()
    amy, ben = sorted(carer.children.all(), key=lambda pupil: pupil.forename)
    assert declaration.version == version
    assert declaration.version_fingerprint == version.fingerprint and len(version.fingerprint) == 64
    assert declaration.school == school
    assert declaration.carer == carer
    assert declaration.request == signing_request
    assert declaration.carer_name == "Mary Smith"
    assert declaration.children_named == [{"id": amy.pk, "name": "Amy Smith"}, {"id": ben.pk, "name": "Ben Smith"}]
    assert declaration.statement == services.statement_for(carer=carer, version=version)
    assert html.unescape(str(render_markdown(declaration.statement))) in shown  # exactly as shown
    assert declaration.typed_name == "Mary Smith"
    assert declaration.agreed is True
    assert declaration.signed_at == NOW and declaration.signed_at.utcoffset() == datetime.timedelta(0)
    assert declaration.ip_address == "203.0.113.9"
    assert declaration.user_agent == long_browser[:1000]
    assert declaration.method == Declaration.Method.ONLINE
    assert declaration.recorded_by is None and not declaration.paper_scan

    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.school, event.carer) == ("sign", None, school, carer)
    assert event.detail["declaration"] == declaration.pk

    message = OutboxMessage.objects.get()
    assert (message.kind, message.carer, message.version) == (OutboxMessage.Kind.CONFIRMATION, carer, version)
    assert [(result.task.name, result.args) for result in tasks.results] == [
        ("render_declaration_pdf", [declaration.pk]),  # its PDF (evidence/pdf.py), then the e-mail
        ("send_outbox_message", [message.pk]),
    ]


def test_the_confirmation_email_is_queued_only_when_the_declaration_is_committed(opened, version, tasks):
    sign(opened, version)  # the test's transaction never commits
    assert OutboxMessage.objects.filter(kind="confirmation").count() == 1
    assert tasks.results == []


def test_with_the_portals_task_queue_the_pdf_and_email_tasks_commit_and_roll_back_with_the_signature(
    link, version, settings
):
    """django-tasks-db keeps its queue in the portal's database: the signature's tasks are written
    in its transaction, so a failure after signing leaves neither a declaration nor a task, and
    a crash just after the commit cannot lose the PDF or the confirmation."""
    dummy, settings.TASKS = settings.TASKS, {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    from django_tasks_db.models import DBTaskResult

    signing_request, _ = link
    evidence = dict(version_id_shown=version.pk, typed_name="Mary Smith", agreed=True, ip=None, user_agent="")
    with pytest.raises(RuntimeError), transaction.atomic():
        services.declaration_sign(signing_request=signing_request, **evidence)
        queued = sorted(path.rsplit(".", 1)[1] for path in DBTaskResult.objects.values_list("task_path", flat=True))
        assert queued == ["render_declaration_pdf", "send_outbox_message"]
        raise RuntimeError("the request failed after signing")
    assert not Declaration.objects.exists() and not DBTaskResult.objects.exists()

    declaration = services.declaration_sign(signing_request=signing_request, **evidence)
    pdf_task = DBTaskResult.objects.get(task_path__endswith="render_declaration_pdf")
    assert pdf_task.args_kwargs["args"] == [declaration.pk]
    settings.TASKS = dummy  # the module's `tasks` fixture clears its in-memory queue afterwards


def test_the_receipt_shows_what_was_signed_when_and_the_fingerprint(opened, version):
    response = sign(opened, version)
    receipt = page(opened.get(response["Location"]))
    assert "You have signed the code of conduct" in receipt
    assert "A confirmation e-mail is on its way" in receipt
    assert f"version {version.number}" in receipt
    assert version.fingerprint in receipt
    assert "22 November 2026 at 12:00" in receipt
    assert "Amy Smith, Ben Smith" in receipt
    assert "I Mary Smith, parent/carer of Amy Smith and Ben Smith" in receipt


def _without_csrf_token(content: bytes) -> bytes:
    """A page's bytes but for the language switch's CSRF token, which is masked anew each time."""
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]*"', b"", content)


def test_second_submit_creates_no_second_declaration_and_shows_the_same_receipt(opened, version):
    first = sign(opened, version)
    first_receipt = _without_csrf_token(opened.get("/sign/done/").content)
    second = sign(opened, version, typed_name="Mary A. Smith")
    assert first["Location"] == second["Location"] == "/sign/done/"
    assert _without_csrf_token(opened.get("/sign/done/").content) == first_receipt
    assert Declaration.objects.count() == 1
    assert Declaration.objects.get().typed_name == "Mary Smith"
    assert AuditEvent.objects.filter(action="sign").count() == 1
    assert OutboxMessage.objects.count() == 1


def test_signing_twice_through_the_service_returns_the_first_declaration(link, version):
    signing_request, _ = link
    evidence = dict(version_id_shown=version.pk, typed_name="Mary Smith", agreed=True, ip="203.0.113.9", user_agent="")
    first = services.declaration_sign(signing_request=signing_request, **evidence)
    second = services.declaration_sign(signing_request=signing_request, **evidence)
    assert first.pk == second.pk
    assert Declaration.objects.count() == 1


def test_a_version_published_while_the_page_was_open_is_refused_and_shown(opened, school_code, version):
    assert "Parents will be kind online." in page(opened.get("/sign/"))
    newer = published_version(
        school_code,
        body="## Expectations\n\nParents will be kind online, and in the playground.",
        revision_note="Now covers the playground.",
        effective_from=datetime.date(2026, 11, 22),
        requires_signing=True,
    )
    response = sign(opened, version)
    assert response.status_code == 409
    text = page(response)
    assert "The school published a new version of its code while you were reading" in text
    assert "and in the playground." in text
    assertInHTML(f'<input type="hidden" name="version" value="{newer.pk}">', text)
    assert 'value="Mary Smith"' in text
    assert not Declaration.objects.exists()

    assert sign(opened, newer).status_code == 303
    assert Declaration.objects.get().version == newer


def test_a_submit_after_the_link_expired_is_refused(opened, version, link, now):
    signing_request, _ = link
    SigningRequest.objects.filter(pk=signing_request.pk).update(expires_at=NOW + datetime.timedelta(hours=1))
    now.shift(datetime.timedelta(hours=2))  # the page was left open; the session is still alive
    response = sign(opened, version)
    assert response.status_code == 410
    assert "This link has expired" in page(response)
    assert not Declaration.objects.exists()


def test_the_service_refuses_an_expired_link(link, version, now):
    signing_request, _ = link
    now.move_to(signing_request.expires_at)
    with pytest.raises(services.LinkExpired):
        services.declaration_sign(
            signing_request=signing_request, version_id_shown=version.pk, typed_name="Mary Smith",
            agreed=True, ip=None, user_agent="",
        )


# Where the request came from.


def test_a_forged_forwarded_header_from_an_untrusted_address_is_not_recorded(opened, version, settings):
    settings.PORTAL_TRUSTED_PROXIES = ["10.0.0.1"]
    sign(opened, version, REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="198.51.100.66")
    assert Declaration.objects.get().ip_address == "203.0.113.9"


def test_behind_a_trusted_proxy_the_clients_address_is_recorded(opened, version, settings):
    settings.PORTAL_TRUSTED_PROXIES = ["10.0.0.0/8"]
    sign(opened, version, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="192.0.2.1, 198.51.100.23, 10.0.0.9")
    # 192.0.2.1 is what the client wrote itself; 198.51.100.23 is what our proxy saw.
    assert Declaration.objects.get().ip_address == "198.51.100.23"


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        ("203.0.113.9", "", "203.0.113.9"),
        ("203.0.113.9", "198.51.100.1", "203.0.113.9"),  # not from our proxy: header ignored
        ("10.0.0.2", "", "10.0.0.2"),  # the proxy itself
        ("10.0.0.2", "198.51.100.1", "198.51.100.1"),
        ("10.0.0.2", "6.6.6.6, 198.51.100.1", "198.51.100.1"),
        ("10.0.0.2", "198.51.100.1, 10.0.0.3", "198.51.100.1"),
        ("10.0.0.2", "2001:db8::5", "2001:db8::5"),
        ("10.0.0.2", "[2001:db8::5]:443", "2001:db8::5"),
        ("10.0.0.2", "198.51.100.1:5123", "198.51.100.1"),
        ("10.0.0.2", "not-an-address", None),
        ("::ffff:203.0.113.9", "", "203.0.113.9"),
        ("", "198.51.100.1", None),
    ],
)
def test_client_ip(settings, remote, forwarded, expected):
    settings.PORTAL_TRUSTED_PROXIES = ["10.0.0.0/8"]
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


# Declining.


def test_decline_with_a_message_is_recorded_and_visible_to_the_school(
    opened, client, verified_client, school, carer, version, office
):
    form = page(opened.get("/sign/decline/"))
    assert "Signing the code of conduct is not compulsory" in form
    response = opened.post(
        "/sign/decline/", {"message": "I do not use social media.", "version": version.pk}, REMOTE_ADDR="203.0.113.9"
    )
    assert response.status_code == 303 and response["Location"] == "/sign/declined/"
    assert "The school has your answer" in page(opened.get("/sign/declined/"))

    decline = Decline.objects.get()
    assert (decline.carer, decline.version, decline.message, decline.ip_address) == (
        carer, version, "I do not use social media.", "203.0.113.9"
    )
    assert AuditEvent.objects.get().action == "decline"
    assert not Declaration.objects.exists()

    staff = client.__class__()
    verified_client(staff, office)
    status = page(staff.get(f"/staff/declarations/{school.slug}/"))
    assert "Declined" in status and "I do not use social media." in status


def test_a_carer_who_declined_can_still_sign(opened, version):
    opened.post("/sign/decline/", {"message": "", "version": version.pk})
    assert "You told the school on 22 November 2026 that you do not want to sign" in page(opened.get("/sign/"))
    assert sign(opened, version).status_code == 303
    assert Declaration.objects.count() == 1


# Signing again after a new version.


def test_a_carer_who_signed_before_sees_what_changed(client, school, school_code, carer, version):
    first_link, _ = issued_link(carer, version)
    services.declaration_sign(
        signing_request=first_link, version_id_shown=version.pk, typed_name="Mary Smith", agreed=True, ip=None,
        user_agent="",
    )
    newer = published_version(
        school_code,
        body="## Expectations\n\nParents will be kind online and offline.\n\n- Do not post photos of pupils",
        revision_note="We now ask for kindness offline too.",
        effective_from=datetime.date(2026, 11, 22),
    )
    _, token = issued_link(carer, newer)
    client.get(f"/sign/t/{token}/")
    text = page(client.get("/sign/"))
    assert "What has changed since you last signed" in text
    assert "We now ask for kindness offline too." in text
    assert 'href="/sign/changes/"' in text

    changes = page(client.get("/sign/changes/"))
    assert "What has changed since you signed version 1" in changes
    assert "<ins>" in changes and "and offline." in changes


def test_a_typo_fix_does_not_ask_a_carer_who_signed_to_sign_again(opened, school_code, version):
    sign(opened, version)
    published_version(
        school_code, body="## Expectations\n\nParents will be kind on-line.", effective_from=datetime.date(2026, 11, 22),
        requires_signing=False,
    )
    assert opened.get("/sign/")["Location"] == "/sign/done/"


# The admin.


@pytest.mark.parametrize("model", [Declaration, Decline, SigningRequest])
def test_the_admin_can_only_read_signing_records(rf, model, admin_user):
    model_admin = admin.site._registry[model]
    request = rf.get("/")
    request.user = admin_user
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert model_admin.has_view_permission(request)
