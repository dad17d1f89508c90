"""Bringing a school's pupils and contacts in from its information system (MIS) export.

The one import module: the web (upload → preview → confirm) and the command line
(`manage.py import_families`) both call it.

    plan = import_preview(school=school, filename=name, data=data)     # writes nothing
    # show plan.errors / plan.file_error, or what will be added, changed and marked as left
    result = import_apply(
        school=school, filename=name, data=data, user=request.user,
        expected_sha256=plan.file_sha256,                    # refuse if the file is not the one previewed
        expected_changes_sha256=plan.changes_sha256,         # refuse if the outcome would now differ
    )

The file
    CSV (UTF-8 with or without a byte-order mark, or Windows-1252; comma, semicolon or tab
    separated) or Excel .xlsx, one row per pupil–contact pair, as SIMS, Arbor, Bromcom,
    ScholarPack and ParentMail export them. The header is the first non-empty row. Columns are
    found by name, never by position, ignoring case, spaces and punctuation, with the synonyms in
    COLUMNS. Values keep their exact spelling (curly or straight apostrophes, hyphens, accents,
    any script); only surrounding whitespace is removed. Line numbers in messages are the row
    numbers a spreadsheet shows, so the header is line 1.

Who is who
    Pupils are matched on the MIS identifier (Adno, Admission Number, StudentID, UPN, Pupil ID)
    within the school.

    Contacts (Carer rows) are matched, in this order:
    1. by the contact identifier, when the file has a contact id column and the row a value;
    2. otherwise by forename + surname + email, ignoring case and spacing. A contact listed for
       several siblings is then one carer with several children; two parents who share one
       email address stay two carers because their names differ. Email alone never
       identifies anyone;
    3. a contact with neither an identifier nor an email is matched by forename + surname within
       the pupil's family: the pupils joined to each other through contacts matched by rule 1
       or 2. Two unrelated "John Smith"s without email are therefore never merged; the price is
       that one person listed for two families that share no other contact becomes two carers.
    For rules 2 and 3 the carer's mis_id is a derived key, "auto:" and 24 hex digits of a SHA-256
    of the normalised parts, so the identifier repeats no personal data. When a derived key
    changes (say a contact's email changed and the export has no contact id), the import still
    recognises the carer if exactly one carer with the same name and a derived key was linked to
    one of the same pupils and is no longer in the file: that carer is updated in place and
    keeps their history. The same applies when a school starts exporting contact ids.

What an import does
    The file is always a full export of the school. Pupils in it are added or updated in place
    (names, year and registration group); pupils on roll but missing from it are marked as left
    (on_roll=False, left_on=today), never deleted; pupils who reappear are back on roll. Carers
    are added or updated in place (title, names, email). Each listed pupil's links are made to
    match the file: new links are added, changed ones updated, and links to contacts no longer
    listed for that pupil are removed; the carer row itself is kept. Optional columns that the
    file lacks (registration group, title, relationship, priority) leave the stored values alone.

    If any row is bad, or a required column is missing, nothing is imported: the plan lists
    every problem with its line number. Re-importing the same file changes nothing.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import json
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import EmailValidator
from django.db import transaction
from django.utils import timezone

from schools import permissions
from schools.models import Carer, Organisation, Pupil, PupilCarer

# ---------------------------------------------------------------------------------------------
# Columns


@dataclass(frozen=True)
class Column:
    field: str
    label: str
    names: tuple[str, ...]
    required: bool


# Order within `names` is preference: a file with both "Legal Forename" and "Preferred
# Forename" uses the legal one.
COLUMNS = (
    Column("pupil_id", "pupil identifier",
           ("Adno", "Admission Number", "StudentID", "UPN", "Pupil ID"), True),
    Column("forename", "pupil forename",
           ("Forename", "Legal Forename", "StudentForename", "First Name", "Preferred Forename",
            "Pupil Forename"), True),
    Column("surname", "pupil surname",
           ("Legal Surname", "Surname", "StudentSurname", "Last Name", "Pupil Surname"), True),
    Column("year_group", "year group", ("Year", "NC Year", "Year Group"), True),
    Column("reg_group", "registration group",
           ("Reg", "Reg Group", "Form", "Registration Group", "Class"), False),
    Column("contact_id", "contact identifier", ("Contact ID", "Parent ID"), False),
    Column("title", "contact title", ("Contact Title", "Parent Title", "Title"), False),
    Column("contact_forename", "contact forename",
           ("Contact Forename", "Parent Forename"), True),
    Column("contact_surname", "contact surname",
           ("Contact Surname", "Parent Surname"), True),
    Column("relationship", "relationship", ("Relationship", "Contact Relationship", "Relation"), False),
    Column("parental_responsibility", "parental responsibility",
           ("Parental Responsibility", "Responsibility", "PR", "Has Parental Responsibility"), True),
    Column("email", "contact email",
           ("Primary Email", "Email", "Home Email", "Contact Email", "Email Address"), True),
    Column("priority", "contact priority", ("Priority", "Contact Priority", "Contact Order"), False),
)

YES = {"y", "yes", "true", "t", "1", "✓", "✔", "☑"}
NO = {"n", "no", "false", "f", "0", ""}

AUTO_KEY_PREFIX = "auto:"
BATCH = 500


def normalise_header(header: str) -> str:
    """'Contact Id', 'ContactID' and 'contact_id' all become 'contactid'."""
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", header).casefold())


def normalise_year(value: str) -> str | None:
    """'Year 3', 'Y3', 'NC Year 3', '03' → '3'; 'Reception', 'YR' → 'R'; 'Nursery', 'N1' → 'N'."""
    v = re.sub(r"[\W_]+", "", value.casefold())
    v = re.sub(r"^(nc|nationalcurriculum)", "", v)
    for candidate in (v, re.sub(r"^(yeargroup|year|yr|y)", "", v)):  # "YR" is Reception, not "Year"
        if candidate in {"n", "n1", "n2", "nur", "nursery", "f1"}:
            return "N"
        if candidate in {"r", "yr", "rec", "reception", "f2"}:
            return "R"
        if candidate.isdecimal() and 1 <= int(candidate) <= 13:
            return str(int(candidate))
    return None


def _fold(value: str) -> str:
    """For comparing people's names and emails, never for storing them."""
    return " ".join(unicodedata.normalize("NFC", value).casefold().split())


