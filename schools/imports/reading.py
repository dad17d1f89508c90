"""Reading an export into rows of text: which format it is (CSV or .xlsx), its encoding and its
delimiter, within the limits of schools/imports/limits.py.

    for line, values in read_rows(filename, data): ...

Rows are read one at a time, never the whole file at once, and numbered as a spreadsheet numbers
them (blank lines count). Every way a file can fail to be read raises Unreadable, while reading
too: a file larger than a limit, in an encoding we cannot read, damaged, or with more rows,
columns or characters in a cell than the limits allow. The message names the limit.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools

from schools.imports.limits import (
    CHUNK,
    Limits,
    Rows,
    Unreadable,
    cell_message,
    cells_message,
    rows_message,
    size,
)
from schools.imports.workbooks import workbook_rows

SAVE_AS = "Save it from Excel as “CSV UTF-8” or as .xlsx."


def read_rows(filename: str, data: bytes, limits: Limits | None = None) -> Rows:
    limits = limits or Limits.from_settings()
    if len(data) > limits.file_bytes:
        raise Unreadable(f"is larger than {size(limits.file_bytes)}, the most the portal accepts for one export.")
    if not data or data.isspace():
        raise Unreadable("is empty.")
    if data.startswith(b"PK\x03\x04"):
        rows = workbook_rows(data, limits)
    elif data.startswith(b"\xd0\xcf\x11\xe0"):
        raise Unreadable("is an old-style Excel .xls workbook. Save it as .xlsx or CSV and upload that.")
    elif filename.lower().endswith((".xlsx", ".xlsm")):
        raise Unreadable("is named .xlsx but is not an Excel workbook.")
    else:
        rows = _csv_rows(data, limits)
    return _within_limits(rows, limits)


def _within_limits(rows: Rows, limits: Limits) -> Rows:
    cells = 0
    try:
        for line, values in rows:
            if line > limits.rows:
                raise Unreadable(rows_message(limits))
            values = [value.strip() for value in values]
            while values and not values[-1]:  # blank cells at the end of a row are formatting
                values.pop()
            if len(values) > limits.columns:
                raise Unreadable(
                    f"has more than {limits.columns:,} columns on line {line}, the most the portal reads in one row."
                )
            cells += len(values)
            if cells > limits.cells:
                raise Unreadable(cells_message(limits))
            if any(len(value) > limits.cell_characters for value in values):
                raise Unreadable(cell_message(limits, line))
            yield line, values
    finally:
        rows.close()


# ---------------------------------------------------------------------------------------------
# CSV


def _csv_rows(data: bytes, limits: Limits) -> Rows:
    encoding = _encoding(data)
    # Decoded as it is read, a line at a time, rather than into one string of the whole file.
    lines = iter(io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline=""))
    reader = None
    try:
        # The delimiter is the commonest of the three in the first line that is not blank.
        first = []
        for line in lines:
            first.append(line)
            if line.strip() or len(first) > limits.rows:
                break
        delimiter = max([",", ";", "\t"], key=first[-1].count) if first else ","
        reader = csv.reader(itertools.chain(first, lines), delimiter=delimiter)
        # Numbered by record, as a spreadsheet numbers rows, so blank lines count too.
        yield from enumerate(reader, start=1)
    except csv.Error as exc:
        line = reader.line_num if reader else 1
        if "field larger than field limit" in str(exc):
            raise Unreadable(cell_message(limits, line)) from None
        raise Unreadable(f"could not be read as CSV near line {line}: {exc}.") from None
    except UnicodeDecodeError:
        raise Unreadable(f"is not in a text encoding we can read. {SAVE_AS}") from None


def _encoding(data: bytes) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        if _decodes(data, "utf-16"):
            return "utf-16"
        raise Unreadable(f"starts with a UTF-16 byte-order mark but is not UTF-16 text. {SAVE_AS}")
    if b"\x00" in data:
        raise Unreadable(f"contains null characters, which a CSV export never has. {SAVE_AS}")
    for encoding in ("utf-8-sig", "cp1252"):
        if _decodes(data, encoding):
            return encoding
    raise Unreadable(f"is not in a text encoding we can read. {SAVE_AS}")


def _decodes(data: bytes, encoding: str) -> bool:
    """Whether the whole file is text in this encoding, checked a piece at a time."""
    decoder = codecs.getincrementaldecoder(encoding)()
    view = memoryview(data)
    try:
        for start in range(0, len(view), CHUNK):
            decoder.decode(view[start:start + CHUNK])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True
