"""Restoring a backup into an empty deployment.

Order: unpack and check the whole archive (a wrong passphrase or any altered byte stops here);
check that this deployment is empty and can take it; then write the secrets, the files, and the
database last, in one transaction. Until that transaction commits the deployment is still
empty by the definition below, so an interrupted restore can simply be run again.

"Empty" means all of:
- the database is of the same kind (SQLite or PostgreSQL) as the backed-up one;
- no table holds a row, except the bookkeeping `migrate` writes by itself (django_migrations,
  django_content_type, auth_permission): a new database, migrated or not, is empty;
- it has no migration applied that the backed-up database had not (it is not ahead of it), and
  this code knows every migration the backed-up database had (it is not behind it);
- default storage holds no file, except files identical to ones in the archive (left by an
  interrupted restore);
- the signing certificate's and the development seal's places hold nothing, or the same seal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

from backups import database, files, keys
from backups.archive import BackupError, Unpacked


@dataclass
class Plan:
    unpacked: Unpacked
    secrets: keys.SecretsPlan
    files_to_write: list[dict] = field(default_factory=list)
    files_present: int = 0


def check_target(unpacked: Unpacked) -> Plan:
    """Everything that could refuse, before anything is changed."""
    manifest = unpacked.manifest
    archived_db = manifest["database"]
    vendor = database.vendor()
    if archived_db["vendor"] != vendor:
        raise BackupError(
            f"This backup holds a {archived_db['vendor']} database and this deployment uses {vendor}. "
            "Restore it into a deployment with the same kind of database."
        )
    unknown = database.unknown_migrations(archived_db["migrations"])
    if unknown:
        raise BackupError(
            f"This backup was made by a newer portal (version {manifest['portal_version']}): this code "
            f"lacks its migrations {', '.join(unknown[:5])}. Install that version, then restore."
        )
    found = database.state()
    if found.tables_with_rows:
        raise BackupError(
            "This deployment's database already holds data (in " + ", ".join(found.tables_with_rows[:5])
            + (", …" if len(found.tables_with_rows) > 5 else "") + "). A restore goes only into an empty "
            "deployment: create a new database (and a new PORTAL_VAR_DIR or DJANGO_MEDIA_ROOT) and point "
            "this deployment at them."
        )
    ahead = sorted(found.applied - {tuple(item) for item in archived_db["migrations"]})
    if ahead:
        raise BackupError(
            "This deployment's database has been migrated further than the backed-up one ("
            + ", ".join(f"{app}.{name}" for app, name in ahead[:5])
            + "). Restore into a database that has not been migrated (a new, empty one), then migrate."
        )
    plan = Plan(unpacked=unpacked, secrets=keys.plan(unpacked))
    archived_files = {entry["name"]: entry for entry in unpacked.stored_files}
    store = files.storage()
    for name in files.names(store):
        entry = archived_files.get(name)
        if entry is None or files.sha256(name, store) != entry["sha256"]:
            location = files.describe(store)["location"] or files.describe(store)["backend"]
            raise BackupError(
                f"This deployment's file storage ({location}) already holds files ({name} and perhaps "
                "more). A restore goes only into an empty deployment: point DJANGO_MEDIA_ROOT (or the "
                "bucket) at an empty place."
            )
        plan.files_present += 1
    plan.files_to_write = [entry for name, entry in archived_files.items() if not store.exists(name)]
    return plan


def apply(plan: Plan, *, say=lambda message: None) -> dict:
    """Write everything; return the restored database's row counts, checked against the manifest."""
    unpacked = plan.unpacked
    plan.secrets.apply()
    store = files.storage()
    say(f"Restoring {len(plan.files_to_write)} stored files…")
    for entry in plan.files_to_write:
        files.save(entry["name"], unpacked.path(entry["path"]), store)
    archived_db = unpacked.manifest["database"]
    say(f"Restoring the {archived_db['vendor']} database…")
    restore = database.restore_sqlite if archived_db["vendor"] == "sqlite" else database.restore_postgres
    restore(unpacked.path(archived_db["file"]))
    connection = connections[DEFAULT_DB_ALIAS]
    counts = database.row_counts(connection)
    differ = sorted(
        table for table, rows in archived_db["tables"].items() if not table.startswith("sqlite_") and counts.get(table) != rows
    )
    if differ:
        raise BackupError(
            "The restored database does not hold what the manifest records (tables "
            + ", ".join(differ[:5]) + "). Do not use this deployment; report this as a bug."
        )
    return counts


def pending_migrations() -> list[str]:
    connection = connections[DEFAULT_DB_ALIAS]
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _ in plan]
