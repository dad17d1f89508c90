"""Re-prompt on publish: a version that requires signing asks every carer at every school using
the code to sign it, in the background, from the day it comes into force; a minor correction asks
nobody; carers who signed before are shown what changed, in the e-mail and on the signing page."""

import datetime
import html
import re
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.db import transaction

from codes import services as code_services
from declarations import selectors
from schools.models import Carer
from sending import invitations, scheduler
from sending.models import OutboxMessage, ScheduledStep, SendBatch
from tests.declarations.cycle import (
    association_with_schools,
    at,
    emails_to,
    families,
    invited,
    next_version,
    run_command,
    run_scheduled,
    send_everything,
)
from tests.declarations.factories import add_child, family
from tests.factories import CodeFactory, SchoolFactory
from tests.sending.test_sending import parent, record_decline, record_signature

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tasks")]


def standing(carer):
    """Where the school's status page says the carer stands today."""
    target = selectors.signing_target(carer.school)
    return selectors.with_standing(Carer.objects.filter(pk=carer.pk), target).get().standing


def page(response) -> str:
    return html.unescape(response.content.decode())


def schedule(version) -> dict:
    """What the task queued on publish does, run here and now."""
    return scheduler.version_invitations_schedule(version_id=version.pk)


# Publishing returns at once; the invitations follow in the background.


def test_publishing_a_version_that_requires_signing_queues_one_task_on_commit_and_invites_nobody_yet(
    school, school_code, tasks, django_capture_on_commit_callbacks
):
    parent(school)
    with django_capture_on_commit_callbacks(execute=True):
        newer = next_version(school_code)
    assert [(result.task.name, result.args) for result in tasks.results] == [("invite_to_new_version", [newer.pk])]
    assert not OutboxMessage.objects.exists()  # the publish itself wrote nothing for carers


def test_a_refused_publish_queues_nothing(school, school_code, tasks, django_capture_on_commit_callbacks):
    draft = code_services.draft_start(code=school_code, user=None)
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(Exception):
            code_services.version_publish(version=draft, user=None, effective_from=datetime.date(2020, 1, 1))
    assert tasks.results == []


def test_the_publish_writes_every_schools_invitation_step_itself_so_a_task_lost_after_the_commit_loses_nothing(
    tasks, django_capture_on_commit_callbacks
):
    _, schools, code = association_with_schools(3)
    carers = [carer for school in schools for carer in families(school, 2)]
    with django_capture_on_commit_callbacks(execute=False) as after_commit:
        newer = next_version(code)  # committed; the process dies before the task is queued
    assert len(after_commit) == 1 and tasks.results == []
    steps = ScheduledStep.objects.filter(version=newer)
    assert sorted(steps.values_list("school_id", "kind", "done_at")) == [(s.pk, "invite", None) for s in schools]

    run_scheduled()  # cron's next run takes them
    assert invited(newer) == {carer.pk: 1 for carer in carers}
    assert not steps.filter(done_at__isnull=True).exists()


def test_a_publish_rolled_back_after_the_announcement_leaves_no_steps(school, school_code, tasks):
    class Rollback(Exception):
        pass

    with pytest.raises(Rollback), transaction.atomic():
        newer = next_version(school_code)
        assert ScheduledStep.objects.filter(version=newer).count() == 1
        raise Rollback
    assert not ScheduledStep.objects.exclude(version__number=1).exists()