def _derived_key(*parts: str) -> str:
    canonical = "\x1f".join(_fold(part) for part in parts)
    return AUTO_KEY_PREFIX + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:24]


def _year_label(year: str) -> str:
    return Pupil.YearGroup(year).label if year in Pupil.YearGroup.values else year


# ---------------------------------------------------------------------------------------------
# What a preview shows


@dataclass(frozen=True)
class RowError:
    line: int
    message: str

    def __str__(self):
        return f"Line {self.line}: {self.message}"


@dataclass(frozen=True)
class Change:
    field: str  # in words, e.g. "year group"
    old: Any
    new: Any


@dataclass(frozen=True)
class PupilEntry:
    mis_id: str
    forename: str
    surname: str
    year_group: str
    reg_group: str
    line: int | None = None  # first line in the file; None for pupils not in the file (left)
    changes: tuple[Change, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.forename} {self.surname}"

    @property
    def year_label(self) -> str:
        return _year_label(self.year_group)


@dataclass(frozen=True)
class CarerEntry:
    mis_id: str
    title: str
    forename: str
    surname: str
    email: str
    line: int | None = None
    changes: tuple[Change, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.forename} {self.surname}"


@dataclass(frozen=True)
class LinkEntry:
    pupil_mis_id: str
    pupil_name: str
    carer_mis_id: str
    carer_name: str
    relationship: str
    parental_responsibility: bool
    priority: int | None
    line: int | None = None
    changes: tuple[Change, ...] = ()


