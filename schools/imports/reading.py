"""Reading an export into rows of text: which format it is (CSV or .xlsx), its encoding and its
delimiter."""

from __future__ import annotations

import csv
import datetime
import io


class Unreadable(Exception):
    """The file as a whole cannot be read; the message ends a sentence that starts "The file"."""


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value).strip()


def _read_xlsx(data: bytes) -> list[tuple[int, list[str]]]:
    from openpyxl import load_workbook  # only needed for Excel files

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise Unreadable("could not be opened as an Excel workbook (.xlsx).") from exc
    try:
        sheet = workbook.active or workbook.worksheets[0]
        sheet.reset_dimensions()  # some MIS exports write a wrong sheet size
        return [
            (number, [_cell_text(v) for v in values])
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1)
        ]
    finally:
        workbook.close()


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        raise Unreadable(
            "is not in a text encoding we can read. Save it from Excel as “CSV UTF-8” or as .xlsx."
        ) from None


def _read_csv(data: bytes) -> list[tuple[int, list[str]]]:
    text = _decode(data)
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max([",", ";", "\t"], key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        # Numbered by record, as a spreadsheet numbers rows, so blank lines count too.
        return [(number, [v.strip() for v in values]) for number, values in enumerate(reader, start=1)]
    except csv.Error as exc:
        raise Unreadable(f"could not be read as CSV near line {reader.line_num}: {exc}.") from None


def read_table(filename: str, data: bytes) -> list[tuple[int, list[str]]]:
    if not data.strip():
        raise Unreadable("is empty.")
    if data.startswith(b"PK\x03\x04"):
        return _read_xlsx(data)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise Unreadable("is an old-style Excel .xls workbook. Save it as .xlsx or CSV and upload that.")
    if filename.lower().endswith((".xlsx", ".xlsm")):
        raise Unreadable("is named .xlsx but is not an Excel workbook.")
    return _read_csv(data)

