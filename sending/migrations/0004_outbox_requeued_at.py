"""When the sweep last asked a worker to send a batch, or an e-mail sent on its own, that no worker
was sending (sending/claims.py: batches_unattended, messages_unattended)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('sending', '0003_outbox_skip_reason'),
    ]

    operations = [
        migrations.AddField(
            model_name='outboxmessage',
            name='requeued_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='sendbatch',
            name='requeued_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
