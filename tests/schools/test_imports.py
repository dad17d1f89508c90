"""Importing pupils and contacts from an MIS export (schools/imports/).

The real files under files/ are written by files/make_files.py; scenarios with several exports
over time build their CSVs here with `export(...)`.
"""

import csv
import io
import random
import time
from pathlib import Path

import pytest
from django.utils import timezone
from openpyxl import Workbook

from schools import selectors
from schools.imports import ImportRejected, import_apply, import_preview, normalise_year
from schools.models import Carer, Pupil, PupilCarer
from tests.schools.factories import CarerFactory, PupilCarerFactory, PupilFactory

FILES = Path(__file__).parent / "files"

SIMS = ["Adno", "Legal Surname", "Legal Forename", "Year", "Reg", "Contact Forename", "Contact Surname",
        "Relationship", "Parental Responsibility", "Primary Email", "Priority"]
WITH_CONTACT_ID = SIMS + ["Contact ID"]


def pair(adno="001001", forename="Aoife", surname="O'Brien", year="Year 3", reg="3B",
         contact_forename="Mary", contact_surname="O'Brien", relationship="Mother", pr="Yes",
         email="mary@example.org", priority="1", contact_id=""):
    """One pupil–contact row, as a SIMS export has it."""
    return dict(zip(WITH_CONTACT_ID, [adno, surname, forename, year, reg, contact_forename, contact_surname,
                                      relationship, pr, email, priority, contact_id]))


def export(*rows, header=SIMS, encoding="utf-8-sig", delimiter=","):
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([row.get(column, "") for column in header] for row in rows)
    return buffer.getvalue().encode(encoding)


def apply(school, data, filename="export.csv"):
    return import_apply(school=school, filename=filename, data=data)


def preview(school, data, filename="export.csv"):
    return import_preview(school=school, filename=filename, data=data)


def read(name):
    return (FILES / name).read_bytes()


STYLES = ["sims", "arbor", "bromcom", "scholarpack", "parentmail"]
REAL_FILES = (
    [(f"{style}_utf8_bom.csv", True) for style in STYLES]
    + [(f"{style}_windows_1252.csv", False) for style in STYLES]
    + [("bromcom.xlsx", True), ("scholarpack.xlsx", True)]
)


# --- Each MIS, each encoding ------------------------------------------------------------------


@pytest.mark.parametrize("filename, utf8", REAL_FILES)
def test_each_mis_export_imports_its_families(school, filename, utf8):
    plan = preview(school, read(filename), filename)

    assert plan.is_valid, plan.problems
    assert (len(plan.added_pupils), len(plan.added_carers), len(plan.links_added)) == (
        (7, 8, 10) if utf8 else (5, 6, 8)
    )
    apply(school, read(filename), filename)

    surnames = set(Pupil.objects.filter(school=school).values_list("surname", flat=True))
    assert {"O'Brien", "O’Brien", "Smith-Jones", "Dubois"} <= surnames
    if utf8:
        assert {"Nguyễn", "王"} <= surnames
    zoe = Pupil.objects.get(school=school, forename="Zoë")
    assert (zoe.surname, zoe.year_group) == ("Smith-Jones", "R")
    aoife = Pupil.objects.get(school=school, forename="Aoife")
    assert aoife.year_group == "3"
    mary = Carer.objects.get(school=school, forename="Mary")
    assert sorted(mary.children.values_list("forename", flat=True)) == ["Aoife", "Ciarán"]
    assert Carer.objects.get(school=school, forename="Siobhán").surname == "O’Brien"


def test_windows_1252_file_keeps_accents_and_curly_apostrophes(school):
    data = read("sims_windows_1252.csv")
    assert "O’Brien".encode("cp1252") in data  # really Windows-1252, not UTF-8

    apply(school, data)

    assert Pupil.objects.get(school=school, mis_id="001004").surname == "O’Brien"  # curly
    assert Pupil.objects.get(school=school, mis_id="001001").surname == "O'Brien"  # straight
    assert Pupil.objects.get(school=school, mis_id="001003").forename == "Zoë"
    assert Carer.objects.get(school=school, forename="Siobhán").surname == "O’Brien"
    assert Carer.objects.filter(school=school, forename="François", surname="Dubois").exists()


