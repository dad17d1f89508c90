"""How much one export may hold (the settings of portal/settings.py, "Families import"), and the
refusal of a file that cannot be read."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.template.defaultfilters import filesizeformat

CHUNK = 1 << 20  # bytes read, decoded or unzipped at a time

Rows = Iterator[tuple[int, list[str]]]


class Unreadable(Exception):
    """The file as a whole cannot be read; the message ends a sentence that starts "The file"."""


@dataclass(frozen=True)
class Limits:
    file_bytes: int
    uncompressed_bytes: int
    workbook_parts: int
    rows: int
    columns: int
    cells: int
    cell_characters: int

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(
            file_bytes=settings.PORTAL_IMPORT_MAX_FILE_BYTES,
            uncompressed_bytes=settings.PORTAL_IMPORT_MAX_UNCOMPRESSED_BYTES,
            workbook_parts=settings.PORTAL_IMPORT_MAX_WORKBOOK_PARTS,
            rows=settings.PORTAL_IMPORT_MAX_ROWS,
            columns=settings.PORTAL_IMPORT_MAX_COLUMNS,
            cells=settings.PORTAL_IMPORT_MAX_CELLS,
            cell_characters=settings.PORTAL_IMPORT_MAX_CELL_CHARACTERS,
        )


def size(n: int) -> str:
    """'10.0 MB', with an ordinary space: messages are also printed by the command line."""
    return filesizeformat(n).replace("\xa0", " ")


def rows_message(limits: Limits) -> str:
    return (
        f"has more than {limits.rows:,} rows, the most the portal reads from one export. "
        "Check that it is your school's export of pupils and their contacts."
    )


def cells_message(limits: Limits) -> str:
    return f"has more than {limits.cells:,} cells, the most the portal reads from one export."


def cell_message(limits: Limits, line: int) -> str:
    return (
        f"has a cell longer than {limits.cell_characters:,} characters on line {line}, "
        "the most the portal reads in one cell."
    )
