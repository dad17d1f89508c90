"""A database trigger refusing UPDATE of a declaration, by any route: it is evidence.

Deletion stays possible for the retention job, which records what it destroys in the audit log.
"""

from django.db import migrations

SQLITE = """
CREATE TRIGGER declarations_never_edited BEFORE UPDATE ON declarations_declaration
BEGIN SELECT RAISE(ABORT, 'declarations are evidence and are never edited'); END;
"""
POSTGRES = [
    """
    CREATE OR REPLACE FUNCTION declarations_never_edited() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'declarations are evidence and are never edited'
            USING ERRCODE = 'integrity_constraint_violation';
    END;
    $$ LANGUAGE plpgsql;
    """,
    """
    CREATE TRIGGER declarations_never_edited BEFORE UPDATE ON declarations_declaration
    FOR EACH ROW EXECUTE FUNCTION declarations_never_edited();
    """,
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in POSTGRES:
            schema_editor.execute(sql)
    else:
        schema_editor.execute(SQLITE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP TRIGGER IF EXISTS declarations_never_edited ON declarations_declaration;")
        schema_editor.execute("DROP FUNCTION IF EXISTS declarations_never_edited();")
    else:
        schema_editor.execute("DROP TRIGGER IF EXISTS declarations_never_edited;")


class Migration(migrations.Migration):
    dependencies = [("declarations", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