def test_utf8_file_with_byte_order_mark_keeps_non_latin_names(school):
    data = read("sims_utf8_bom.csv")
    assert data.startswith(b"\xef\xbb\xbf")

    plan = apply(school, data).plan

    assert plan.columns["pupil_id"] == "Adno"  # the mark is not glued to the first header
    assert Pupil.objects.get(school=school, mis_id="001006").surname == "Nguyễn"
    wang = Pupil.objects.get(school=school, mis_id="001007")
    assert (wang.forename, wang.surname, wang.year_group) == ("小明", "王", "N")
    assert Carer.objects.get(school=school, surname="Nguyễn").forename == "Thị Lan"


def test_names_keep_inner_spacing_and_lose_only_surrounding_whitespace(school):
    apply(school, export(pair(forename="  Mary-Kate ", surname=" Ó Súilleabháin\u00a0", contact_forename=" Anne Marie ")))

    pupil = Pupil.objects.get(school=school)
    assert (pupil.forename, pupil.surname) == ("Mary-Kate", "Ó Súilleabháin")
    assert Carer.objects.get(school=school).forename == "Anne Marie"


def test_excel_export_reads_numbers_and_true_false_and_skips_blank_rows_before_the_header(school):
    plan = apply(school, read("bromcom.xlsx"), "bromcom.xlsx").plan

    assert plan.rows == 10
    assert Pupil.objects.filter(school=school, mis_id="1001").exists()  # a number cell, not "1001.0"
    assert selectors.carers_not_eligible(school).get().forename == "Margaret"  # FALSE cell


def test_excel_errors_carry_the_spreadsheet_row_number(school, tmp_path):
    workbook = Workbook()
    workbook.active.append(SIMS)
    workbook.active.append(list(pair().values())[:11])
    workbook.active.append(list(pair(adno="001002", year="Year 20").values())[:11])
    workbook.save(tmp_path / "export.xlsx")

    plan = preview(school, (tmp_path / "export.xlsx").read_bytes(), "export.xlsx")

    assert [(e.line, e.message) for e in plan.errors] == [
        (3, "Year “Year 20” is not a year group we know (use Nursery, Reception or Year 1 to Year 13).")
    ]


def test_columns_are_found_by_name_whatever_their_order_case_or_punctuation(school):
    header = ["parental_responsibility", " E-MAIL ADDRESS ", "contact-surname", "CONTACT forename",
              "nc year", "surname", "forename", "ADNO", "Unrelated column"]
    rows = [{h: v for h, v in zip(header, ["Y", "mary@example.org", "O'Brien", "Mary", "3", "O'Brien", "Aoife",
                                             "001001", "ignored"])}]

    apply(school, export(*rows, header=header))

    link = PupilCarer.objects.get(pupil__mis_id="001001")
    assert (link.carer.full_name, link.carer.email, link.parental_responsibility) == (
        "Mary O'Brien", "mary@example.org", True
    )


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_semicolon_and_tab_separated_exports_are_read(school, delimiter):
    plan = apply(school, export(pair(), delimiter=delimiter)).plan

    assert len(plan.added_pupils) == 1


@pytest.mark.parametrize("written, year", [
    ("Year 3", "3"), ("Y3", "3"), ("NC Year 3", "3"), ("3", "3"), ("03", "3"), ("Year 13", "13"),
    ("Reception", "R"), ("R", "R"), ("YR", "R"), ("Nursery", "N"), ("N1", "N"), ("N", "N"),
])
def test_year_group_spellings_are_understood(written, year):
    assert normalise_year(written) == year


# --- Bad files import nothing ---------------------------------------------------------------


