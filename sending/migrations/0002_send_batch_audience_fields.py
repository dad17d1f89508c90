"""A batch's audience as fields (what kind of audience, and which year, group or carer) rather
than as words; the words are derived for display. Existing rows' words are read once, here."""


from django.db import migrations, models

# The words invitations and the scheduler wrote, and the kind of audience each one means.
WHOLE = {
    "Everyone who has not signed": "all-unsigned",
    "New families since the invitations went out": "starters",
    "Reminders to carers who have not signed": "reminders",
}
PREFIXES = {"Year group: ": "year", "Registration group: ": "reg", "One carer: #": "carer"}
LABELS = {kind: words for words, kind in WHOLE.items()}


def audience_from_words(batch) -> tuple[str, str]:
    words = batch.audience
    if words in WHOLE:
        return WHOLE[words], ""
    for prefix, kind in PREFIXES.items():
        value = words[len(prefix):].strip() if words.startswith(prefix) else ""
        if value and (kind != "carer" or value.isdigit()):
            return kind, value
    if batch.kind == "reminder":  # only the scheduler writes reminder batches
        return "reminders", ""
    raise ValueError(
        f"Send batch {batch.pk}: its audience {words!r} is not one the portal writes; "
        "set it to one of the descriptions in this migration by hand, then migrate again."
    )


def words_to_fields(apps, schema_editor):
    SendBatch = apps.get_model("sending", "SendBatch")
    for batch in SendBatch.objects.only("pk", "kind", "audience").iterator():
        kind, value = audience_from_words(batch)
        SendBatch.objects.filter(pk=batch.pk).update(audience_kind=kind, audience_value=value)


def fields_to_words(apps, schema_editor):
    SendBatch = apps.get_model("sending", "SendBatch")
    prefixes = {kind: prefix for prefix, kind in PREFIXES.items()}
    for batch in SendBatch.objects.only("pk", "audience_kind", "audience_value").iterator():
        if batch.audience_kind in prefixes:
            words = prefixes[batch.audience_kind] + batch.audience_value
        else:
            words = LABELS[batch.audience_kind]
        SendBatch.objects.filter(pk=batch.pk).update(audience=words)


class Migration(migrations.Migration):

    dependencies = [
        ("sending", "0001_moved_from_declarations"),
    ]

    operations = [
        migrations.AlterField(
            model_name="sendbatch",
            name="kind",
            field=models.CharField(
                choices=[("invitation", "Invitations"), ("reminder", "Reminders")], default="invitation", max_length=20
            ),
        ),
        migrations.AddField(
            model_name="sendbatch",
            name="audience_kind",
            field=models.CharField(
                choices=[
                    ("all-unsigned", "Everyone who has not signed"),
                    ("year", "Year group"),
                    ("reg", "Registration group"),
                    ("carer", "One carer"),
                    ("starters", "New families since the invitations went out"),
                    ("reminders", "Reminders to carers who have not signed"),
                ],
                default="all-unsigned",
                max_length=20,
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="sendbatch",
            name="audience_value",
            field=models.CharField(blank=True, max_length=100),
        ),
        migrations.AlterField(
            model_name="sendbatch",
            name="audience",
            field=models.CharField(blank=True, help_text="Who was chosen, in words.", max_length=200),
        ),
        migrations.RunPython(words_to_fields, fields_to_words, elidable=True),
        migrations.RemoveField(
            model_name="sendbatch",
            name="audience",
        ),
    ]