def test_the_task_invites_every_eligible_carer_and_nobody_else(school, school_code):
    version_1 = school_code.versions.get()
    ann, bob = parent(school, forename="Ann"), parent(school, forename="Bob")
    no_email = parent(school, email="", forename="Nora")
    left = parent(school, on_roll=False, forename="Len")
    not_responsible = parent(school, responsible=False, forename="Nat")
    elsewhere = parent(SchoolFactory(), forename="Olga")
    newer = next_version(school_code)

    result = schedule(newer)

    assert result == {"schools": 1, "carers invited": 2}
    assert invited(newer) == {ann.pk: 1, bob.pk: 1}
    assert not {no_email.pk, left.pk, not_responsible.pk, elsewhere.pk} & set(OutboxMessage.objects.values_list("carer_id", flat=True))
    batch = SendBatch.objects.get()
    assert (batch.school, batch.version, batch.audience_description) == (school, newer, "Everyone who has not signed")
    step = ScheduledStep.objects.get(version=newer)
    assert (step.kind, step.school, step.version, step.batch) == ("invite", school, newer, batch)
    assert step.done_at is not None and step.outcome == "Invited 2 carers to sign version 2."
    assert not invited(version_1)


def test_running_the_task_or_the_scheduler_again_invites_nobody_twice(school, school_code):
    carers = families(school, 5)
    newer = next_version(school_code)
    schedule(newer)
    schedule(newer)
    run_scheduled()
    run_scheduled()
    assert invited(newer) == {carer.pk: 1 for carer in carers}
    assert SendBatch.objects.count() == 1
    assert ScheduledStep.objects.filter(kind="invite", version=newer).count() == 1


def test_a_shared_code_reprompts_every_member_school_that_uses_it_one_batch_per_school():
    association, schools, code = association_with_schools(14)
    own_code_school = schools[-1]
    CodeFactory(owner=own_code_school)  # a member with a code of its own does not use the shared one
    carers = {school.pk: families(school, 3) for school in schools}
    newer = next_version(code)

    result = schedule(newer)

    assert result["schools"] == 13 and result["carers invited"] == 39
    expected = {carer.pk: 1 for school in schools[:-1] for carer in carers[school.pk]}
    assert invited(newer) == expected
    assert sorted(SendBatch.objects.values_list("school_id", flat=True)) == sorted(s.pk for s in schools[:-1])
    assert not OutboxMessage.objects.filter(school=own_code_school).exists()


def test_carers_who_signed_or_declined_the_new_version_are_not_invited_to_it(school, school_code):
    signer, decliner, other = parent(school), parent(school), parent(school)
    newer = next_version(school_code)
    record_signature(signer, newer)
    record_decline(decliner, newer)
    schedule(newer)
    assert invited(newer) == {other.pk: 1}


def test_carers_who_signed_the_old_version_are_asked_again(school, school_code):
    version_1 = school_code.versions.get()
    signer = parent(school)
    record_signature(signer, version_1)
    assert standing(signer) in selectors.SIGNED
    newer = next_version(school_code)
    assert standing(signer) == selectors.Standing.NOT_SENT  # outstanding again, until invited
    schedule(newer)
    assert invited(newer) == {signer.pk: 1}


# A minor correction.


def test_a_minor_correction_reprompts_nobody_and_declarations_stay_current(
    school, school_code, tasks, django_capture_on_commit_callbacks, client, verified_client, headteacher
):
    version_1 = school_code.versions.get()
    signer, decliner, waiting = parent(school, forename="Sid"), parent(school, forename="Dee"), parent(school, forename="Wes")
    record_signature(signer, version_1)
    record_decline(decliner, version_1)

    with django_capture_on_commit_callbacks(execute=True):
        correction = next_version(school_code, requires_signing=False, revision_note="A typing error corrected.")
    assert tasks.results == []  # nothing to do in the background
    run_scheduled()
    run_scheduled(now=at(2027, 1, 5))
    assert not OutboxMessage.objects.exists() and not ScheduledStep.objects.exclude(version=version_1).exists()

    assert selectors.version_to_sign(school) == correction  # what a carer now reads and signs
    assert selectors.version_required(school) == version_1  # what makes a carer up to date
    assert standing(signer) in selectors.SIGNED and standing(waiting) in selectors.OUTSTANDING

    # Staff sending to "everyone who has not signed" leaves the signer and the decliner alone.
    batch = invitations.invitations_send(school=school, audience="all-unsigned", user=headteacher)
    assert invited(correction) == {waiting.pk: 1} and batch.version == correction

    verified_client(client, headteacher)
    status = page(client.get(f"/staff/declarations/{school.slug}/"))
    assert "version 1, still current" in status