def test_any_bad_row_imports_nothing_and_reports_every_line(school):
    data = read("bad_rows.csv")

    plan = preview(school, data)

    assert not plan.is_valid
    assert [(e.line, e.message) for e in plan.errors] == [
        (3, "Adno is blank."),
        (4, "Contact Surname is blank."),
        (5, "Primary Email “mary.obrien@” is not a valid email address."),
        (6, "Year “Year 15” is not a year group we know (use Nursery, Reception or Year 1 to Year 13)."),
        (7, "Adno 001001 has different details on different rows: year group “Year 4” here but “Year 3” on line 2."),
        (8, "Aoife O'Brien (Adno 001001) is listed with Mary O'Brien twice: here and on line 2."),
        (9, "Parental Responsibility “Maybe” should be Yes or No."),
    ]
    assert plan.added_pupils == [] and plan.left_pupils == []
    with pytest.raises(ImportRejected) as rejected:
        apply(school, data)
    assert len(rejected.value.messages) == 7
    assert rejected.value.messages[0] == "Line 3: Adno is blank."
    assert not Pupil.objects.exists() and not Carer.objects.exists()


def test_one_bad_row_in_a_later_export_changes_nothing_already_imported(school):
    apply(school, export(pair(), pair(adno="001002", forename="Ciarán")))

    later = export(pair(year="Year 4"), pair(adno="001002", forename="Ciarán", email="not-an-email"))
    with pytest.raises(ImportRejected):
        apply(school, later)

    assert Pupil.objects.get(mis_id="001001").year_group == "3"
    assert Carer.objects.get().email == "mary@example.org"


def test_missing_column_message_names_it_and_lists_headers(school):
    plan = preview(school, read("missing_surname_column.csv"))

    assert not plan.is_valid
    assert plan.missing_columns == ("pupil surname",)
    assert plan.file_error == (
        "The file has no column for the pupil surname (accepted names: Legal Surname, Surname, "
        "StudentSurname, Last Name, Pupil Surname). The file's headers are: Adno, Forename, Year, Reg, "
        "Contact Forename, Contact Surname, Relationship, PR, Email."
    )


def test_several_missing_columns_are_named_in_one_message(school):
    plan = preview(school, export(pair(), header=["Adno", "Legal Surname", "Legal Forename", "Year"]))

    assert plan.missing_columns == ("contact forename", "contact surname", "parental responsibility",
                                    "contact email")
    assert plan.problems == [plan.file_error]
    assert plan.file_error.startswith("The file has no columns for the contact forename (accepted names: ")


@pytest.mark.parametrize("data, message", [
    (b"", "is empty"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "old-style Excel .xls"),
    (b"PK\x03\x04 not really a workbook", "could not be opened as an Excel workbook"),
    (",".join(SIMS).encode() + b"\r\n", "has a header but no rows"),
])
def test_unreadable_files_are_explained(school, data, message):
    plan = preview(school, data, "families.xlsx" if data.startswith(b"PK") else "families.csv")

    assert not plan.is_valid
    assert message in plan.file_error


def test_a_file_with_a_utf16_byte_order_mark_that_is_not_utf16_is_refused_not_a_crash(school):
    data = b"\xff\xfe" + export(pair())  # the mark, then UTF-8: an odd number of bytes for UTF-16
    assert len(data) % 2 == 1

    plan = preview(school, data)

    assert plan.problems == [(
        "The file “export.csv” starts with a UTF-16 byte-order mark but is not UTF-16 text. "
        "Save it from Excel as “CSV UTF-8” or as .xlsx."
    )]


def test_a_utf16_file_as_excel_saves_unicode_text_is_read(school):
    data = export(pair(surname="Nguyễn", contact_surname="王"), delimiter="\t", encoding="utf-16")
    assert data.startswith(b"\xff\xfe")

    apply(school, data, "export.txt")

    assert Pupil.objects.get(school=school).surname == "Nguyễn" and Carer.objects.get(school=school).surname == "王"


def test_a_csv_with_null_bytes_is_refused(school):
    assert preview(school, export(pair()).replace(b"Mary", b"Ma\x00ry")).problems == [(
        "The file “export.csv” contains null characters, which a CSV export never has. "
        "Save it from Excel as “CSV UTF-8” or as .xlsx."
    )]


