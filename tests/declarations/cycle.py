"""Helpers for the tests of the annual cycle: re-prompts, reminders, new families, the scheduler.

The clock is fixed by tests/declarations/conftest.py at NOW (22 November 2026, noon); tests move
it with the `now` fixture (time-machine)."""

from __future__ import annotations

import datetime
from collections import Counter

from django.core import mail
from django.core.management import call_command

from codes.models import Code
from declarations.models import SigningRequest
from schools.models import Carer, Pupil, PupilCarer
from sending import outbox as sending_outbox
from sending import scheduler
from sending.models import OutboxMessage
from tests.factories import (
    AssociationFactory,
    CodeFactory,
    SchoolFactory,
    invitations_taken,
    published_version,
)

LONDON = datetime.timezone(datetime.timedelta(0))  # Europe/London is on GMT in November and December


def at(year, month, day, hour=12, minute=0) -> datetime.datetime:
    """A moment in the tests' winter, when London time is UTC."""
    return datetime.datetime(year, month, day, hour, minute, tzinfo=LONDON)


def association_with_schools(n: int, *, name="Halton Association of Secondary Headteachers", slug="halton-secondary"):
    """An association, `n` member schools and the association's shared code, version 1 in force."""
    association = AssociationFactory(name=name, slug=slug)
    schools = [SchoolFactory(name=f"Member School {i + 1}", slug=f"member-{i + 1}", association=association) for i in range(n)]
    code = CodeFactory(owner=association)
    invitations_taken(published_version(code))
    return association, schools, code


def families(school, n: int) -> list[Carer]:
    """n carers at the school, each responsible for one child on roll, inserted in bulk; their
    e-mail addresses name the school so they are told apart across schools."""
    pupils = Pupil.objects.bulk_create(
        Pupil(school=school, mis_id=f"P{i:05d}", forename="Child", surname=f"N{i}", year_group="5", reg_group="5B")
        for i in range(n)
    )
    carers = Carer.objects.bulk_create(
        Carer(school=school, mis_id=f"C{i:05d}", forename="Parent", surname=f"N{i}", email=f"p{i}@{school.slug}.example.org")
        for i in range(n)
    )
    PupilCarer.objects.bulk_create(
        PupilCarer(pupil=pupil, carer=carer, parental_responsibility=True, priority=1)
        for pupil, carer in zip(pupils, carers)
    )
    return carers


def next_version(code: Code, *, effective_from=datetime.date(2026, 11, 22), requires_signing=True, **content):
    content.setdefault("body", "## Expectations\n\nParents will be kind online and offline.")
    content.setdefault("revision_note", "We now ask for kindness offline too.")
    return published_version(code, effective_from=effective_from, requires_signing=requires_signing, **content)


def outbox(**filters) -> Counter:
    """How many outbox rows each carer has (of the kind asked), as {carer id: count}."""
    return Counter(OutboxMessage.objects.filter(**filters).values_list("carer_id", flat=True))


def invited(version) -> Counter:
    return outbox(version=version, kind=OutboxMessage.Kind.INVITATION)


def send_everything() -> None:
    """What the worker would do with the tasks queued: send every batch's waiting e-mails, then
    any other e-mail waiting in the outbox."""
    pending = OutboxMessage.objects.filter(status=OutboxMessage.Status.PENDING, batch__isnull=False)
    for batch_id in sorted(set(pending.values_list("batch_id", flat=True))):
        sending_outbox.outbox_send_pending(batch_id=batch_id)
    sending_outbox.outbox_send_pending()


def emails_to(address: str) -> list:
    return [message for message in mail.outbox if address in message.to]


def run_scheduled(**kwargs) -> dict:
    return scheduler.run_scheduled(**kwargs)


def run_command() -> str:
    from io import StringIO

    out = StringIO()
    call_command("run_scheduled", stdout=out)
    return out.getvalue()


def mark_invitation_sent(carer, version, *, sent_at) -> SigningRequest:
    """As the sender leaves it once the invitation has gone: an outbox row sent, the request's sent_at."""
    OutboxMessage.objects.create(
        school=carer.school, carer=carer, version=version, kind=OutboxMessage.Kind.INVITATION,
        status=OutboxMessage.Status.SENT, sent_at=sent_at, to_address=carer.email,
    )
    request, _ = SigningRequest.objects.get_or_create(carer=carer, version=version, defaults={"school": carer.school})
    SigningRequest.objects.filter(pk=request.pk).update(sent_at=sent_at)
    request.refresh_from_db()
    return request