@dataclass
class ImportPlan:
    """What importing one file into one school would do, or why it cannot be imported.

    When the plan is not valid, the change lists are empty: only the problems are reported.
    """

    school_id: int
    filename: str
    file_sha256: str
    rows: int = 0
    columns: dict[str, str] = field(default_factory=dict)  # field → the file's header used
    file_error: str = ""  # the file as a whole cannot be read, or lacks required columns
    missing_columns: tuple[str, ...] = ()  # labels of the required columns not found
    errors: list[RowError] = field(default_factory=list)
    added_pupils: list[PupilEntry] = field(default_factory=list)
    changed_pupils: list[PupilEntry] = field(default_factory=list)  # includes pupils back on roll
    left_pupils: list[PupilEntry] = field(default_factory=list)
    added_carers: list[CarerEntry] = field(default_factory=list)
    changed_carers: list[CarerEntry] = field(default_factory=list)
    links_added: list[LinkEntry] = field(default_factory=list)
    links_changed: list[LinkEntry] = field(default_factory=list)
    links_removed: list[LinkEntry] = field(default_factory=list)
    changes_sha256: str = ""  # fingerprint of the changes above, to confirm what was previewed
    _writes: _Writes | None = field(default=None, repr=False, compare=False)

    @property
    def is_valid(self) -> bool:
        return not self.file_error and not self.errors

    @property
    def returning_pupils(self) -> list[PupilEntry]:
        return [p for p in self.changed_pupils if any(c.field == "on roll" for c in p.changes)]

    @property
    def has_changes(self) -> bool:
        return any(n for n in self.counts.values())

    @property
    def counts(self) -> dict[str, int]:
        return {
            "pupils added": len(self.added_pupils),
            "pupils changed": len(self.changed_pupils),
            "pupils marked as left": len(self.left_pupils),
            "carers added": len(self.added_carers),
            "carers changed": len(self.changed_carers),
            "links added": len(self.links_added),
            "links changed": len(self.links_changed),
            "links removed": len(self.links_removed),
        }

    @property
    def problems(self) -> list[str]:
        """Every reason the file cannot be imported, in plain English, in file order."""
        return ([self.file_error] if self.file_error else []) + [str(error) for error in self.errors]


@dataclass(frozen=True)
class ImportResult:
    plan: ImportPlan
    applied_at: datetime.datetime

    @property
    def counts(self) -> dict[str, int]:
        return self.plan.counts


class ImportRejected(ValidationError):
    """Nothing was imported. `plan` is the plan as checked at the time, when there is one."""

    def __init__(self, messages: list[str] | str, plan: ImportPlan | None = None):
        super().__init__(messages)
        self.plan = plan


# ---------------------------------------------------------------------------------------------
# Reading the file