def test_a_value_with_a_control_character_is_a_bad_row(school):
    plan = preview(school, export(pair(), pair(adno="001002", contact_forename="Anne\nMarie"), pair(adno="00\x1b3")))

    reason = "contains a control character (such as a line break or a null), which cannot be part of it."
    assert [(e.line, e.message) for e in plan.errors] == [(3, f"Contact Forename {reason}"), (4, f"Adno {reason}")]


# --- Later exports ----------------------------------------------------------------------------


def test_reimporting_the_same_file_changes_nothing(school):
    data = read("sims_utf8_bom.csv")
    apply(school, data)
    before = list(Pupil.objects.values_list("pk", "updated")) + list(Carer.objects.values_list("pk", "updated"))

    plan = preview(school, data)
    apply(school, data)

    assert plan.is_valid and not plan.has_changes
    assert set(plan.counts.values()) == {0}
    after = list(Pupil.objects.values_list("pk", "updated")) + list(Carer.objects.values_list("pk", "updated"))
    assert after == before
    assert PupilCarer.objects.count() == 10


def test_later_export_updates_names_emails_and_groups_in_place(school):
    apply(school, export(
        pair(contact_id="C1"),
        pair(adno="001002", forename="Ciarán", year="Year 5", reg="5A", contact_id="C1"),
        header=WITH_CONTACT_ID,
    ))
    mary = Carer.objects.get(mis_id="C1")

    later = export(
        pair(year="Year 4", reg="4B", contact_surname="Byrne", email="mary.byrne@example.org", contact_id="C1"),
        pair(adno="001002", forename="Ciarán", surname="Byrne", year="Year 6", reg="6A",
             contact_surname="Byrne", email="mary.byrne@example.org", contact_id="C1"),
        header=WITH_CONTACT_ID,
    )
    plan = preview(school, later)

    assert [(p.mis_id, [(c.field, c.old, c.new) for c in p.changes]) for p in plan.changed_pupils] == [
        ("001001", [("year group", "3", "4"), ("registration group", "3B", "4B")]),
        ("001002", [("surname", "O'Brien", "Byrne"), ("year group", "5", "6"), ("registration group", "5A", "6A")]),
    ]
    assert [(c.field, c.old, c.new) for c in plan.changed_carers[0].changes] == [
        ("surname", "O'Brien", "Byrne"), ("email", "mary@example.org", "mary.byrne@example.org"),
    ]
    assert plan.added_pupils == plan.added_carers == plan.links_added == plan.links_removed == []

    apply(school, later)

    mary.refresh_from_db()
    assert (mary.surname, mary.email, mary.children.count()) == ("Byrne", "mary.byrne@example.org", 2)
    assert Pupil.objects.get(mis_id="001002").surname == "Byrne"


def test_contact_whose_email_changed_is_the_same_carer_even_without_contact_ids(school):
    apply(school, export(pair(), pair(contact_forename="Patrick", relationship="Father", priority="2")))
    mary = Carer.objects.get(forename="Mary")

    plan = preview(school, export(pair(email="mary.new@example.org"),
                                  pair(contact_forename="Patrick", relationship="Father", priority="2")))

    assert plan.added_carers == [] and plan.links_removed == []
    assert [(c.field, c.old, c.new) for c in plan.changed_carers[0].changes if c.field == "email"] == [
        ("email", "mary@example.org", "mary.new@example.org")
    ]
    apply(school, export(pair(email="mary.new@example.org"),
                         pair(contact_forename="Patrick", relationship="Father", priority="2")))
    assert Carer.objects.get(pk=mary.pk).email == "mary.new@example.org"
    assert Carer.objects.count() == 2


def test_a_different_person_with_a_known_email_is_never_matched_on_email_alone(school):
    apply(school, export(pair(email="family@example.org")))
    mary = Carer.objects.get()

    plan = preview(school, export(pair(contact_forename="Mark", relationship="Father", email="family@example.org")))

    assert [c.name for c in plan.added_carers] == ["Mark O'Brien"]
    assert [link.carer_name for link in plan.links_removed] == ["Mary O'Brien"]
    assert plan.changed_carers == []


