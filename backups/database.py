"""The database in a backup: copied online, checked for emptiness, put back.

SQLite: the online backup API (sqlite3.Connection.backup) copies a consistent snapshot while the
portal keeps running, and copies it back page for page into the target in one write transaction.
PostgreSQL: pg_dump's custom format, taken in a snapshot shared with the row counts of the
manifest; pg_restore puts it back in a single transaction, so it arrives whole or not at all.

Only through Django's connection and the database's own tools: this module knows no model.
"""

from __future__ import annotations

import glob
import gzip
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.loader import MigrationLoader

from backups.archive import BackupError

# The tables `migrate` fills by itself. A database holding rows only here is still empty.
BOOKKEEPING = frozenset({"django_migrations", "django_content_type", "auth_permission"})
SUPPORTED = ("sqlite", "postgresql")


class DatabaseError(BackupError):
    """The database cannot be backed up or restored; the message says why and what to do."""


@dataclass
class DatabaseState:
    vendor: str
    tables_with_rows: list[str]
    applied: set[tuple[str, str]]  # migrations recorded as applied


def vendor(alias: str = DEFAULT_DB_ALIAS) -> str:
    found = connections[alias].vendor
    if found not in SUPPORTED:
        raise DatabaseError(f"Backups support SQLite and PostgreSQL; this deployment's database is {found}.")
    return found


def _quote(connection, table: str) -> str:
    return connection.ops.quote_name(table)


def row_counts(connection) -> dict[str, int]:
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        counts = {}
        for table in sorted(tables):
            cursor.execute(f"SELECT COUNT(*) FROM {_quote(connection, table)}")
            counts[table] = cursor.fetchone()[0]
    return counts


def state(alias: str = DEFAULT_DB_ALIAS) -> DatabaseState:
    connection = connections[alias]
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        with_rows = []
        for table in sorted(set(tables) - BOOKKEEPING):
            cursor.execute(f"SELECT 1 FROM {_quote(connection, table)} LIMIT 1")
            if cursor.fetchone() is not None:
                with_rows.append(table)
        applied = set()
        if "django_migrations" in tables:
            cursor.execute("SELECT app, name FROM django_migrations")
            applied = {tuple(row) for row in cursor.fetchall()}
    return DatabaseState(vendor=connection.vendor, tables_with_rows=with_rows, applied=applied)


def applied_migrations(connection) -> list[list[str]]:
    with connection.cursor() as cursor:
        if "django_migrations" not in connection.introspection.table_names(cursor):
            return []
        cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
        return [list(row) for row in cursor.fetchall()]


def unknown_migrations(archived: list[list[str]]) -> list[str]:
    """Migrations the archive's database has applied that this code does not have: it was made
    by a newer portal, and restoring it here would leave tables this code does not understand."""
    on_disk = set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    return [f"{app}.{name}" for app, name in archived if (app, name) not in on_disk]


# SQLite


def dump_sqlite(target: Path, alias: str = DEFAULT_DB_ALIAS) -> dict:
    """A consistent copy of the live database, gzipped into `target` (a database compresses about
    five-fold, in a second or two per 100 MB at gzip's fastest level; PDFs would hardly shrink)."""
    connection = connections[alias]
    connection.ensure_connection()
    copy = target.with_name(target.name + ".sqlite3")
    destination = sqlite3.connect(copy)
    try:
        connection.connection.backup(destination)
        # One self-contained file, whatever journal mode the live database uses.
        destination.execute("PRAGMA journal_mode=DELETE")
    finally:
        destination.close()
    snapshot = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
    try:
        names = [row[0] for row in snapshot.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )]
        counts = {name: snapshot.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0] for name in sorted(names)}
        migrations = []
        if "django_migrations" in names:
            migrations = [list(row) for row in snapshot.execute("SELECT app, name FROM django_migrations ORDER BY app, name")]
        integrity = snapshot.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        snapshot.close()
    if integrity != "ok":
        raise DatabaseError(f"The copy of the SQLite database fails its integrity check: {integrity}.")
    with open(copy, "rb") as plain, gzip.open(target, "wb", compresslevel=1) as packed:
        shutil.copyfileobj(plain, packed, 1 << 20)
    copy.unlink()
    return {"tables": counts, "migrations": migrations}


