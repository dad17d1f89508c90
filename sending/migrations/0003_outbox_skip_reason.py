"""Why an e-mail was not sent, as a code with its words in OutboxMessage.SkipReason, rather than
a sentence in `error` (which keeps what the mail server said). Existing sentences become codes."""

from django.db import migrations, models

SENTENCES = {
    "Not sent: the carer's details have been erased.": "erased",
    "Not sent: no e-mail address (needs a paper form).": "no-address",
    "Not sent: signed before the e-mail went.": "signed",
    "Not sent: declined before the e-mail went.": "declined",
    "Not sent: no longer a parent or carer of a pupil on roll.": "left",
    "Not sent: there is no declaration to confirm.": "no-declaration",
}


def sentences_to_codes(apps, schema_editor):
    OutboxMessage = apps.get_model("sending", "OutboxMessage")
    for sentence, code in SENTENCES.items():
        OutboxMessage.objects.filter(status="skipped", error=sentence).update(skip_reason=code, error="")


def codes_to_sentences(apps, schema_editor):
    OutboxMessage = apps.get_model("sending", "OutboxMessage")
    for sentence, code in SENTENCES.items():
        OutboxMessage.objects.filter(skip_reason=code).update(error=sentence)


class Migration(migrations.Migration):

    dependencies = [
        ("sending", "0002_send_batch_audience_fields"),
    ]

    operations = [
        migrations.AddField(
            model_name="outboxmessage",
            name="skip_reason",
            field=models.CharField(
                blank=True,
                choices=[
                    ("erased", "Not sent: the carer's details have been erased."),
                    ("no-address", "Not sent: no e-mail address (needs a paper form)."),
                    ("signed", "Not sent: signed before the e-mail went."),
                    ("declined", "Not sent: declined before the e-mail went."),
                    ("left", "Not sent: no longer a parent or carer of a pupil on roll."),
                    ("no-declaration", "Not sent: there is no declaration to confirm."),
                ],
                max_length=20,
            ),
        ),
        migrations.RunPython(sentences_to_codes, codes_to_sentences, elidable=True),
    ]