def test_relationship_responsibility_and_priority_changes_update_the_link(school):
    apply(school, export(pair()))

    plan = apply(school, export(pair(relationship="Carer", pr="No", priority="2"))).plan

    assert [(c.field, c.old, c.new) for c in plan.links_changed[0].changes] == [
        ("relationship", "Mother", "Carer"), ("parental responsibility", True, False), ("priority", 1, 2)
    ]
    link = PupilCarer.objects.get()
    assert (link.relationship, link.parental_responsibility, link.priority) == ("Carer", False, 2)


def test_optional_columns_missing_from_a_later_export_leave_stored_values_alone(school):
    apply(school, export(pair()))
    without_reg_or_priority = [h for h in SIMS if h not in {"Reg", "Priority", "Relationship"}]

    plan = apply(school, export(pair(), header=without_reg_or_priority)).plan

    assert not plan.has_changes
    link = PupilCarer.objects.get()
    assert (link.pupil.reg_group, link.relationship, link.priority) == ("3B", "Mother", 1)


# --- Who is who --------------------------------------------------------------------------------


def test_sibling_contact_becomes_one_carer_with_two_children(school):
    apply(school, export(pair(), pair(adno="001002", forename="Ciarán", year="Year 5")))

    mary = Carer.objects.get()
    assert sorted(mary.children.values_list("forename", flat=True)) == ["Aoife", "Ciarán"]


def test_sibling_contact_with_a_contact_id_becomes_one_carer(school):
    apply(school, export(
        pair(contact_id="C1", email=""), pair(adno="001002", forename="Ciarán", contact_id="C1", email=""),
        header=WITH_CONTACT_ID,
    ))

    assert Carer.objects.get().mis_id == "C1"
    assert PupilCarer.objects.count() == 2


def test_two_parents_sharing_an_email_stay_two_carers(school):
    apply(school, export(pair(email="family@example.org"),
                         pair(contact_forename="Patrick", relationship="Father", email="family@example.org")))

    assert sorted(Carer.objects.values_list("forename", flat=True)) == ["Mary", "Patrick"]


def test_contacts_without_email_are_one_carer_per_family_never_merged_across_families(school):
    apply(school, export(
        # The Smith siblings share a mother with an email and a father without one.
        pair(adno="1", forename="Amy", surname="Smith", contact_forename="Jo", contact_surname="Smith",
             email="jo.smith@example.org"),
        pair(adno="1", forename="Amy", surname="Smith", contact_forename="John", contact_surname="Smith", email=""),
        pair(adno="2", forename="Ben", surname="Smith", contact_forename="Jo", contact_surname="Smith",
             email="jo.smith@example.org"),
        pair(adno="2", forename="Ben", surname="Smith", contact_forename="John", contact_surname="Smith", email=""),
        # An unrelated pupil whose father is another John Smith without email.
        pair(adno="3", forename="Cara", surname="Smith", contact_forename="John", contact_surname="Smith", email=""),
    ))

    johns = Carer.objects.filter(forename="John").order_by("pk")
    assert [sorted(j.children.values_list("forename", flat=True)) for j in johns] == [["Amy", "Ben"], ["Cara"]]


# --- Leaving and coming back ---------------------------------------------------------------------


def test_pupils_missing_from_full_reimport_are_marked_left_not_deleted(school):
    apply(school, export(pair(), pair(adno="001002", forename="Ciarán"),
                         pair(adno="001003", forename="Zoë", contact_forename="Chloë", email="chloe@example.org")))

    later = export(pair(), pair(adno="001002", forename="Ciarán"))
    plan = preview(school, later)
    assert [(p.mis_id, p.name) for p in plan.left_pupils] == [("001003", "Zoë O'Brien")]
    assert Pupil.objects.get(mis_id="001003").on_roll  # a preview changes nothing

    apply(school, later)

    zoe = Pupil.objects.get(mis_id="001003")
    assert (zoe.on_roll, zoe.left_on) == (False, timezone.localdate())
    assert zoe.carers.get().forename == "Chloë"  # her record is kept whole
    assert Pupil.objects.count() == 3
    assert not selectors.eligible_carers(school).filter(forename="Chloë").exists()  # not asked to sign


