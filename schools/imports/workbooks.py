"""Reading an Excel workbook (.xlsx) without letting it take the machine.

An .xlsx is a zip of XML parts. A few megabytes can unzip to gigabytes, and a zip can say its
parts are small when they are not. So before openpyxl parses anything the workbook is checked:
how many parts it has, how large they say they are unzipped, and then every part is unzipped
as a stream, a megabyte at a time, counting what really comes out and stopping at the limit
(zipfile itself stops at the size a part declares, and a part that holds more fails its
checksum). While they stream past, the worksheets' rows and cells are counted: openpyxl builds
a whole row in memory before giving it back, so one row of a million cells must be refused
before it is parsed, and every cell costs time to parse, read or not. Only then does openpyxl read the sheet, in read-only mode,
one row at a time.
"""

from __future__ import annotations

import datetime
import io
import re
import zipfile

from schools.imports.limits import (
    CHUNK,
    Limits,
    Rows,
    Unreadable,
    cells_message,
    rows_message,
    size,
)

NOT_A_WORKBOOK = "could not be opened as an Excel workbook (.xlsx)."
# A row or a cell element, with or without a namespace prefix: <row r="2">, <x:c r="A1" t="s">.
TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,31}:)?(row|c)[\s/>]")
TAG_MOST = 64  # bytes a TAG match can span, kept from one piece to the next
CENTRAL_DIRECTORY_ENTRY = b"PK\x01\x02"


def workbook_rows(data: bytes, limits: Limits) -> Rows:
    check_workbook(data, limits)
    from openpyxl import load_workbook  # only needed for Excel files

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise Unreadable(NOT_A_WORKBOOK) from exc
    try:
        try:
            sheet = _first_sheet(workbook)
            sheet.reset_dimensions()  # some MIS exports write a wrong sheet size
            rows = sheet.iter_rows(values_only=True)
        except Unreadable:
            raise
        except Exception as exc:
            raise Unreadable(NOT_A_WORKBOOK) from exc
        line = 0
        while True:
            try:
                values = next(rows, None)
                if values is None:
                    return
                cells = [_cell_text(value) for value in values]
            except Exception as exc:  # a damaged sheet fails while it is read, not when opened
                raise Unreadable(
                    f"could not be read as an Excel workbook (.xlsx): it is damaged near row {line + 1}."
                ) from exc
            line += 1
            yield line, cells
    finally:
        workbook.close()


def _first_sheet(workbook):
    worksheets = workbook.worksheets
    if not worksheets:
        raise Unreadable("is an Excel workbook without a worksheet.")
    active = workbook.active
    return active if any(active is sheet for sheet in worksheets) else worksheets[0]


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


def check_workbook(data: bytes, limits: Limits) -> None:
    """Refuse a workbook beyond the limits before it is parsed (the module docstring says how)."""
    too_many_parts = Unreadable(
        f"is an Excel workbook of more than {limits.workbook_parts:,} parts, the most the portal opens. "
        "Save it as CSV and upload that."
    )
    # Opening a zip reads its whole list of parts into memory: count the entries first.
    if data.count(CENTRAL_DIRECTORY_ENTRY) > limits.workbook_parts:
        raise too_many_parts
    too_large = (
        f"the {size(limits.uncompressed_bytes)} the portal opens. Save it as CSV, or delete other sheets, "
        "and upload that."
    )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
            if len(parts) > limits.workbook_parts:
                raise too_many_parts
            declared = sum(part.file_size for part in parts)
            if declared > limits.uncompressed_bytes:
                raise Unreadable(f"is an Excel workbook that unzips to {size(declared)}, more than {too_large}")
            left = limits.uncompressed_bytes
            for part in parts:
                shape = SheetShape(limits) if part.filename.lower().endswith(".xml") else None
                with archive.open(part) as stream:
                    while chunk := stream.read(CHUNK):
                        left -= len(chunk)
                        if left < 0:
                            raise Unreadable(f"is an Excel workbook that unzips to more than {too_large}")
                        if shape:
                            shape.feed(chunk)
                if shape:
                    shape.feed(b"", final=True)
    except Unreadable:
        raise
    except Exception as exc:  # zipfile, zlib and struct raise many kinds for a damaged archive
        raise Unreadable(NOT_A_WORKBOOK) from exc


class SheetShape:
    """Counts the rows of an XML part, and the cells in each row, as it streams past in pieces."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.rows = 0
        self.cells = 0
        self.cells_in_row = 0
        self.tail = b""

    def feed(self, chunk: bytes, *, final: bool = False) -> None:
        buffer = self.tail + chunk
        # A tag may be cut in two at the end of a piece: leave the end for the next one.
        end = len(buffer) if final else max(0, len(buffer) - TAG_MOST)
        for match in TAG.finditer(buffer):
            if match.start() >= end:
                break
            if match.group(1) == b"row":
                self.rows += 1
                self.cells_in_row = 0
                if self.rows > self.limits.rows:
                    raise Unreadable(rows_message(self.limits))
            else:
                self.cells += 1
                if self.cells > self.limits.cells:
                    raise Unreadable(cells_message(self.limits))
                self.cells_in_row += 1
                if self.cells_in_row > self.limits.columns:
                    raise Unreadable(
                        f"is an Excel workbook with a row of more than {self.limits.columns:,} cells, "
                        "the most the portal reads in one row."
                    )
        self.tail = buffer[end:]
