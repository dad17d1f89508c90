"""Links are numbered, so the current one can be written into an e-mail again. Links made before
have number 0: they keep working until they expire or the next e-mail to the carer replaces them
with link number 1 (their token was random and cannot be written again)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('declarations', '0008_signing_request_delivery_failed'),
    ]

    operations = [
        migrations.AddField(
            model_name='signingrequest',
            name='link_number',
            field=models.PositiveIntegerField(default=0, editable=False, help_text='The number of the current link (0: none issued yet).'),
        ),
    ]