def test_pupil_who_reappears_is_back_on_roll(school):
    apply(school, export(pair(), pair(adno="001002", forename="Ciarán")))
    apply(school, export(pair()))

    plan = apply(school, export(pair(), pair(adno="001002", forename="Ciarán"))).plan

    assert [p.mis_id for p in plan.returning_pupils] == ["001002"]
    ciaran = Pupil.objects.get(mis_id="001002")
    assert (ciaran.on_roll, ciaran.left_on) == (True, None)


def test_contact_no_longer_listed_for_a_pupil_loses_the_link_but_is_kept(school):
    apply(school, export(pair(), pair(contact_forename="Patrick", relationship="Father", email="pat@example.org")))

    plan = apply(school, export(pair())).plan

    assert [(link.pupil_name, link.carer_name) for link in plan.links_removed] == [("Aoife O'Brien", "Patrick O'Brien")]
    patrick = Carer.objects.get(forename="Patrick")
    assert patrick.children.count() == 0
    assert not selectors.eligible_carers(school).filter(pk=patrick.pk).exists()


def test_another_schools_families_are_untouched(school, other_school):
    theirs = PupilCarerFactory(pupil__school=other_school, pupil__mis_id="001001")

    apply(school, export(pair(forename="Someone", surname="Else")))

    theirs.refresh_from_db()
    assert theirs.pupil.on_roll and theirs.pupil.forename != "Someone"
    assert Pupil.objects.filter(mis_id="001001").count() == 2


# --- Who may sign -----------------------------------------------------------------------------


def test_contact_without_email_is_kept_and_needs_paper_form(school):
    apply(school, read("sims_utf8_bom.csv"))

    siobhan = Carer.objects.get(school=school, forename="Siobhán")
    assert siobhan.email == ""
    assert list(selectors.carers_needing_paper_forms(school)) == [siobhan]
    assert siobhan not in selectors.eligible_carers(school)


def test_contact_without_parental_responsibility_is_not_eligible(school):
    apply(school, read("sims_utf8_bom.csv"))

    margaret = Carer.objects.get(school=school, forename="Margaret")
    assert margaret not in selectors.eligible_carers(school)
    assert margaret not in selectors.carers_needing_paper_forms(school)
    assert list(selectors.carers_not_eligible(school)) == [margaret]
    assert not selectors.carer_is_eligible(margaret)
    assert sorted(selectors.eligible_carers(school).values_list("forename", flat=True)) == [
        "Chloë", "François", "Mary", "Patrick", "Thị Lan", "芳"
    ]


# --- Preview, then confirm ------------------------------------------------------------------------


def test_a_file_changed_since_the_preview_is_refused(school):
    plan = preview(school, export(pair()))

    with pytest.raises(ImportRejected, match="not the one you previewed"):
        import_apply(school=school, filename="export.csv", data=export(pair(year="Year 4")),
                     expected_sha256=plan.file_sha256)
    assert not Pupil.objects.exists()


def test_an_import_between_preview_and_confirm_is_refused(school):
    data = export(pair())
    plan = preview(school, data)
    apply(school, export(pair(forename="Aoife", year="Year 2")))  # someone else, meanwhile

    with pytest.raises(ImportRejected, match="changed since your preview"):
        import_apply(school=school, filename="export.csv", data=data, expected_sha256=plan.file_sha256,
                     expected_changes_sha256=plan.changes_sha256)
    assert Pupil.objects.get().year_group == "2"


def test_confirming_the_previewed_file_applies_exactly_the_preview(school):
    data = read("arbor_utf8_bom.csv")
    plan = preview(school, data)

    result = import_apply(school=school, filename="arbor.csv", data=data, expected_sha256=plan.file_sha256,
                          expected_changes_sha256=plan.changes_sha256)

    assert result.counts == plan.counts
    assert Pupil.objects.count() == 7 and Carer.objects.count() == 8 and PupilCarer.objects.count() == 10


