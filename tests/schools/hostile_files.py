"""Workbooks built to hurt an importer: zip bombs, zips that lie about their sizes, enormous rows.

A gigabyte of XML is never held or compressed here: one piece of it is compressed once and its
compressed bytes repeated, which deflate allows when each piece is compressed from a clean
state (a full flush), and the zip around it is written by hand so that it can state any size.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

FILES = Path(__file__).parent / "files"
SHEET = "xl/worksheets/sheet1.xml"
SHEET_START = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
)
SHEET_END = b"</sheetData></worksheet>"


@dataclass(frozen=True)
class Part:
    name: str
    deflated: bytes
    crc: int
    size: int  # unzipped, in bytes

    @classmethod
    def of(cls, name: str, content: bytes) -> Part:
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        return cls(name, compressor.compress(content) + compressor.flush(), zlib.crc32(content), len(content))

    @classmethod
    def repeated(cls, name: str, start: bytes, piece: bytes, times: int, end: bytes) -> Part:
        """start + piece × times + end, without ever holding or compressing the whole."""
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        head = compressor.compress(start) + compressor.flush(zlib.Z_FULL_FLUSH)
        body = compressor.compress(piece) + compressor.flush(zlib.Z_FULL_FLUSH)
        tail = compressor.compress(end) + compressor.flush(zlib.Z_FINISH)
        crc = zlib.crc32(start)
        for _ in range(times):
            crc = zlib.crc32(piece, crc)
        crc = zlib.crc32(end, crc)
        return cls(name, head + body * times + tail, crc, len(start) + len(piece) * times + len(end))


def zip_of(parts: list[Part], *, stated_sizes: dict[str, int] | None = None) -> bytes:
    """A zip of the parts, each stating its real unzipped size unless `stated_sizes` says otherwise."""
    stated_sizes = stated_sizes or {}
    out, directory = io.BytesIO(), []
    for part in parts:
        name, offset = part.name.encode(), out.tell()
        stated = stated_sizes.get(part.name, part.size)
        fields = (8, 0, 0x21, part.crc, len(part.deflated), stated, len(name))  # deflate, 1980-01-01
        out.write(struct.pack("<4s3H2H3L2H", b"PK\x03\x04", 20, 0, *fields, 0) + name + part.deflated)
        directory.append(struct.pack("<4s4H2H3L5H2L", b"PK\x01\x02", 20, 20, 0, *fields, 0, 0, 0, 0, 0, offset) + name)
    start = out.tell()
    out.write(b"".join(directory))
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(parts), len(parts), out.tell() - start, start, 0))
    return out.getvalue()


def workbook_with_sheet(sheet: Part, *, stated_sizes: dict[str, int] | None = None, extra: list[Part] = ()) -> bytes:
    """bromcom.xlsx with its worksheet replaced by `sheet` (and any extra parts)."""
    with zipfile.ZipFile(FILES / "bromcom.xlsx") as real:
        parts = [Part.of(info.filename, real.read(info)) for info in real.infolist() if info.filename != SHEET]
    return zip_of([*parts, sheet, *extra], stated_sizes=stated_sizes)


def row(number: int, cells: int = 1) -> bytes:
    return f'<row r="{number}">'.encode() + b'<c t="inlineStr"><is><t>x</t></is></c>' * cells + b"</row>"


def text_row(number: int, values: list[str]) -> bytes:
    cells = "".join(f'<c t="inlineStr"><is><t>{value}</t></is></c>' for value in values)
    return f'<row r="{number}">{cells}</row>'.encode()


def zip_bomb(unzipped: int = 1100 * 1024 * 1024) -> bytes:
    """A workbook whose sheet unzips to `unzipped` bytes (1.1 GB) of one short row repeated."""
    piece = row(2) * 20_000
    return workbook_with_sheet(Part.repeated(SHEET, SHEET_START, piece, unzipped // len(piece), SHEET_END))


def lying_zip_bomb() -> bytes:
    """The zip bomb, whose sheet says it unzips to 50 KB."""
    return workbook_with_sheet(Part.repeated(SHEET, SHEET_START, row(2) * 20_000, 1000, SHEET_END),
                               stated_sizes={SHEET: 50_000})


def one_enormous_row(cells: int = 2_000_000) -> bytes:
    """A workbook within the size limits whose one row has millions of cells: parsed as a row,
    it would take gigabytes of memory."""
    piece = b'<c t="inlineStr"><is><t>x</t></is></c>' * 1000
    return workbook_with_sheet(Part.repeated(SHEET, SHEET_START + b'<row r="1">', piece, cells // 1000,
                                             b"</row>" + SHEET_END))
