"""The e-mailed link: opening it swaps the token for a session; scanners' GET and HEAD change
nothing that matters; bad links get a friendly page and nothing else; new links on request."""

import datetime
import html
import re

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult

from declarations import services
from declarations.models import Declaration, SigningRequest
from declarations.session import SESSION_KEY
from sending import outbox
from sending.links import send_new_links
from sending.models import OutboxMessage
from tests.declarations.factories import family

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tasks")]


def page(response) -> str:
    return html.unescape(response.content.decode())


def all_headers(response) -> str:
    return "\n".join(f"{name}: {value}" for name, value in response.headers.items())


def snapshot(signing_request):
    return list(SigningRequest.objects.filter(pk=signing_request.pk).values())


# Opening the link.


def test_opening_the_link_swaps_the_token_for_a_session_and_redirects_to_the_clean_url(client, link, token):
    signing_request, _ = link
    response = client.get(f"/sign/t/{token}/")
    assert response.status_code == 303
    assert response["Location"] == "/sign/"
    assert token not in all_headers(response)
    assert response["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response["Cache-Control"]
    assert client.session[SESSION_KEY]["request"] == signing_request.pk

    sign_page = client.get("/sign/")
    assert sign_page.status_code == 200
    assert token not in sign_page.content.decode()
    assert token not in all_headers(sign_page)
    # A page with a form tells no other site anything, yet lets its own POST carry an Origin.
    assert sign_page["Referrer-Policy"] == "same-origin"
    assert "no-store" in sign_page["Cache-Control"]


def test_every_page_of_the_signing_flow_is_private(client, version, token):
    client.get(f"/sign/t/{token}/")
    pages = {
        "/sign/": "same-origin",
        "/sign/decline/": "same-origin",
        "/sign/new-link/": "same-origin",
        "/sign/new-link/sent/": "no-referrer",
    }
    client.post("/sign/", {"typed_name": "Mary Smith", "agreed": "on", "version": version.pk})
    pages["/sign/done/"] = "no-referrer"
    for url, policy in pages.items():
        response = client.get(url)
        assert response["Referrer-Policy"] == policy, url
        assert "no-store" in response["Cache-Control"], url
        assert token not in response.content.decode(), url


def test_a_browser_posting_the_form_passes_csrf_protection(version, token):
    """Real browsers send an Origin header with a form's POST; under "no-referrer" it would be
    "null" and the signature refused. This is the browser's view of it, with CSRF enforced."""
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.get(f"/sign/t/{token}/")
    form = browser.get("/sign/").content.decode()
    csrf = form.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    response = browser.post(
        "/sign/",
        {"csrfmiddlewaretoken": csrf, "typed_name": "Mary Smith", "agreed": "on", "version": version.pk},
        HTTP_ORIGIN="http://testserver",
        HTTP_REFERER="http://testserver/sign/",
    )
    assert response.status_code == 303
    assert Declaration.objects.count() == 1


def test_opening_the_link_gives_the_browser_a_new_session_key(client, token):
    session = client.session
    session["something"] = "from before"
    session.save()
    old_key = session.session_key
    client.get(f"/sign/t/{token}/")
    assert client.cookies[settings.SESSION_COOKIE_NAME].value != old_key


def test_a_get_records_opened_once_and_signs_nothing(client, link, token, now):
    signing_request, _ = link
    client.get(f"/sign/t/{token}/")
    signing_request.refresh_from_db()
    first_opened = signing_request.opened_at
    assert first_opened is not None

    now.shift(datetime.timedelta(hours=3))
    client.get(f"/sign/t/{token}/")
    client.get("/sign/")
    signing_request.refresh_from_db()
    assert signing_request.opened_at == first_opened
    assert not Declaration.objects.exists()
    assert not OutboxMessage.objects.exists()


def test_a_head_changes_nothing_at_all(client, link, token):
    signing_request, _ = link
    before = snapshot(signing_request)
    response = client.head(f"/sign/t/{token}/")
    assert response.status_code == 303
    assert snapshot(signing_request) == before
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert not Declaration.objects.exists()
    from django.contrib.sessions.models import Session

    assert not Session.objects.exists()


def test_a_link_scanner_following_the_redirect_still_signs_nothing(client, token):
    client.head(f"/sign/t/{token}/")
    client.get(f"/sign/t/{token}/")
    client.head("/sign/")
    client.get("/sign/")
    client.get("/sign/done/")
    assert not Declaration.objects.exists()


# Bad links.


def assert_friendly_dead_end(response, client, *, status):
    assert response.status_code == status
    text = page(response)
    assert "Ask for a new link" in text and 'href="/sign/new-link/"' in text
    assert "Nothing has been signed" in text
    assert "<form" not in text  # no signing form: nothing else
    assert response["Referrer-Policy"] == "no-referrer"
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert SESSION_KEY not in client.session


def test_an_unknown_link_gets_a_friendly_page_and_no_session(client):
    response = client.get("/sign/t/not-a-real-token-at-all/")
    assert_friendly_dead_end(response, client, status=404)
    assert "This link is not recognised" in page(response)


def test_a_tampered_link_gets_a_friendly_page_and_no_session(client, link, token):
    signing_request, _ = link
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    response = client.get(f"/sign/t/{tampered}/")
    assert_friendly_dead_end(response, client, status=404)
    signing_request.refresh_from_db()
    assert signing_request.opened_at is None


def test_an_expired_link_gets_a_friendly_page_with_the_schools_contact_and_no_session(client, school, link, token, now):
    school.phone = "0151 123 4567"
    school.save()
    signing_request, _ = link
    now.move_to(signing_request.expires_at + datetime.timedelta(minutes=1))
    response = client.get(f"/sign/t/{token}/")
    assert_friendly_dead_end(response, client, status=410)
    text = page(response)
    assert "This link has expired" in text and "0151 123 4567" in text
    signing_request.refresh_from_db()
    assert signing_request.opened_at is None


def test_a_reissued_link_stops_working_and_the_new_one_works(client, link, token):
    signing_request, _ = link
    new_token = services.link_issue(signing_request=signing_request)
    assert_friendly_dead_end(client.get(f"/sign/t/{token}/"), client, status=404)
    assert client.get(f"/sign/t/{new_token}/").status_code == 303
    assert client.get("/sign/").status_code == 200


def test_reissuing_a_link_ends_a_session_opened_with_the_old_one(client, link, token):
    signing_request, _ = link
    client.get(f"/sign/t/{token}/")
    services.link_issue(signing_request=signing_request)
    response = client.get("/sign/")
    assert response.status_code == 403
    assert "This link has been replaced" in page(response)
    assert client.post("/sign/", {"typed_name": "Mary Smith", "agreed": "on"}).status_code == 403
    assert not Declaration.objects.exists()


def test_the_signing_page_without_a_session_explains_what_to_do(client):
    response = client.get("/sign/")
    assert response.status_code == 403
    assert "Open the link in your e-mail again" in page(response)


def test_the_link_keeps_working_after_signing_and_shows_the_receipt(client, version, token):
    client.get(f"/sign/t/{token}/")
    client.post("/sign/", {"typed_name": "Mary Smith", "agreed": "on", "version": version.pk})
    other_browser = client.__class__()
    response = other_browser.get(f"/sign/t/{token}/", follow=True)
    assert response.redirect_chain == [("/sign/", 303), ("/sign/done/", 303)]
    assert "You have signed the code of conduct" in page(response)
    assert Declaration.objects.count() == 1


# Rate limits on token checks.


def test_too_many_bad_links_from_one_address_get_a_429_in_plain_english(client, settings, token):
    settings.PORTAL_RATE_LIMITS = {**settings.PORTAL_RATE_LIMITS, "link_miss": (3, 600)}
    for attempt in range(3):
        assert client.get(f"/sign/t/guess-{attempt}/", REMOTE_ADDR="203.0.113.50").status_code == 404
    response = client.get("/sign/t/guess-4/", REMOTE_ADDR="203.0.113.50")
    assert response.status_code == 429
    assert "Too many attempts" in page(response) and "Wait 10 minutes" in page(response)
    assert response["Retry-After"] == "600"
    # Even a real link waits: guessing cannot be mixed with one good token to reset the count.
    assert client.get(f"/sign/t/{token}/", REMOTE_ADDR="203.0.113.50").status_code == 429
    # Someone else is not affected.
    assert client.get(f"/sign/t/{token}/", REMOTE_ADDR="198.51.100.7").status_code == 303


def test_every_link_check_counts_towards_a_generous_limit(client, settings, token):
    settings.PORTAL_RATE_LIMITS = {**settings.PORTAL_RATE_LIMITS, "link": (2, 600)}
    assert client.head(f"/sign/t/{token}/").status_code == 303
    assert client.get(f"/sign/t/{token}/").status_code == 303
    assert client.get(f"/sign/t/{token}/").status_code == 429


# Asking for a new link.


def test_the_reply_to_a_new_link_request_is_the_same_for_known_and_unknown_addresses(client, carer, link, token):
    known = client.post("/sign/new-link/", {"email": "Mary.Smith@Example.org"}, follow=True)
    unknown = client.post("/sign/new-link/", {"email": "nobody@example.org"}, follow=True)
    assert known.status_code == unknown.status_code == 200
    assert known.redirect_chain == unknown.redirect_chain == [("/sign/new-link/sent/", 303)]
    # The same page, byte for byte, but for the language switch's CSRF token (masked anew each time).
    without_token = [re.sub(rb'name="csrfmiddlewaretoken" value="[^"]*"', b"", r.content) for r in (known, unknown)]
    assert without_token[0] == without_token[1]
    assert "If that address belongs to a parent or carer at a school using this portal, we've sent a new link" in page(known)


def run_new_link_tasks(tasks) -> None:
    """What the worker does with the tasks the page queued."""
    for result in tasks.results:
        if result.task.name == "send_new_links":
            send_new_links.call(*result.args)
    tasks.clear()


def test_known_and_unknown_addresses_do_the_same_work_on_the_page(client, carer, link):
    """The page only queues the work, the same way for any address: no lookup that a known
    address would make take longer."""
    work = {}
    with override_settings(TASKS={"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}):
        for email in ("mary.smith@example.org", "nobody.home@example.org"):
            with CaptureQueriesContext(connection) as queries:
                assert client.post("/sign/new-link/", {"email": email}).status_code == 303
            work[email] = [
                re.sub(r"'[0-9a-f]{32}'", "ID", query["sql"].replace(email, "ADDRESS"))
                for query in queries.captured_queries
            ]
    known, unknown = work.values()
    assert known == unknown and len(known) == 1  # one INSERT: the task
    assert not any("schools_carer" in sql or "outbox" in sql for sql in known)
    assert sorted(task.args_kwargs["args"] for task in DBTaskResult.objects.all()) == [
        ["mary.smith@example.org"],
        ["nobody.home@example.org"],
    ]
    assert not OutboxMessage.objects.exists()  # nothing is looked up or queued until a worker runs it


@pytest.mark.usefixtures("locmem_mail")
def test_a_known_address_gets_the_link_it_holds_which_keeps_working(
    client, carer, link, token, tasks, django_capture_on_commit_callbacks
):
    signing_request, _ = link
    client.get(f"/sign/t/{token}/")  # the carer is part-way through signing in this browser
    other_browser = client.__class__()
    with django_capture_on_commit_callbacks(execute=True):
        other_browser.post("/sign/new-link/", {"email": "Mary.Smith@Example.org"})
    assert [(result.task.name, result.args) for result in tasks.results] == [
        ("send_new_links", ["mary.smith@example.org"])
    ]
    run_new_link_tasks(tasks)
    message = OutboxMessage.objects.get()
    assert (message.carer, message.version, message.kind, message.sequence) == (
        carer, signing_request.version, OutboxMessage.Kind.NEW_LINK, 1
    )
    assert outbox.outbox_message_send(message.pk) == "sent"
    [email] = mail.outbox
    assert f"/sign/t/{token}/" in email.body  # the link the carer holds, written again
    assert client.get("/sign/").status_code == 200  # their signing goes on
    assert client.post("/sign/", {"typed_name": "Mary Smith", "agreed": "on", "version": signing_request.version_id}).status_code == 303
    assert Declaration.objects.filter(carer=carer).count() == 1
    assert other_browser.get(f"/sign/t/{token}/").status_code == 303


@pytest.mark.usefixtures("locmem_mail")
def test_a_carer_whose_link_expired_gets_a_new_one(client, carer, link, token, tasks, now, django_capture_on_commit_callbacks):
    signing_request, _ = link
    now.move_to(signing_request.expires_at + datetime.timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/sign/new-link/", {"email": "mary.smith@example.org"})
    run_new_link_tasks(tasks)
    assert outbox.outbox_message_send(OutboxMessage.objects.get().pk) == "sent"
    [new] = re.findall(r"/sign/t/([A-Za-z0-9_-]+)/", mail.outbox[-1].body)
    assert new != token
    assert client.get(f"/sign/t/{new}/").status_code == 303 and client.get("/sign/").status_code == 200


def test_an_unknown_address_changes_nothing(client, link, token, tasks, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/sign/new-link/", {"email": "nobody@example.org"})
    run_new_link_tasks(tasks)
    assert not OutboxMessage.objects.exists()
    assert client.get(f"/sign/t/{token}/").status_code == 303


def test_a_carer_who_has_signed_or_was_never_asked_gets_no_new_link(client, school, version, carer, token):
    client.get(f"/sign/t/{token}/")
    client.post("/sign/", {"typed_name": "Mary Smith", "agreed": "on", "version": version.pk})
    family(school, forename="Never", surname="Asked", email="never.asked@example.org")
    OutboxMessage.objects.all().delete()  # the confirmation
    assert send_new_links.call("mary.smith@example.org") == 0
    assert send_new_links.call("never.asked@example.org") == 0
    assert not OutboxMessage.objects.exists()


def test_a_malformed_address_is_answered_in_plain_english(client):
    response = client.post("/sign/new-link/", {"email": "mary at example"})
    assert response.status_code == 200
    assert "Enter an e-mail address in the correct format, like name@example.com" in page(response)
    assert 'href="#id_email"' in page(response)


def test_new_link_requests_are_rate_limited_per_address_of_the_client(client, settings):
    settings.PORTAL_RATE_LIMITS = {**settings.PORTAL_RATE_LIMITS, "new_link_ip": (2, 3600)}
    for _ in range(2):
        assert client.post("/sign/new-link/", {"email": "x@example.org"}, REMOTE_ADDR="203.0.113.8").status_code == 303
    response = client.post("/sign/new-link/", {"email": "x@example.org"}, REMOTE_ADDR="203.0.113.8")
    assert response.status_code == 429
    assert "Wait 60 minutes" in page(response)


def test_one_address_gets_only_a_few_new_links_however_often_it_is_asked_for(
    client, settings, carer, link, tasks, django_capture_on_commit_callbacks
):
    settings.PORTAL_RATE_LIMITS = {**settings.PORTAL_RATE_LIMITS, "new_link_address": (2, 3600)}
    with django_capture_on_commit_callbacks(execute=True):
        replies = [
            client.post("/sign/new-link/", {"email": "mary.smith@example.org"}, REMOTE_ADDR=f"203.0.113.{n}")
            for n in range(4)
        ]
    assert [reply.status_code for reply in replies] == [303] * 4  # the same reply every time
    assert len(tasks.results) == 2
    run_new_link_tasks(tasks)
    assert OutboxMessage.objects.count() == 1  # one e-mail waiting to go is enough


def test_link_works_for_the_number_of_days_the_school_chose(school, carer, version):
    from declarations.services import link_issue, signing_request_for

    school.link_valid_days = 14
    school.save()
    request = signing_request_for(carer=carer, version=version)
    link_issue(signing_request=request)
    request.refresh_from_db()
    assert (request.expires_at - request.issued_at) == datetime.timedelta(days=14)