def test_existing_records_made_by_hand_are_matched_on_their_mis_ids(school):
    pupil = PupilFactory(school=school, mis_id="001001", forename="Aoife", surname="O'Brien", year_group="3",
                         reg_group="3B")
    carer = CarerFactory(school=school, mis_id="C1", title="", forename="Mary", surname="O'Brien",
                         email="mary@example.org")
    PupilCarerFactory(pupil=pupil, carer=carer, relationship="Mother", priority=1)

    plan = preview(school, export(pair(contact_id="C1"), header=WITH_CONTACT_ID))

    assert plan.is_valid and not plan.has_changes


# --- A whole secondary school ---------------------------------------------------------------------

FORENAMES = ["Amelia", "Oliver", "Zoë", "Ciarán", "Aoife", "Kacper", "Siân", "Mohammed", "Chloë", "Renée",
             "Thị Lan", "小明", "Łucja", "José", "Niamh", "Oluwaseun", "Priya", "Eilidh", "Søren", "Mary-Kate"]
SURNAMES = ["O'Brien", "O’Brien", "Smith-Jones", "Nguyễn", "王", "Kowalski", "Patel", "Jones", "Ó Súilleabháin",
            "Dubois", "Müller", "Öztürk", "MacDonald", "Adeyemi", "Williams", "Hughes", "Khan", "Evans"]


def write_large_export(path: Path, families: int = 1750) -> Path:
    """2,000 pupils and 3,500 contacts (4,000 rows): 1,750 families of two contacts, 250 of them
    with two children. With 2,250 families: 2,500 pupils, 4,500 contacts, 5,000 rows."""
    rng = random.Random(2026)
    rows, adno = [], 100000
    for family in range(families):
        surname = rng.choice(SURNAMES)
        shared_email = family % 5 == 0  # parents who share one address
        contacts = []
        for n, (relationship, forename) in enumerate((("Mother", FORENAMES[family % 10]),
                                                      ("Father", FORENAMES[10 + family % 10]))):
            email = "" if family % 17 == n else (
                f"family{family}@example.org" if shared_email else f"{relationship.lower()}{family}@example.org"
            )
            contacts.append(dict(contact_forename=forename, contact_surname=surname, relationship=relationship,
                                 pr="Yes" if family % 23 != n else "No", email=email, priority=str(n + 1)))
        for child in range(2 if family < 250 else 1):
            adno += 1
            year = rng.choice(["7", "8", "9", "10", "11", "12", "13"])
            pupil = dict(adno=str(adno), forename=rng.choice(FORENAMES), surname=surname, year=f"Year {year}",
                         reg=f"{year}{rng.choice('ABCDE')}")
            rows.extend(pair(**pupil, **contact) for contact in contacts)
    path.write_bytes(export(*rows))
    return path


@pytest.fixture
def large_export(tmp_path):
    return write_large_export(tmp_path / "whole-school.csv")


def test_large_export_imports(school, large_export):
    data = large_export.read_bytes()

    started = time.perf_counter()
    plan = apply(school, data, large_export.name).plan
    elapsed = time.perf_counter() - started
    print(f"\nImported 2,000 pupils / 3,500 contacts ({plan.rows} rows) in {elapsed:.2f} s")

    assert plan.rows == 4000
    assert Pupil.objects.filter(school=school, on_roll=True).count() == 2000
    assert Carer.objects.filter(school=school).count() == 3500
    assert PupilCarer.objects.count() == 4000
    # No email: 103 + 103 contacts (family % 17 == 0 or 1), less the 5 + 5 of them without
    # parental responsibility (family % 23 the same), who are not asked at all.
    assert selectors.carers_needing_paper_forms(school).count() == 196

    started = time.perf_counter()
    again = preview(school, data, large_export.name)
    print(f"Previewed the same file again in {time.perf_counter() - started:.2f} s")
    assert again.is_valid and not again.has_changes
