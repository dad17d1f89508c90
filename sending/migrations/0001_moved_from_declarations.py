"""The outbox, send batches and scheduled steps, moved here from the declarations app.

Only Django's idea of which app owns them changes: the tables keep their names (Meta.db_table)
and their data, so the operations are state-only.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('declarations', '0006_declaration_counting_signed_at'),
        ('codes', '0003_code_reviews'),
        ('schools', '0006_reminder_settings'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
            migrations.CreateModel(
                name='SendBatch',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('kind', models.CharField(default='invitation', max_length=20)),
                    ('audience', models.CharField(help_text='Who was chosen, in words.', max_length=200)),
                    ('created_at', models.DateTimeField(auto_now_add=True)),
                    ('queued_at', models.DateTimeField(blank=True, null=True)),
                    ('finished_at', models.DateTimeField(blank=True, null=True)),
                    ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ('school', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='send_batches', to='schools.organisation')),
                    ('version', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='codes.codeversion')),
                ],
                options={
                    'db_table': 'declarations_sendbatch',
                    'ordering': ['-created_at'],
                },
            ),
            migrations.CreateModel(
                name='ScheduledStep',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('kind', models.CharField(choices=[('invite', 'Invite every carer to sign'), ('reminder-1', 'First reminder'), ('reminder-2', 'Second reminder'), ('reminder-3', 'Third reminder')], max_length=20)),
                    ('due_at', models.DateTimeField()),
                    ('done_at', models.DateTimeField(blank=True, null=True)),
                    ('outcome', models.CharField(blank=True, max_length=200)),
                    ('created_at', models.DateTimeField(auto_now_add=True)),
                    ('carer', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='scheduled_steps', to='schools.carer')),
                    ('school', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='scheduled_steps', to='schools.organisation')),
                    ('version', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='codes.codeversion')),
                    ('batch', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='sending.sendbatch')),
                ],
                options={
                    'db_table': 'declarations_scheduledstep',
                    'ordering': ['due_at', 'pk'],
                    'indexes': [models.Index(condition=models.Q(('done_at__isnull', True)), fields=['school', 'due_at'], name='scheduled_step_waiting')],
                    'constraints': [models.UniqueConstraint(condition=models.Q(('carer__isnull', False)), fields=('carer', 'version', 'kind'), name='one_step_per_carer_version_and_kind'), models.UniqueConstraint(condition=models.Q(('carer__isnull', True)), fields=('school', 'version', 'kind'), name='one_school_step_per_version_and_kind'), models.CheckConstraint(condition=models.Q(models.Q(('carer__isnull', True), ('kind', 'invite')), models.Q(models.Q(('kind', 'invite'), _negated=True), ('carer__isnull', False)), _connector='OR'), name='invite_steps_are_per_school_reminders_per_carer')],
                },
            ),
            migrations.CreateModel(
                name='OutboxMessage',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('kind', models.CharField(choices=[('invitation', 'Invitation'), ('reminder-1', 'First reminder'), ('reminder-2', 'Second reminder'), ('reminder-3', 'Third reminder'), ('new-link', 'New link'), ('confirmation', 'Confirmation')], max_length=20)),
                    ('sequence', models.PositiveIntegerField(default=0)),
                    ('status', models.CharField(choices=[('pending', 'Waiting to send'), ('sending', 'Sending'), ('sent', 'Sent'), ('failed', 'Failed'), ('skipped', 'Not sent')], default='pending', max_length=10)),
                    ('to_address', models.EmailField(blank=True, max_length=254)),
                    ('created_at', models.DateTimeField(auto_now_add=True)),
                    ('claimed_at', models.DateTimeField(blank=True, null=True)),
                    ('sent_at', models.DateTimeField(blank=True, null=True)),
                    ('attempts', models.PositiveSmallIntegerField(default=0)),
                    ('error', models.TextField(blank=True)),
                    ('carer', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='outbox', to='schools.carer')),
                    ('school', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='outbox', to='schools.organisation')),
                    ('version', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='codes.codeversion')),
                    ('batch', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='messages', to='sending.sendbatch')),
                ],
                options={
                    'db_table': 'declarations_outboxmessage',
                    'indexes': [models.Index(fields=['status', 'created_at'], name='declaration_status_5e68d4_idx')],
                    'constraints': [models.UniqueConstraint(fields=('carer', 'version', 'kind', 'sequence'), name='one_email_per_carer_version_purpose')],
                },
            ),
            ],
            database_operations=[],
        ),
    ]
