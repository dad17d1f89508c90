"""Checking an export on its own, before looking at the database: every row's values, and the
pupils, carers and links they describe (rules 1 to 3 of schools/imports/__init__.py)."""

from __future__ import annotations

import re
from contextlib import closing
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

from portal.languages import home_language_code
from schools.imports.columns import (
    NO,
    YES,
    derived_key,
    find_columns,
    missing_columns_message,
    normalise_year,
    year_label,
)
from schools.imports.limits import Rows, Unreadable
from schools.imports.plan import RowError
from schools.imports.reading import read_rows
from schools.models import Carer, Pupil, PupilCarer


@dataclass
class PupilRecord:
    mis_id: str
    forename: str
    surname: str
    year_group: str
    reg_group: str
    line: int


@dataclass
class CarerRecord:
    key: str
    title: str
    forename: str
    surname: str
    email: str
    line: int
    pupils: list[str] = field(default_factory=list)  # mis_ids, in file order
    mobile: str = ""
    language: str = ""  # a language code (portal.languages), or "" when blank or not one we know

    @property
    def name(self) -> str:
        return f"{self.forename} {self.surname}"


@dataclass
class LinkRecord:
    pupil_id: str
    carer_key: str
    relationship: str
    parental_responsibility: bool
    priority: int | None
    line: int


@dataclass
class Parsed:
    rows: int = 0
    columns: dict[str, str] = field(default_factory=dict)
    file_error: str = ""
    missing_columns: tuple[str, ...] = ()
    errors: list[RowError] = field(default_factory=list)
    pupils: dict[str, PupilRecord] = field(default_factory=dict)
    carers: dict[str, CarerRecord] = field(default_factory=dict)
    links: dict[tuple[str, str], LinkRecord] = field(default_factory=dict)


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
    "mobile": Carer._meta.get_field("mobile").max_length,
    "relationship": PupilCarer._meta.get_field("relationship").max_length,
}
_email_validator = EmailValidator()
# Never part of a name, an identifier or an address; PostgreSQL cannot even store a null.
CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f]")

# The fields an import compares, with the words a preview uses for them.
PUPIL_FIELDS = (("forename", "forename"), ("surname", "surname"), ("year_group", "year group"),
                ("reg_group", "registration group"))
CARER_FIELDS = (("title", "title"), ("forename", "forename"), ("surname", "surname"), ("email", "email"),
                ("mobile", "mobile"))
# A phone number as information systems write it: digits, spaces, brackets, dashes, a leading +.
PHONE_NUMBER = re.compile(r"^\+?[0-9][0-9 ()\-]{5,25}[0-9]$")
LINK_FIELDS = (("relationship", "relationship"), ("parental_responsibility", "parental responsibility"),
               ("priority", "priority"))


def parse(filename: str, data: bytes) -> Parsed:
    """The file's pupils, carers and links, or every problem with it (and then nothing else)."""
    the_file = f"The file “{filename}”" if filename else "The file"
    try:
        with closing(read_rows(filename, data)) as rows:
            return _parse_rows(rows, the_file)
    except Unreadable as exc:
        return Parsed(file_error=f"{the_file} {exc}")  # what was read before it stopped is not shown


def _parse_rows(rows: Rows, the_file: str) -> Parsed:
    parsed = Parsed()
    headers = next((values for _, values in rows if any(values)), None)
    if headers is None:
        parsed.file_error = f"{the_file} is empty."
        return parsed
    positions, missing = find_columns(headers)
    parsed.columns = {name: headers[index] for name, index in positions.items()}
    if missing:
        parsed.missing_columns = tuple(c.label for c in missing)
        parsed.file_error = missing_columns_message(missing, headers)
        return parsed

    good_rows = []
    for line, values in rows:
        if not any(values):
            continue
        parsed.rows += 1
        row = {name: values[i] if i < len(values) else "" for name, i in positions.items()}
        problems = _check_row(row, parsed.columns)
        parsed.errors.extend(RowError(line, problem) for problem in problems)
        if not problems:
            good_rows.append((line, row))
    if not parsed.rows:
        parsed.file_error = f"{the_file} has a header but no rows of pupils and contacts."
        return parsed
    _collect_families(parsed, good_rows)
    parsed.errors.sort(key=lambda error: error.line)
    return parsed


def _check_row(row: dict, header: dict[str, str]) -> list[str]:
    """Every problem with one row on its own, in the file's own words; turns values into types."""
    problems = [
        f"{header[name]} contains a control character (such as a line break or a null), which cannot be part of it."
        for name, value in row.items()
        if CONTROL_CHARACTER.search(value)
    ]
    if problems:  # the other messages would quote the value, control characters and all
        return problems
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

    if row.get("mobile") and not PHONE_NUMBER.match(row["mobile"]):
        problems.append(f"{header['mobile']} “{row['mobile']}” is not a phone number.")

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
        return year_label(value) if name == "year_group" else value

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
        return derived_key("email", row["contact_forename"], row["contact_surname"], row["email"])
    return None


def _collect_families(parsed: Parsed, rows: list[tuple[int, dict]]) -> None:
    """Pupils, carers and the links between them, with the problems that span rows."""
    header = parsed.columns
    family = _family_of(rows)
    for line, row in rows:
        pupil = PupilRecord(
            row["pupil_id"], row["forename"], row["surname"], row["year_group"], row.get("reg_group", ""), line
        )
        first_pupil = parsed.pupils.setdefault(pupil.mis_id, pupil)
        if differences := _differences(pupil, first_pupil, PUPIL_FIELDS):
            parsed.errors.append(RowError(
                line, f"{header['pupil_id']} {pupil.mis_id} has different details on different rows: {differences}."
            ))
            continue

        key = _strong_key(row) or derived_key(
            "family", row["contact_forename"], row["contact_surname"], family[pupil.mis_id]
        )
        carer = CarerRecord(
            key, row.get("title", ""), row["contact_forename"], row["contact_surname"], row["email"], line,
            mobile=row.get("mobile", ""),
            language=home_language_code(row.get("language", "")),
        )
        first_carer = parsed.carers.setdefault(key, carer)
        if differences := _differences(carer, first_carer, CARER_FIELDS[1:]):
            who = f"{header['contact_id']} {key}" if row.get("contact_id") else f"Contact {first_carer.name}"
            parsed.errors.append(RowError(line, f"{who} has different details on different rows: {differences}."))
            continue
        first_carer.title = first_carer.title or carer.title
        first_carer.language = first_carer.language or carer.language

        if (pupil.mis_id, key) in parsed.links:
            parsed.errors.append(RowError(
                line,
                f"{first_pupil.forename} {first_pupil.surname} ({header['pupil_id']} {pupil.mis_id}) is listed "
                f"with {first_carer.name} twice: here and on line {parsed.links[pupil.mis_id, key].line}.",
            ))
            continue
        parsed.links[pupil.mis_id, key] = LinkRecord(
            pupil.mis_id, key, row.get("relationship", ""), row["parental_responsibility"], row["priority"], line
        )
        first_carer.pupils.append(pupil.mis_id)

