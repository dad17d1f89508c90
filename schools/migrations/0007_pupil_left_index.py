"""An index of the pupils who have left (a few percent of pupils): the association dashboard asks,
for every parental-responsibility link of its member schools, whether the pupil has left, and
reads the answer from this index rather than joining each link to its pupil
(declarations/dashboard.py, bench/profiles/dashboards.md)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("schools", "0006_reminder_settings"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="pupil",
            index=models.Index(condition=models.Q(on_roll=False), fields=["id"], name="pupil_left"),
        ),
    ]
