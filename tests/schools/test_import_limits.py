"""An export that would take the machine is refused before it does, saying which limit it passed.

The limits are settings (portal/settings.py, "Families import"): 10 MB uploaded, 100 MB
unzipped, 1,000 parts in a workbook, 20,000 rows, 500 cells in a row, 1,000,000 cells in all,
1,000 characters in a cell.
"""

import io
import tracemalloc

import pytest
from django.core.management import CommandError, call_command

from schools.imports import import_preview
from schools.models import Pupil
from tests.schools import hostile_files
from tests.schools.hostile_files import (
    SHEET,
    SHEET_END,
    SHEET_START,
    Part,
    row,
    text_row,
    workbook_with_sheet,
)
from tests.schools.test_imports import FILES, SIMS, export, pair

MB = 1024 * 1024


def preview(school, data, filename="export.xlsx"):
    return import_preview(school=school, filename=filename, data=data)


def refused(plan) -> str:
    assert not plan.is_valid and not plan.has_changes
    assert plan.problems == [plan.file_error]  # one clear reason, not a list of rows
    return plan.file_error


# --- Workbooks that would expand beyond the memory of the machine -------------------------------


@pytest.mark.parametrize(("build", "message"), [
    (hostile_files.zip_bomb, "is an Excel workbook that unzips to 1.1 GB, more than the 100.0 MB the portal opens."),
    (hostile_files.lying_zip_bomb, "could not be opened as an Excel workbook (.xlsx)."),
    (hostile_files.one_enormous_row, "is an Excel workbook with a row of more than 500 cells, the most the portal reads"),
], ids=["zip bomb", "zip bomb that lies about its size", "one row of two million cells"])
def test_a_workbook_that_would_expand_beyond_memory_is_refused_in_little_memory(school, build, message):
    data = build()
    assert len(data) < 10 * MB  # within the upload limit: only what is inside is too big

    tracemalloc.start()
    try:
        plan = preview(school, data, "bomb.xlsx")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert message in refused(plan)
    assert plan.file_error.startswith("The file “bomb.xlsx” ")
    assert peak < 100 * MB, f"{peak / MB:.0f} MB"


def test_a_workbook_of_more_than_a_thousand_parts_is_refused(school):
    sheet = Part.of(SHEET, SHEET_START + SHEET_END)
    data = workbook_with_sheet(sheet, extra=[Part.of(f"xl/media/image{n}.png", b"") for n in range(1000)])

    assert "is an Excel workbook of more than 1,000 parts, the most the portal opens." in refused(preview(school, data))


def test_the_unzipped_limit_is_a_setting(school, settings):
    data = (FILES / "bromcom.xlsx").read_bytes()
    settings.PORTAL_IMPORT_MAX_UNCOMPRESSED_BYTES = 20_000  # the real workbook unzips to 22.3 KB

    assert "unzips to 22.3 KB, more than the 19.5 KB the portal opens." in refused(preview(school, data))


# --- Rows, columns and cells ------------------------------------------------------------------


def test_a_csv_of_more_than_20000_rows_is_refused_naming_the_limit(school):
    rows = [pair(adno=f"{n:06d}") for n in range(20_000)]  # and the header: 20,001 rows

    message = refused(preview(school, export(*rows), "big.csv"))

    assert message == (
        "The file “big.csv” has more than 20,000 rows, the most the portal reads from one export. "
        "Check that it is your school's export of pupils and their contacts."
    )


def test_a_file_of_as_many_rows_as_the_limit_is_read(school, settings):
    settings.PORTAL_IMPORT_MAX_ROWS = 3

    assert preview(school, export(pair(), pair(adno="001002")), "three.csv").is_valid
    assert "has more than 3 rows" in refused(preview(school, export(pair(), pair(adno="2"), pair(adno="3")), "4.csv"))


def test_a_workbook_of_more_rows_than_the_limit_is_refused_before_it_is_parsed(school, settings):
    settings.PORTAL_IMPORT_MAX_ROWS = 5
    sheet = Part.of(SHEET, SHEET_START + b"".join(row(n, 11) for n in range(1, 11)) + SHEET_END)

    assert "has more than 5 rows, the most the portal reads" in refused(preview(school, workbook_with_sheet(sheet)))
    assert "has more than 5 rows" in refused(preview(school, (FILES / "bromcom.xlsx").read_bytes()))


def test_a_row_of_more_than_500_columns_is_refused(school):
    header = SIMS + [f"Extra {n}" for n in range(500)]

    message = refused(preview(school, export(pair(), header=header), "wide.csv"))

    assert "“wide.csv” has more than 500 columns on line 1, the most the portal reads in one row." in message


def test_a_file_of_more_cells_than_the_limit_is_refused(school, settings):
    settings.PORTAL_IMPORT_MAX_CELLS = 30  # the header and two rows of 11 cells are 33
    data = export(pair(), pair(adno="001002"))
    sheet = Part.of(SHEET, SHEET_START + b"".join(row(n, 11) for n in range(1, 4)) + SHEET_END)

    assert "has more than 30 cells, the most the portal reads from one export." in refused(preview(school, data, "a.csv"))
    assert "has more than 30 cells, the most" in refused(preview(school, workbook_with_sheet(sheet)))


def test_blank_cells_at_the_end_of_rows_do_not_count_as_columns(school):
    data = export(pair()).replace(b"\r\n", b"," * 2000 + b"\r\n")

    assert preview(school, data, "padded.csv").is_valid


@pytest.mark.parametrize("length", [1001, 200_000])  # the second is beyond the csv module's own limit
def test_a_csv_cell_of_more_than_1000_characters_is_refused_with_its_line(school, length):
    data = export(pair(), pair(adno="001002", relationship="x" * length))

    assert refused(preview(school, data, "long.csv")) == (
        "The file “long.csv” has a cell longer than 1,000 characters on line 3, the most the portal reads in one cell."
    )


def test_a_cell_of_1000_characters_is_read(school):
    plan = preview(school, export(pair(reg="x" * 1000)), "long.csv")

    assert plan.errors[0].message == "Reg is longer than 40 characters."  # read, then checked as a value


def test_a_workbook_cell_of_more_than_1000_characters_is_refused(school):
    values = list(pair(relationship="x" * 1001).values())[:len(SIMS)]
    sheet = Part.of(SHEET, SHEET_START + text_row(1, SIMS) + text_row(2, values) + SHEET_END)

    assert "has a cell longer than 1,000 characters on line 2" in refused(preview(school, workbook_with_sheet(sheet)))


def test_a_file_larger_than_10_mb_is_refused_naming_the_limit(school):
    data = export(pair()) + b"\r\n" * (5 * MB)

    assert refused(preview(school, data, "huge.csv")) == (
        "The file “huge.csv” is larger than 10.0 MB, the most the portal accepts for one export."
    )


def test_the_command_reads_no_more_of_a_large_file_than_the_limit(school, tmp_path, settings):
    settings.PORTAL_IMPORT_MAX_FILE_BYTES = 1000
    file = tmp_path / "huge.csv"
    file.write_bytes(export(pair()) + b"\r\n" * 5000)
    err = io.StringIO()

    with pytest.raises(CommandError, match="Nothing was imported: 1 problem"):
        call_command("import_families", school.slug, str(file), "--dry-run", stderr=err)

    assert "is larger than 1000 bytes, the most the portal accepts for one export." in err.getvalue()
    assert not Pupil.objects.exists()
