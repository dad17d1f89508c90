"""Declaration PDFs and exports, moved here from the declarations app.

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
        ('schools', '0006_reminder_settings'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
            migrations.CreateModel(
                name='Export',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('filters', models.JSONField(blank=True, default=dict)),
                    ('description', models.CharField(blank=True, help_text='Which declarations, in words.', max_length=300)),
                    ('status', models.CharField(choices=[('queued', 'Waiting to start'), ('running', 'Being built'), ('done', 'Ready'), ('failed', 'Failed'), ('expired', 'Deleted after 7 days')], default='queued', max_length=10)),
                    ('done', models.PositiveIntegerField(default=0)),
                    ('total', models.PositiveIntegerField(default=0)),
                    ('file', models.FileField(blank=True, max_length=200, upload_to='')),
                    ('created_at', models.DateTimeField(auto_now_add=True)),
                    ('started_at', models.DateTimeField(blank=True, null=True)),
                    ('finished_at', models.DateTimeField(blank=True, null=True)),
                    ('error', models.TextField(blank=True)),
                    ('requested_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ('school', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='exports', to='schools.organisation')),
                ],
                options={
                    'db_table': 'declarations_export',
                    'ordering': ['-created_at', '-pk'],
                },
            ),
            migrations.CreateModel(
                name='DeclarationPdf',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('file', models.FileField(max_length=200, upload_to='')),
                    ('sha256', models.CharField(max_length=64, unique=True, verbose_name='SHA-256 of the stored file')),
                    ('verification_code', models.CharField(max_length=10, unique=True)),
                    ('size', models.PositiveIntegerField(help_text='Bytes.')),
                    ('rendered_at', models.DateTimeField()),
                    ('certificate_fingerprint', models.CharField(help_text='SHA-256 of the portal certificate (DER) that sealed it.', max_length=64)),
                    ('declaration', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='pdf', to='declarations.declaration')),
                ],
                options={
                    'verbose_name': 'declaration PDF',
                    'db_table': 'declarations_declarationpdf',
                    'constraints': [models.CheckConstraint(condition=models.Q(('sha256__regex', '^[0-9a-f]{64}$')), name='declaration_pdf_sha256_is_hex'), models.CheckConstraint(condition=models.Q(('verification_code__regex', '^[A-Z2-7]{10}$')), name='declaration_pdf_code_is_base32')],
                },
            ),
            ],
            database_operations=[],
        ),
    ]