def test_a_correction_after_a_version_that_requires_signing_invites_to_the_corrected_text(school, school_code):
    carer = parent(school)
    newer = next_version(school_code, effective_from=datetime.date(2026, 12, 1))
    correction = next_version(
        school_code, effective_from=datetime.date(2026, 12, 1), requires_signing=False, body="## Corrected\n\nKind."
    )
    schedule(newer)
    assert not invited(newer)
    run_scheduled(now=at(2026, 12, 1, 0, 30))
    assert invited(correction) == {carer.pk: 1} and not invited(newer)


# A version with a future effective date.


def test_a_future_version_sends_nothing_until_its_day_then_the_scheduler_sends_it_once(school, school_code, now):
    carers = families(school, 4)
    newer = next_version(school_code, effective_from=datetime.date(2026, 12, 1))
    assert schedule(newer) == {"schools": 1}
    step = ScheduledStep.objects.get(version=newer)
    assert step.due_at == at(2026, 12, 1, 0, 0) and step.done_at is None

    for moment in (at(2026, 11, 23), at(2026, 11, 30, 23, 59)):
        now.move_to(moment)
        run_scheduled()
        assert not OutboxMessage.objects.exists()

    now.move_to(at(2026, 12, 1, 0, 15))
    output = run_command()
    assert "versions coming into force: 1 schools, 4 carers invited" in output
    assert invited(newer) == {carer.pk: 1 for carer in carers}
    now.move_to(at(2026, 12, 1, 0, 30))
    run_command()
    assert invited(newer) == {carer.pk: 1 for carer in carers}


def test_a_future_version_replaced_before_its_day_leaves_the_asking_to_the_newer_one(school, school_code, now):
    carer = parent(school)
    first = next_version(school_code, effective_from=datetime.date(2026, 12, 1))
    second = next_version(school_code, effective_from=datetime.date(2026, 12, 1), body="## Again\n\nKinder.")
    schedule(first)
    schedule(second)
    now.move_to(at(2026, 12, 1, 9))
    run_scheduled()
    assert invited(second) == {carer.pk: 1} and not invited(first)
    assert ScheduledStep.objects.get(version=first).outcome.startswith("Not needed: version 3 has replaced it")


def test_a_school_that_joins_the_association_before_the_day_is_asked_too(now):
    association, schools, code = association_with_schools(2)
    newer = next_version(code, effective_from=datetime.date(2026, 12, 1))
    schedule(newer)
    late = SchoolFactory(association=association)
    carer = parent(late)
    now.move_to(at(2026, 12, 1, 9))
    run_scheduled()
    assert invited(newer) == {carer.pk: 1}


# What changed, in the e-mail and on the signing page.


def _signed_version_1(school, school_code, **family_fields):
    version_1 = school_code.versions.get()
    carer = family(school, **family_fields)
    record_signature(carer, version_1)
    return carer