class _Unreadable(Exception):
    pass


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
        raise _Unreadable("could not be opened as an Excel workbook (.xlsx).") from exc
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
        raise _Unreadable(
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
        raise _Unreadable(f"could not be read as CSV near line {reader.line_num}: {exc}.") from None


def _read_table(filename: str, data: bytes) -> list[tuple[int, list[str]]]:
    if not data.strip():
        raise _Unreadable("is empty.")
    if data.startswith(b"PK\x03\x04"):
        return _read_xlsx(data)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise _Unreadable("is an old-style Excel .xls workbook. Save it as .xlsx or CSV and upload that.")
    if filename.lower().endswith((".xlsx", ".xlsm")):
        raise _Unreadable("is named .xlsx but is not an Excel workbook.")
    return _read_csv(data)


# ---------------------------------------------------------------------------------------------
# Parsing: the file on its own, before looking at the database


@dataclass
class _PupilRecord:
    mis_id: str
    forename: str
    surname: str
    year_group: str
    reg_group: str
    line: int


@dataclass
class _CarerRecord:
    key: str
    title: str
    forename: str
    surname: str
    email: str
    line: int
    pupils: list[str] = field(default_factory=list)  # mis_ids, in file order

    @property
    def name(self) -> str:
        return f"{self.forename} {self.surname}"


@dataclass
class _LinkRecord:
    pupil_id: str
    carer_key: str
    relationship: str
    parental_responsibility: bool
    priority: int | None
    line: int


@dataclass
class _Parsed:
    rows: int = 0
    columns: dict[str, str] = field(default_factory=dict)
    file_error: str = ""
    missing_columns: tuple[str, ...] = ()
    errors: list[RowError] = field(default_factory=list)
    pupils: dict[str, _PupilRecord] = field(default_factory=dict)
    carers: dict[str, _CarerRecord] = field(default_factory=dict)
    links: dict[tuple[str, str], _LinkRecord] = field(default_factory=dict)


def _find_columns(headers: list[str]) -> tuple[dict[str, int], list[Column]]:
    positions: dict[str, int] = {}
    for index, header in enumerate(headers):
        positions.setdefault(normalise_header(header), index)
    found, missing = {}, []
    for column in COLUMNS:
        index = next(
            (positions[n] for n in map(normalise_header, column.names) if n in positions and n), None
        )
        if index is not None:
            found[column.field] = index
        elif column.required:
            missing.append(column)
    return found, missing


def _missing_columns_message(missing: list[Column], headers: list[str]) -> str:
    parts = [f"{c.label} (accepted names: {', '.join(c.names)})" for c in missing]
    noun = "column" if len(missing) == 1 else "columns"
    shown = ", ".join(h for h in headers if h) or "none"
    return f"The file has no {noun} for the {'; '.join(parts)}. The file's headers are: {shown}."


_MAX_LENGTHS = {
    "pupil_id": Pupil._meta.get_field("mis_id").max_length,
    "forename": Pupil._meta.get_field("forename").max_length,
    "surname": Pupil._meta.get_field("surname").max_length,
    "reg_group": Pupil._meta.get_field("reg_group").max_length,
    "contact_id": Carer._meta.get_field("mis_id").max_length,
    "title": Carer._meta.get_field("title").max_length,
    "contact_forename": Carer._meta.get_field("forename").max_length,
    "contact_surname": Carer._meta.get_field("surname").max_length,
    "email": Carer._meta.get_field("email").max_length,
    "relationship": PupilCarer._meta.get_field("relationship").max_length,
}
_email_validator = EmailValidator()

# The fields an import compares, with the words a preview uses for them.
PUPIL_FIELDS = (("forename", "forename"), ("surname", "surname"), ("year_group", "year group"),
                ("reg_group", "registration group"))
CARER_FIELDS = (("title", "title"), ("forename", "forename"), ("surname", "surname"), ("email", "email"))
LINK_FIELDS = (("relationship", "relationship"), ("parental_responsibility", "parental responsibility"),
               ("priority", "priority"))


def _parse(filename: str, data: bytes) -> _Parsed:
    parsed = _Parsed()
    the_file = f"The file “{filename}”" if filename else "The file"
    try:
        table = _read_table(filename, data)
    except _Unreadable as exc:
        parsed.file_error = f"{the_file} {exc}"
        return parsed

    header_index = next((i for i, (_, values) in enumerate(table) if any(values)), None)
    if header_index is None:
        parsed.file_error = f"{the_file} is empty."
        return parsed
    headers = table[header_index][1]
    positions, missing = _find_columns(headers)
    parsed.columns = {name: headers[index] for name, index in positions.items()}
    if missing:
        parsed.missing_columns = tuple(c.label for c in missing)
        parsed.file_error = _missing_columns_message(missing, headers)
        return parsed

    body = [(line, values) for line, values in table[header_index + 1:] if any(values)]
    parsed.rows = len(body)
    if not body:
        parsed.file_error = f"{the_file} has a header but no rows of pupils and contacts."
        return parsed

    good_rows = []
    for line, values in body:
        row = {name: values[i] if i < len(values) else "" for name, i in positions.items()}
        problems = _check_row(row, parsed.columns)
        parsed.errors.extend(RowError(line, problem) for problem in problems)
        if not problems:
            good_rows.append((line, row))
    _collect_families(parsed, good_rows)
    parsed.errors.sort(key=lambda error: error.line)
    return parsed


def _check_row(row: dict, header: dict[str, str]) -> list[str]:
    """Every problem with one row on its own, in the file's own words; turns values into types."""
    problems = []
    for name in ("pupil_id", "forename", "surname", "contact_forename", "contact_surname"):
        if not row[name]:
            problems.append(f"{header[name]} is blank.")
    for name, limit in _MAX_LENGTHS.items():
        if len(row.get(name, "")) > limit:
            problems.append(f"{header[name]} is longer than {limit} characters.")

    written_year, row["year_group"] = row["year_group"], normalise_year(row["year_group"])
    if not written_year:
        problems.append(f"{header['year_group']} is blank.")
    elif row["year_group"] is None:
        problems.append(
            f"{header['year_group']} “{written_year}” is not a year group we know "
            "(use Nursery, Reception or Year 1 to Year 13)."
        )

    if row["email"]:
        try:
            _email_validator(row["email"])
        except ValidationError:
            problems.append(f"{header['email']} “{row['email']}” is not a valid email address.")

    written_pr = row["parental_responsibility"]
    row["parental_responsibility"] = written_pr.casefold() in YES
    if written_pr.casefold() not in YES | NO:
        problems.append(f"{header['parental_responsibility']} “{written_pr}” should be Yes or No.")

    written_priority = row.get("priority", "")
    row["priority"] = int(written_priority) if written_priority.isdecimal() else None
    if written_priority and (row["priority"] is None or row["priority"] > 32767):
        problems.append(f"{header['priority']} “{written_priority}” should be a whole number, like 1.")
    return problems


def _differences(here, there, fields) -> str:
    """'year group “Year 4” here but “Year 3” on line 2', for the fields in which two rows differ."""
    def shown(record, name):
        value = getattr(record, name)
        return _year_label(value) if name == "year_group" else value

    return "; ".join(
        f"{label} “{shown(here, name)}” here but “{shown(there, name)}” on line {there.line}"
        for name, label in fields
        if getattr(here, name) != getattr(there, name)
    )


def _family_of(rows) -> dict[str, str]:
    """Each pupil's family: the lowest pupil id among the pupils joined through contacts that
    have an identifier or an email (rule 3 of the module docstring)."""
    parent: dict[str, str] = {}

    def root(pupil_id):
        parent.setdefault(pupil_id, pupil_id)
        while parent[pupil_id] != pupil_id:
            parent[pupil_id] = parent[parent[pupil_id]]
            pupil_id = parent[pupil_id]
        return pupil_id

    first_pupil_of_contact = {}
    for _, row in rows:
        key = _strong_key(row)
        root(row["pupil_id"])
        if key is None:
            continue
        other = first_pupil_of_contact.setdefault(key, row["pupil_id"])
        a, b = root(other), root(row["pupil_id"])
        if a != b:
            parent[max(a, b)] = min(a, b)
    return {pupil_id: root(pupil_id) for pupil_id in parent}


def _strong_key(row) -> str | None:
    if row.get("contact_id"):
        return row["contact_id"]
    if row["email"]:
        return _derived_key("email", row["contact_forename"], row["contact_surname"], row["email"])
    return None


def _collect_families(parsed: _Parsed, rows: list[tuple[int, dict]]) -> None:
    """Pupils, carers and the links between them, with the problems that span rows."""
    header = parsed.columns
    family = _family_of(rows)
    for line, row in rows:
        pupil = _PupilRecord(
            row["pupil_id"], row["forename"], row["surname"], row["year_group"], row.get("reg_group", ""), line
        )
        first_pupil = parsed.pupils.setdefault(pupil.mis_id, pupil)
        if differences := _differences(pupil, first_pupil, PUPIL_FIELDS):
            parsed.errors.append(RowError(
                line, f"{header['pupil_id']} {pupil.mis_id} has different details on different rows: {differences}."
            ))
            continue

        key = _strong_key(row) or _derived_key(
            "family", row["contact_forename"], row["contact_surname"], family[pupil.mis_id]
        )
        carer = _CarerRecord(
            key, row.get("title", ""), row["contact_forename"], row["contact_surname"], row["email"], line
        )
        first_carer = parsed.carers.setdefault(key, carer)
        if differences := _differences(carer, first_carer, CARER_FIELDS[1:]):
            who = f"{header['contact_id']} {key}" if row.get("contact_id") else f"Contact {first_carer.name}"
            parsed.errors.append(RowError(line, f"{who} has different details on different rows: {differences}."))
            continue
        first_carer.title = first_carer.title or carer.title

        if (pupil.mis_id, key) in parsed.links:
            parsed.errors.append(RowError(
                line,
                f"{first_pupil.forename} {first_pupil.surname} ({header['pupil_id']} {pupil.mis_id}) is listed "
                f"with {first_carer.name} twice: here and on line {parsed.links[pupil.mis_id, key].line}.",
            ))
            continue
        parsed.links[pupil.mis_id, key] = _LinkRecord(
            pupil.mis_id, key, row.get("relationship", ""), row["parental_responsibility"], row["priority"], line
        )
        first_carer.pupils.append(pupil.mis_id)


# ---------------------------------------------------------------------------------------------
# Planning: the parsed file against the school's families in the database


@dataclass
class _Writes:
    new_pupils: list[Pupil]
    changed_pupils: list[Pupil]
    left_pupil_ids: list[int]
    new_carers: list[Carer]
    changed_carers: list[Carer]
    new_links: list[_LinkRecord]
    changed_links: list[PupilCarer]
    removed_link_ids: list[int]


def _plan(school: Organisation, filename: str, sha256: str, parsed: _Parsed) -> ImportPlan:
    plan = ImportPlan(
        school_id=school.pk, filename=filename, file_sha256=sha256, rows=parsed.rows,
        columns=parsed.columns, file_error=parsed.file_error, missing_columns=parsed.missing_columns,
        errors=parsed.errors,
    )
    if not plan.is_valid:
        return plan
    present = set(parsed.columns)

    pupils = {p.mis_id: p for p in Pupil.objects.filter(school=school)}
    carers = {c.mis_id: c for c in Carer.objects.filter(school=school)}
    carers_by_pk = {c.pk: c for c in carers.values()}
    links = {(link.pupil_id, link.carer_id): link for link in PupilCarer.objects.filter(pupil__school=school)}
    writes = _Writes([], [], [], [], [], [], [], [])

    # Pupils
    for record in parsed.pupils.values():
        pupil = pupils.get(record.mis_id)
        if pupil is None:
            writes.new_pupils.append(Pupil(
                school=school, mis_id=record.mis_id, forename=record.forename, surname=record.surname,
                year_group=record.year_group, reg_group=record.reg_group,
            ))
            plan.added_pupils.append(PupilEntry(
                record.mis_id, record.forename, record.surname, record.year_group, record.reg_group, record.line
            ))
            continue
        changes = []
        for name, label in PUPIL_FIELDS:
            if name == "reg_group" and "reg_group" not in present:
                continue
            if getattr(pupil, name) != getattr(record, name):
                changes.append(Change(label, getattr(pupil, name), getattr(record, name)))
                setattr(pupil, name, getattr(record, name))
        if not pupil.on_roll:
            changes.append(Change("on roll", False, True))
            pupil.on_roll, pupil.left_on = True, None
        if changes:
            writes.changed_pupils.append(pupil)
            plan.changed_pupils.append(PupilEntry(
                pupil.mis_id, pupil.forename, pupil.surname, pupil.year_group, pupil.reg_group, record.line,
                tuple(changes),
            ))
    for pupil in pupils.values():
        if pupil.on_roll and pupil.mis_id not in parsed.pupils:
            writes.left_pupil_ids.append(pupil.pk)
            plan.left_pupils.append(PupilEntry(
                pupil.mis_id, pupil.forename, pupil.surname, pupil.year_group, pupil.reg_group, None,
                (Change("on roll", True, False),),
            ))

    # Carers: by identifier, then the derived-key fallback of the docstring.
    matched: dict[str, Carer] = {key: carers[key] for key in parsed.carers if key in carers}
    claimed = {carer.pk for carer in matched.values()}
    carers_of_pupil = defaultdict(set)
    for (pupil_pk, carer_pk) in links:
        carers_of_pupil[pupil_pk].add(carer_pk)
    for key, record in parsed.carers.items():
        if key in matched:
            continue
        candidates = {
            carer_pk
            for mis_id in record.pupils if mis_id in pupils
            for carer_pk in carers_of_pupil[pupils[mis_id].pk]
            if carer_pk not in claimed
            and carers_by_pk[carer_pk].mis_id.startswith(AUTO_KEY_PREFIX)
            and _fold(carers_by_pk[carer_pk].forename) == _fold(record.forename)
            and _fold(carers_by_pk[carer_pk].surname) == _fold(record.surname)
        }
        if len(candidates) == 1:
            (carer_pk,) = candidates
            matched[key] = carers_by_pk[carer_pk]
            claimed.add(carer_pk)

    for key, record in parsed.carers.items():
        carer = matched.get(key)
        if carer is None:
            writes.new_carers.append(Carer(
                school=school, mis_id=key, title=record.title, forename=record.forename,
                surname=record.surname, email=record.email,
            ))
            plan.added_carers.append(CarerEntry(
                key, record.title, record.forename, record.surname, record.email, record.line
            ))
            continue
        changes = []
        if carer.mis_id != key:
            changes.append(Change("contact identifier", carer.mis_id, key))
            carer.mis_id = key
        for name, label in CARER_FIELDS:
            if name == "title" and "title" not in present:
                continue
            if getattr(carer, name) != getattr(record, name):
                changes.append(Change(label, getattr(carer, name), getattr(record, name)))
                setattr(carer, name, getattr(record, name))
        if changes:
            writes.changed_carers.append(carer)
            plan.changed_carers.append(CarerEntry(
                carer.mis_id, carer.title, carer.forename, carer.surname, carer.email, record.line,
                tuple(changes),
            ))

    # Links: each listed pupil's carers become exactly those in the file.
    wanted = set()
    for (pupil_id, key), record in parsed.links.items():
        pupil, carer = pupils.get(pupil_id), matched.get(key)
        pupil_record, carer_record = parsed.pupils[pupil_id], parsed.carers[key]
        entry = dict(
            pupil_mis_id=pupil_id, pupil_name=f"{pupil_record.forename} {pupil_record.surname}",
            carer_mis_id=key, carer_name=carer_record.name, line=record.line,
        )
        link = links.get((pupil.pk, carer.pk)) if pupil and carer else None
        if link is None:
            writes.new_links.append(record)
            plan.links_added.append(LinkEntry(
                relationship=record.relationship, parental_responsibility=record.parental_responsibility,
                priority=record.priority, **entry,
            ))
            continue
        wanted.add(link.pk)
        changes = []
        for name, label in LINK_FIELDS:
            if name in {"relationship", "priority"} and name not in present:
                continue
            if getattr(link, name) != getattr(record, name):
                changes.append(Change(label, getattr(link, name), getattr(record, name)))
                setattr(link, name, getattr(record, name))
        if changes:
            writes.changed_links.append(link)
            plan.links_changed.append(LinkEntry(
                relationship=link.relationship, parental_responsibility=link.parental_responsibility,
                priority=link.priority, changes=tuple(changes), **entry,
            ))
    listed_pupil_pks = {pupils[m].pk for m in parsed.pupils if m in pupils}
    pupils_by_pk = {p.pk: p for p in pupils.values()}
    for (pupil_pk, carer_pk), link in links.items():
        if pupil_pk in listed_pupil_pks and link.pk not in wanted:
            pupil, carer = pupils_by_pk[pupil_pk], carers_by_pk[carer_pk]
            writes.removed_link_ids.append(link.pk)
            plan.links_removed.append(LinkEntry(
                pupil.mis_id, pupil.full_name, carer.mis_id, carer.full_name, link.relationship,
                link.parental_responsibility, link.priority,
            ))

    plan.left_pupils.sort(key=lambda p: (p.surname, p.forename, p.mis_id))
    plan.links_removed.sort(key=lambda link: (link.pupil_mis_id, link.carer_mis_id))
    plan.changes_sha256 = _changes_fingerprint(plan)
    plan._writes = writes
    return plan


def _changes_fingerprint(plan: ImportPlan) -> str:
    def entries(items):
        return sorted(
            json.dumps(
                {k: v for k, v in item.__dict__.items() if k != "line"}, default=str, sort_keys=True,
                ensure_ascii=False,
            )
            for item in items
        )

    content = {
        "school": plan.school_id,
        **{
            name: entries(getattr(plan, name))
            for name in ("added_pupils", "changed_pupils", "left_pupils", "added_carers", "changed_carers",
                         "links_added", "links_changed", "links_removed")
        },
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------------
# The two steps


def _check_school(school: Organisation, user) -> None:
    if not school.is_school:
        raise ValueError(f"{school} is not a school; families belong to schools.")
    if user is not None and not permissions.visible_schools(user).filter(pk=school.pk).exists():
        raise PermissionDenied("You can only import families for your own school.")


def import_preview(*, school: Organisation, filename: str, data: bytes, user=None) -> ImportPlan:
    """What importing this file would do to the school's families. Writes nothing.

    Guarantees: a plan that is not valid lists every problem (a file-level error, or every bad
    row with its line number) and no changes; a valid plan lists every pupil and carer to be
    added or changed (field by field, old → new), every pupil to be marked as left, and every
    link to be added, changed or removed.
    """
    _check_school(school, user)
    return _plan(school, filename, hashlib.sha256(data).hexdigest(), _parse(filename, data))


def import_apply(
    *,
    school: Organisation,
    filename: str,
    data: bytes,
    user=None,
    expected_sha256: str | None = None,
    expected_changes_sha256: str | None = None,
) -> ImportResult:
    """Import the file: all of the plan, or nothing.

    Guarantees: the file is re-read and re-checked against the school's families as they are
    now, under a lock on the school, in one transaction; ImportRejected (nothing written) if
    any row is bad, if the file's SHA-256 is not `expected_sha256` (it is not the file that was
    previewed), or if the changes would no longer be those previewed (`expected_changes_sha256`:
    someone imported in between). Pupils are never deleted; carers are never deleted.
    """
    _check_school(school, user)
    sha256 = hashlib.sha256(data).hexdigest()
    if expected_sha256 is not None and sha256 != expected_sha256:
        raise ImportRejected(
            "This file is not the one you previewed: it has changed since. Upload it again to see a new preview."
        )
    parsed = _parse(filename, data)  # reading the file needs no lock
    with transaction.atomic():
        Organisation.objects.select_for_update().get(pk=school.pk)
        plan = _plan(school, filename, sha256, parsed)
        if not plan.is_valid:
            raise ImportRejected(plan.problems, plan=plan)
        if expected_changes_sha256 is not None and plan.changes_sha256 != expected_changes_sha256:
            raise ImportRejected(
                "The school's pupils and contacts have changed since your preview (another import, perhaps), "
                "so this file would now make different changes. Preview it again.",
                plan=plan,
            )
        _write(school, plan._writes)
    return ImportResult(plan=plan, applied_at=timezone.now())


def _chunks(items: list, size: int = BATCH):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _write(school: Organisation, writes: _Writes) -> None:
    now, today = timezone.now(), timezone.localdate()
    Pupil.objects.bulk_create(writes.new_pupils, batch_size=BATCH)
    for pupil in writes.changed_pupils:
        pupil.updated = now  # bulk_update does not touch auto_now fields
    Pupil.objects.bulk_update(
        writes.changed_pupils,
        ["forename", "surname", "year_group", "reg_group", "on_roll", "left_on", "updated"],
        batch_size=BATCH,
    )
    for ids in _chunks(writes.left_pupil_ids):
        Pupil.objects.filter(pk__in=ids).update(on_roll=False, left_on=today, updated=now)

    Carer.objects.bulk_create(writes.new_carers, batch_size=BATCH)
    for carer in writes.changed_carers:
        carer.updated = now
    Carer.objects.bulk_update(
        writes.changed_carers, ["mis_id", "title", "forename", "surname", "email", "updated"], batch_size=BATCH
    )

    for ids in _chunks(writes.removed_link_ids):
        PupilCarer.objects.filter(pk__in=ids).delete()
    PupilCarer.objects.bulk_update(
        writes.changed_links, ["relationship", "parental_responsibility", "priority"], batch_size=BATCH
    )
    if writes.new_links:
        pupil_pks = dict(Pupil.objects.filter(school=school).values_list("mis_id", "pk"))
        carer_pks = dict(Carer.objects.filter(school=school).values_list("mis_id", "pk"))
        PupilCarer.objects.bulk_create(
            [
                PupilCarer(
                    pupil_id=pupil_pks[record.pupil_id], carer_id=carer_pks[record.carer_key],
                    relationship=record.relationship, parental_responsibility=record.parental_responsibility,
                    priority=record.priority,
                )
                for record in writes.new_links
            ],
            batch_size=BATCH,
        )
