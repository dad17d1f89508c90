"""Whether an e-mail with a carer's link failed, kept on the request itself (the status page's
"e-mail could not be sent"), filled in from the outbox for e-mails that failed before."""

from django.db import migrations, models
from django.db.models import Max

LINK_KINDS = ["invitation", "reminder-1", "reminder-2", "reminder-3", "new-link"]


def from_the_outbox(apps, schema_editor):
    SigningRequest = apps.get_model("declarations", "SigningRequest")
    OutboxMessage = apps.get_model("sending", "OutboxMessage")
    failed = (
        OutboxMessage.objects.filter(status="failed", kind__in=LINK_KINDS)
        .values("carer_id", "version_id")
        .annotate(last=Max("created_at"))
    )
    for row in failed:
        SigningRequest.objects.filter(
            carer_id=row["carer_id"], version_id=row["version_id"], sent_at__isnull=True
        ).update(delivery_failed_at=row["last"])


class Migration(migrations.Migration):

    dependencies = [
        ('sending', '0001_moved_from_declarations'),
        ('declarations', '0007_sending_and_evidence_models_moved_out'),
    ]

    operations = [
        migrations.AddField(
            model_name='signingrequest',
            name='delivery_failed_at',
            field=models.DateTimeField(blank=True, help_text='When an e-mail with the link last failed to go; cleared when one goes.', null=True),
        ),
        migrations.RunPython(from_the_outbox, migrations.RunPython.noop),
    ]