def restore_sqlite(source: Path, alias: str = DEFAULT_DB_ALIAS) -> None:
    """Copy the archived database (gzipped) over this deployment's, page for page, in one write
    transaction (the online backup API, the other way round)."""
    copy = source.with_name(source.name + ".sqlite3")
    with gzip.open(source, "rb") as packed, open(copy, "wb") as plain:
        shutil.copyfileobj(packed, plain, 1 << 20)
    connection = connections[alias]
    connection.close()
    connection.ensure_connection()
    archived = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
    try:
        archived.backup(connection.connection)
    finally:
        archived.close()
        connection.close()
        copy.unlink()


# PostgreSQL


def postgres_tool(name: str) -> str:
    """pg_dump or pg_restore: on PATH, else the newest under /usr/lib/postgresql/*/bin (Debian's
    layout). PORTAL_PG_BIN_DIR, when set, is looked in first."""
    candidates = []
    if os.environ.get("PORTAL_PG_BIN_DIR"):
        candidates.append(str(Path(os.environ["PORTAL_PG_BIN_DIR"]) / name))
    found = shutil.which(name)
    if found:
        candidates.append(found)

    def major(path):
        try:
            return int(Path(path).parts[-3])
        except (ValueError, IndexError):
            return 0

    candidates += sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=major, reverse=True)
    for candidate in candidates:
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise DatabaseError(
        f"{name} was not found (looked on PATH and under /usr/lib/postgresql/*/bin). Install the "
        "PostgreSQL client tools of the server's version or newer (Debian: postgresql-client), or "
        "set PORTAL_PG_BIN_DIR to their folder."
    )


def _libpq_environment(settings_dict: dict) -> dict[str, str]:
    """The connection as libpq environment variables, so no password appears in a process list."""
    environment = dict(os.environ)
    options = settings_dict.get("OPTIONS") or {}
    for key, variable in (("HOST", "PGHOST"), ("PORT", "PGPORT"), ("USER", "PGUSER"), ("PASSWORD", "PGPASSWORD"), ("NAME", "PGDATABASE")):
        if settings_dict.get(key):
            environment[variable] = str(settings_dict[key])
    for key, variable in (
        ("sslmode", "PGSSLMODE"), ("sslrootcert", "PGSSLROOTCERT"), ("sslcert", "PGSSLCERT"),
        ("sslkey", "PGSSLKEY"), ("options", "PGOPTIONS"), ("service", "PGSERVICE"),
        ("passfile", "PGPASSFILE"), ("application_name", "PGAPPNAME"),
    ):
        if options.get(key):
            environment[variable] = str(options[key])
    return environment


def _run(command: list[str], environment: dict[str, str], what: str) -> None:
    result = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise DatabaseError(f"{what} failed (exit status {result.returncode}): " + " / ".join(detail[-5:]))


def dump_postgres(target: Path, alias: str = DEFAULT_DB_ALIAS) -> dict:
    """pg_dump in the snapshot of a transaction of our own, in which the rows are counted too,
    so the manifest's counts are those of the dump while the portal keeps writing."""
    pg_dump = postgres_tool("pg_dump")
    connection = connections.create_connection(alias)
    try:
        connection.ensure_connection()
        connection.set_autocommit(False)
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
        _run(
            [pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={target}"],
            _libpq_environment(connection.settings_dict),
            "pg_dump",
        )
        manifest = {"tables": row_counts(connection), "migrations": applied_migrations(connection)}
        connection.rollback()
        return manifest
    finally:
        connection.close()


def restore_postgres(source: Path, alias: str = DEFAULT_DB_ALIAS) -> None:
    """pg_restore in one transaction. --clean --if-exists first drops whatever the archive holds
    that an empty but migrated database already has (its tables, the evidence triggers' functions);
    objects are owned by, and granted as, whoever restores."""
    pg_restore = postgres_tool("pg_restore")
    connection = connections[alias]
    settings_dict = connection.settings_dict
    connection.close()
    _run(
        [
            pg_restore, "--single-transaction", "--exit-on-error", "--clean", "--if-exists",
            "--no-owner", "--no-privileges", f"--dbname={settings_dict['NAME']}", str(source),
        ],
        _libpq_environment(settings_dict),
        "pg_restore",
    )
