"""The outbox, batches, scheduled steps (now sending's) and PDFs and exports (now evidence's) leave
this app's state. Their tables stay as they are: the new apps own them under the same names.
"""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('sending', '0001_moved_from_declarations'),
        ('evidence', '0001_moved_from_declarations'),
        ('declarations', '0006_declaration_counting_signed_at'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
            migrations.RemoveConstraint(
                model_name='declarationpdf',
                name='declaration_pdf_sha256_is_hex',
            ),
            migrations.RemoveConstraint(
                model_name='declarationpdf',
                name='declaration_pdf_code_is_base32',
            ),
            migrations.RemoveField(
                model_name='export',
                name='requested_by',
            ),
            migrations.RemoveField(
                model_name='export',
                name='school',
            ),
            migrations.RemoveIndex(
                model_name='outboxmessage',
                name='declaration_status_5e68d4_idx',
            ),
            migrations.RemoveConstraint(
                model_name='outboxmessage',
                name='one_email_per_carer_version_purpose',
            ),
            migrations.RemoveIndex(
                model_name='scheduledstep',
                name='scheduled_step_waiting',
            ),
            migrations.RemoveConstraint(
                model_name='scheduledstep',
                name='one_step_per_carer_version_and_kind',
            ),
            migrations.RemoveConstraint(
                model_name='scheduledstep',
                name='one_school_step_per_version_and_kind',
            ),
            migrations.RemoveConstraint(
                model_name='scheduledstep',
                name='invite_steps_are_per_school_reminders_per_carer',
            ),
            migrations.RemoveField(
                model_name='sendbatch',
                name='created_by',
            ),
            migrations.RemoveField(
                model_name='sendbatch',
                name='school',
            ),
            migrations.RemoveField(
                model_name='sendbatch',
                name='version',
            ),
            migrations.RemoveField(
                model_name='declarationpdf',
                name='declaration',
            ),
            migrations.DeleteModel(
                name='Export',
            ),
            migrations.RemoveField(
                model_name='outboxmessage',
                name='batch',
            ),
            migrations.RemoveField(
                model_name='outboxmessage',
                name='carer',
            ),
            migrations.RemoveField(
                model_name='outboxmessage',
                name='school',
            ),
            migrations.RemoveField(
                model_name='outboxmessage',
                name='version',
            ),
            migrations.RemoveField(
                model_name='scheduledstep',
                name='batch',
            ),
            migrations.RemoveField(
                model_name='scheduledstep',
                name='carer',
            ),
            migrations.RemoveField(
                model_name='scheduledstep',
                name='school',
            ),
            migrations.RemoveField(
                model_name='scheduledstep',
                name='version',
            ),
            migrations.DeleteModel(
                name='DeclarationPdf',
            ),
            migrations.DeleteModel(
                name='OutboxMessage',
            ),
            migrations.DeleteModel(
                name='SendBatch',
            ),
            migrations.DeleteModel(
                name='ScheduledStep',
            ),
            ],
            database_operations=[],
        ),
    ]
