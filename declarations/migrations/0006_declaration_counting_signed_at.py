"""The completion dashboards' index carries each declaration's signed_at as well, as its last
column (a carer signs a version once, so it orders and finds the same rows as before).

The school dashboard's chart asks "when did each carer first sign a version that counts?"; with
signed_at in the index that is an index-only scan of the school's counting declarations instead
of reading every declaration of the school (wide rows) from the table: on the scale dataset the
largest school's chart query went from about 6 to 1 ms (bench/profiles/dashboards.md). A key
column rather than an INCLUDE one, which SQLite does not have.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("declarations", "0005_declaration_counting_index"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="declaration", name="declaration_counting"),
        migrations.AddIndex(
            model_name="declaration",
            index=models.Index(fields=["version", "school", "carer", "method", "signed_at"], name="declaration_counting"),
        ),
    ]
