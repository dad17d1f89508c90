"""The migrations that turned a batch's audience and an e-mail's reason for not going from
sentences into fields: existing rows keep what they said, and the words staff see are unchanged."""

import importlib
from types import SimpleNamespace

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from sending.models import OutboxMessage, audience_description
from tests.factories import CodeFactory, SchoolFactory, published_version
from tests.schools.factories import CarerFactory

audience_migration = importlib.import_module("sending.migrations.0002_send_batch_audience_fields")
reason_migration = importlib.import_module("sending.migrations.0003_outbox_skip_reason")

BEFORE = [("sending", "0001_moved_from_declarations")]
AFTER = [("sending", "0003_outbox_skip_reason")]


@pytest.mark.parametrize(
    "kind, value",
    [("all-unsigned", ""), ("year", "R"), ("reg", "5B"), ("carer", "12"), ("starters", ""), ("reminders", "")],
)
def test_the_words_each_audience_was_stored_as_read_back_as_that_audience(kind, value):
    batch = SimpleNamespace(pk=1, kind="invitation", audience=audience_description(kind, value))
    assert audience_migration.audience_from_words(batch) == (kind, value)


def test_words_the_portal_never_wrote_stop_the_migration_with_what_to_do():
    with pytest.raises(ValueError, match="Send batch 7: its audience 'Some parents'"):
        audience_migration.audience_from_words(SimpleNamespace(pk=7, kind="invitation", audience="Some parents"))
    reminders = SimpleNamespace(pk=8, kind="reminder", audience="Reminders")
    assert audience_migration.audience_from_words(reminders) == ("reminders", "")


def test_every_sentence_an_email_was_skipped_with_becomes_the_code_that_says_it():
    # Reasons added after that migration were never written as sentences.
    added_since = {OutboxMessage.SkipReason.BOUNCED}
    assert reason_migration.SENTENCES == {
        reason.label: reason.value for reason in OutboxMessage.SkipReason if reason not in added_since
    }


@pytest.mark.django_db(transaction=True)
def test_existing_batches_and_skipped_emails_keep_what_they_said():
    school = SchoolFactory()
    version = published_version(CodeFactory(owner=school))
    carer = CarerFactory(school=school)
    executor = MigrationExecutor(connection)
    try:
        executor.migrate(BEFORE)
        old = executor.loader.project_state(BEFORE).apps
        OldBatch, OldMessage = old.get_model("sending", "SendBatch"), old.get_model("sending", "OutboxMessage")
        year = OldBatch.objects.create(school_id=school.pk, version_id=version.pk, audience="Year group: 5")
        reminders = OldBatch.objects.create(
            school_id=school.pk,
            version_id=version.pk,
            kind="reminder",
            audience="Reminders to carers who have not signed",
        )
        signed = OldMessage.objects.create(
            school_id=school.pk,
            carer_id=carer.pk,
            version_id=version.pk,
            kind="invitation",
            status="skipped",
            error="Not sent: signed before the e-mail went.",
        )
        failed = OldMessage.objects.create(
            school_id=school.pk,
            carer_id=carer.pk,
            version_id=version.pk,
            kind="new-link",
            status="failed",
            error="The mail server refused the address (550 No such mailbox).",
        )

        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        new = executor.loader.project_state(AFTER).apps
        NewBatch, NewMessage = new.get_model("sending", "SendBatch"), new.get_model("sending", "OutboxMessage")

        year, reminders = NewBatch.objects.get(pk=year.pk), NewBatch.objects.get(pk=reminders.pk)
        assert (year.audience_kind, year.audience_value) == ("year", "5")
        assert audience_description(year.audience_kind, year.audience_value) == "Year group: 5"
        assert (reminders.audience_kind, reminders.kind) == ("reminders", "reminder")
        signed, failed = NewMessage.objects.get(pk=signed.pk), NewMessage.objects.get(pk=failed.pk)
        assert (signed.skip_reason, signed.error) == ("signed", "")
        assert OutboxMessage.SkipReason(signed.skip_reason).label == "Not sent: signed before the e-mail went."
        assert (failed.skip_reason, failed.error) == ("", "The mail server refused the address (550 No such mailbox).")

        executor = MigrationExecutor(connection)
        executor.migrate(BEFORE)  # and back again: the sentences return
        old = executor.loader.project_state(BEFORE).apps
        assert old.get_model("sending", "SendBatch").objects.get(pk=year.pk).audience == "Year group: 5"
        assert old.get_model("sending", "OutboxMessage").objects.get(pk=signed.pk).error == (
            "Not sent: signed before the e-mail went."
        )
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
