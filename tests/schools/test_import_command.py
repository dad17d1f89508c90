"""manage.py import_families SCHOOL_SLUG FILE [--dry-run]"""

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from schools.models import Carer, Pupil
from tests.factories import AssociationFactory
from tests.schools.factories import PupilFactory

FILES = Path(__file__).parent / "files"


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_families", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_command_imports_the_file_and_prints_what_it_did(school):
    out, _ = run("whitefield-primary", str(FILES / "sims_utf8_bom.csv"))

    assert "Imported sims_utf8_bom.csv into Whitefield Primary School" in out
    assert "7 pupils added" in out and "8 carers added" in out and "10 links added" in out
    assert Pupil.objects.filter(school=school).count() == 7
    assert Carer.objects.get(school=school, surname="王").forename == "芳"


def test_command_reads_excel_files(school):
    out, _ = run("whitefield-primary", str(FILES / "scholarpack.xlsx"))

    assert "7 pupils added" in out
    assert Pupil.objects.filter(school=school, mis_id="H820200001007", year_group="N").exists()


def test_dry_run_writes_nothing(school):
    out, _ = run("whitefield-primary", str(FILES / "arbor_windows_1252.csv"), "--dry-run")

    assert "Dry run" in out and "nothing has been changed" in out
    assert "5 pupils added" in out
    assert not Pupil.objects.exists() and not Carer.objects.exists()


def test_bad_file_exits_non_zero_prints_every_problem_and_imports_nothing(school):
    err = io.StringIO()
    with pytest.raises(CommandError, match="Nothing was imported: 7 problems to fix in the file"):
        call_command("import_families", "whitefield-primary", str(FILES / "bad_rows.csv"), stderr=err)
    lines = err.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines] == [f"Line {n}" for n in range(3, 10)]
    assert "Line 5: Primary Email “mary.obrien@” is not a valid email address." in lines
    assert not Pupil.objects.exists()


def test_bad_file_is_refused_even_in_a_dry_run(school):
    with pytest.raises(CommandError, match="Nothing was imported"):
        run("whitefield-primary", str(FILES / "bad_rows.csv"), "--dry-run")


def test_a_file_with_a_utf16_byte_order_mark_that_is_not_utf16_is_refused_in_a_dry_run(school, tmp_path):
    file = tmp_path / "sims.csv"
    file.write_bytes(b"\xff\xfe" + (FILES / "sims_windows_1252.csv").read_bytes()[:-1])
    err = io.StringIO()

    with pytest.raises(CommandError, match="Nothing was imported: 1 problem to fix"):
        call_command("import_families", "whitefield-primary", str(file), "--dry-run", stderr=err)

    assert "starts with a UTF-16 byte-order mark but is not UTF-16 text" in err.getvalue()


def test_missing_column_is_explained(school):
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 problem to fix"):
        call_command("import_families", "whitefield-primary", str(FILES / "missing_surname_column.csv"), stderr=err)
    assert "no column for the pupil surname" in err.getvalue()
    assert "The file's headers are: Adno, Forename" in err.getvalue()


def test_unknown_school_slug_is_a_clear_error(school):
    with pytest.raises(CommandError, match="There is no school with the slug “nowhere”. Schools: whitefield-primary."):
        run("nowhere", str(FILES / "sims_utf8_bom.csv"))


def test_an_association_is_not_a_school(school):
    AssociationFactory(slug="halton-primary")

    with pytest.raises(CommandError, match="no school with the slug “halton-primary”"):
        run("halton-primary", str(FILES / "sims_utf8_bom.csv"))


def test_missing_file_is_a_clear_error(school):
    with pytest.raises(CommandError, match="Cannot read .*no-such-file.csv: No such file or directory"):
        run("whitefield-primary", "no-such-file.csv")


def test_reimport_says_nothing_changes_and_lists_pupils_who_left(school):
    PupilFactory(school=school, mis_id="999999", forename="Kacper", surname="Nowak", year_group="6")
    run("whitefield-primary", str(FILES / "sims_utf8_bom.csv"))

    out, _ = run("whitefield-primary", str(FILES / "sims_utf8_bom.csv"), "--dry-run")
    assert "Nothing to change" in out

    left = Pupil.objects.get(mis_id="999999")
    assert (left.on_roll, left.left_on) == (False, timezone.localdate())


def test_pupils_marked_as_left_are_listed(school):
    PupilFactory(school=school, mis_id="999999", forename="Kacper", surname="Nowak", year_group="6")

    out, _ = run("whitefield-primary", str(FILES / "sims_utf8_bom.csv"), "--dry-run")

    assert "1 pupil marked as left" in out
    assert "Left: Kacper Nowak (999999, Year 6)" in out
    assert Pupil.objects.get(mis_id="999999").on_roll