def test_the_invitation_to_a_carer_who_signed_before_says_what_changed_and_links_to_the_comparison(
    school, school_code, client
):
    carer = _signed_version_1(school, school_code)
    newcomer = parent(school, forename="Nia", email="nia@example.org")
    newer = next_version(school_code, revision_note="We now ask for kindness offline too.")
    schedule(newer)
    send_everything()

    [email] = emails_to(carer.email)
    text = email.body
    assert "What has changed since you signed version 1 on 22 November 2026:" in text
    assert "Version 2: We now ask for kindness offline too." in text
    html_part = email.alternatives[0].content
    assert "We now ask for kindness offline too." in html_part and "What has changed since you signed version 1" in html_part
    changes_link = re.search(r"http://\S+/sign/t/[\w-]+/changes/", text).group(0)
    sign_link = re.search(r"http://\S+/sign/t/[\w-]+/(?=\s)", text).group(0)
    assert changes_link == sign_link + "changes/"  # the same personal link, then the comparison

    [first_time] = emails_to(newcomer.email)
    assert "What has changed" not in first_time.body and "/changes/" not in first_time.body

    response = client.get(urlsplit(changes_link).path)
    assert response.status_code == 303 and response["Location"] == "/sign/changes/"
    changes = page(client.get("/sign/changes/"))
    assert "What has changed since you signed version 1" in changes
    assert "We now ask for kindness offline too." in changes and "<ins>" in changes
    sign_page = page(client.get("/sign/"))
    assert "What has changed since you last signed" in sign_page and "We now ask for kindness offline too." in sign_page
    assert "Parents will be kind online and offline." in sign_page  # the full text, on the same page


def test_every_revision_note_since_the_version_signed_is_shown(school, school_code, client):
    carer = _signed_version_1(school, school_code)
    next_version(school_code, requires_signing=False, revision_note="Spelling corrected.",
                 effective_from=datetime.date(2026, 11, 1), body="## Expectations\n\nParents will be kind online.")
    newer = next_version(school_code, revision_note="Photographs: new rules.")
    schedule(newer)
    send_everything()
    [email] = emails_to(carer.email)
    assert "Version 2: Spelling corrected." in email.body and "Version 3: Photographs: new rules." in email.body

    token = re.search(r"/sign/t/([\w-]+)/changes/", email.body).group(1)
    client.get(f"/sign/t/{token}/")
    sign_page = page(client.get("/sign/"))
    assert "Spelling corrected." in sign_page and "Photographs: new rules." in sign_page
    assert "Version 2:" in sign_page and "Version 3:" in sign_page


def test_the_changes_link_is_checked_like_the_signing_link(client):
    assert client.get("/sign/t/not-a-real-token/changes/").status_code == 404


def test_opening_the_changes_link_with_head_changes_nothing(school, school_code, client):
    carer = _signed_version_1(school, school_code)
    newer = next_version(school_code)
    schedule(newer)
    send_everything()
    [email] = emails_to(carer.email)
    token = re.search(r"/sign/t/([\w-]+)/changes/", email.body).group(1)
    response = client.head(f"/sign/t/{token}/changes/")
    assert response.status_code == 303 and response["Location"] == "/sign/changes/"
    assert not carer.signing_requests.get(version=newer).opened_at


def test_a_carer_with_a_child_who_left_and_one_on_roll_is_still_asked(school, school_code):
    carer = parent(school)
    add_child(carer, forename="Old", surname="Leaver", on_roll=False)
    newer = next_version(school_code)
    schedule(newer)
    assert invited(newer) == {carer.pk: 1}
    assert mail.outbox == []  # queued, not sent: the worker sends


# From the headteacher's side.


@pytest.mark.parametrize(("answer", "said", "queued"), [
    ("yes", "Every parent and carer will be asked to sign it from that day; the e-mails go in the background.", 1),
    ("no", "Nobody is asked to sign again.", 0),
])
def test_publishing_from_the_staff_page_returns_at_once_and_says_who_will_be_asked(
    client, verified_client, school, school_code, headteacher, tasks, django_capture_on_commit_callbacks,
    answer, said, queued,
):
    families(school, 30)
    draft = code_services.draft_start(code=school_code, user=headteacher)
    verified_client(client, headteacher)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/staff/versions/{draft.pk}/publish/",
            {"effective_from": "2026-11-22", "review_due": "2027-11-22", "requires_signing": answer},
        )
    assert response.status_code == 302
    assert said in page(client.get(response["Location"]))
    assert len(tasks.results) == queued and not OutboxMessage.objects.exists()
