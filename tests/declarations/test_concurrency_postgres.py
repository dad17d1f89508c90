"""Two submits at the same moment yield one declaration. PostgreSQL only: SQLite serialises
every write, so it could never show a race; CI runs the suite on PostgreSQL too."""

import datetime
import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.utils import timezone

from declarations import services
from declarations.models import Declaration, SigningRequest
from schools.models import AuditEvent
from sending.models import OutboxMessage
from tests.declarations.factories import PDF, family, issued_link
from tests.factories import CodeFactory, SchoolFactory, published_version

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's row locks to race for real"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def school_and_version():
    school = SchoolFactory(name="Whitefield Primary School", slug="whitefield-primary")
    version = published_version(CodeFactory(owner=school), effective_from=timezone.localdate() - datetime.timedelta(days=30))
    return school, version


def at_once(*jobs):
    """Run each job in its own thread and database connection, all released together."""
    barrier = threading.Barrier(len(jobs))
    results, errors = [None] * len(jobs), []

    def run(index, job):
        try:
            barrier.wait(timeout=10)
            results[index] = job()
        except Exception as error:  # noqa: BLE001 - reported by the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index, job)) for index, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    return results, errors


def test_two_submits_at_once_through_the_service_yield_one_declaration(school_and_version):
    school, version = school_and_version
    carer = family(school)
    signing_request, _ = issued_link(carer, version)

    def submit():
        return services.declaration_sign(
            signing_request=SigningRequest.objects.get(pk=signing_request.pk),
            version_id_shown=version.pk,
            typed_name="Mary Smith",
            agreed=True,
            ip="203.0.113.9",
            user_agent="test",
        ).pk

    results, errors = at_once(submit, submit)
    assert errors == []
    assert results[0] == results[1]
    assert Declaration.objects.count() == 1
    assert AuditEvent.objects.filter(action="sign").count() == 1
    assert OutboxMessage.objects.filter(kind="confirmation").count() == 1


def test_two_submits_at_once_from_the_same_browser_yield_one_declaration(school_and_version):
    school, version = school_and_version
    carer = family(school)
    _, token = issued_link(carer, version)
    first = Client()
    assert first.get(f"/sign/t/{token}/").status_code == 303
    second = Client()
    second.cookies = first.cookies  # the same session: a double tap on "Sign"

    def submit(client):
        return lambda: client.post(
            "/sign/", {"typed_name": "Mary Smith", "agreed": "on", "version": version.pk}
        ).status_code

    results, errors = at_once(submit(first), submit(second))
    assert errors == []
    assert results == [303, 303]
    assert Declaration.objects.count() == 1


def test_signing_online_while_staff_record_a_paper_form_yields_one_declaration(school_and_version, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    school, version = school_and_version
    carer = family(school)
    signing_request, _ = issued_link(carer, version)
    from tests.factories import UserFactory

    office = UserFactory()

    def online():
        return services.declaration_sign(
            signing_request=SigningRequest.objects.get(pk=signing_request.pk),
            version_id_shown=version.pk,
            typed_name="Mary Smith",
            agreed=True,
            ip=None,
            user_agent="",
        ).method

    def paper():
        return services.declaration_record_paper(
            carer=carer,
            version=version,
            signed_on=timezone.localdate(),
            name_as_written="M Smith",
            children=list(carer.children.all()),
            scan=SimpleUploadedFile("form.pdf", PDF),
            recorded_by=office,
        ).method

    results, errors = at_once(online, paper)
    assert Declaration.objects.count() == 1
    stored = Declaration.objects.get().method
    # Whichever came second was told about the first, never given a second declaration.
    assert results[0] == stored
    assert [type(error).__name__ for error in errors] in ([], ["ValidationError"])
