"""Database triggers that refuse to change or delete a published version, by any route.

CodeVersion.save() already refuses; these catch QuerySet.update(), raw SQL and the shell.
The one change allowed is the publish itself (OLD.status = 'draft').
"""

from django.db import migrations

SQLITE = [
    """
    CREATE TRIGGER codes_version_frozen_update BEFORE UPDATE ON codes_codeversion
    WHEN OLD.status = 'published'
    BEGIN SELECT RAISE(ABORT, 'published code versions are frozen'); END;
    """,
    """
    CREATE TRIGGER codes_version_frozen_delete BEFORE DELETE ON codes_codeversion
    WHEN OLD.status = 'published'
    BEGIN SELECT RAISE(ABORT, 'published code versions are frozen'); END;
    """,
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS codes_version_frozen_update;",
    "DROP TRIGGER IF EXISTS codes_version_frozen_delete;",
]

POSTGRES = [
    """
    CREATE OR REPLACE FUNCTION codes_version_frozen() RETURNS trigger AS $$
    BEGIN
        IF OLD.status = 'published' THEN
            RAISE EXCEPTION 'published code versions are frozen' USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END;
    $$ LANGUAGE plpgsql;
    """,
    """
    CREATE TRIGGER codes_version_frozen BEFORE UPDATE OR DELETE ON codes_codeversion
    FOR EACH ROW EXECUTE FUNCTION codes_version_frozen();
    """,
]
POSTGRES_REVERSE = [
    "DROP TRIGGER IF EXISTS codes_version_frozen ON codes_codeversion;",
    "DROP FUNCTION IF EXISTS codes_version_frozen();",
]


def forwards(apps, schema_editor):
    statements = POSTGRES if schema_editor.connection.vendor == "postgresql" else SQLITE
    for sql in statements:
        schema_editor.execute(sql)


def backwards(apps, schema_editor):
    statements = POSTGRES_REVERSE if schema_editor.connection.vendor == "postgresql" else SQLITE_REVERSE
    for sql in statements:
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("codes", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
