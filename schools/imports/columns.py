"""The columns of an export: the names each information system gives them, and how a header or
a year group is recognised whatever its spelling."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

from schools.models import Pupil


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
    Column("mobile", "contact mobile",
           ("Mobile", "Mobile Phone", "Telephone (Mobile)", "Mobile Number", "Contact Mobile", "Mobile Telephone"),
           False),
    Column("priority", "contact priority", ("Priority", "Contact Priority", "Contact Order"), False),
    # A SIMS code (WEL, POL, URD…) or a language's name: portal.languages.home_language_code.
    Column("language", "home language",
           ("Home Language", "First Language", "Language", "Main Language", "Contact Language",
            "Preferred Language"), False),
)

YES = {"y", "yes", "true", "t", "1", "✓", "✔", "☑"}
NO = {"n", "no", "false", "f", "0", ""}

AUTO_KEY_PREFIX = "auto:"


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


def year_label(year: str) -> str:
    return Pupil.YearGroup(year).label if year in Pupil.YearGroup.values else year


def fold(value: str) -> str:
    """For comparing people's names and emails, never for storing them."""
    return " ".join(unicodedata.normalize("NFC", value).casefold().split())


def derived_key(*parts: str) -> str:
    """A carer's mis_id when the file gives none: it repeats no personal data."""
    canonical = "\x1f".join(fold(part) for part in parts)
    return AUTO_KEY_PREFIX + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:24]


def find_columns(headers: list[str]) -> tuple[dict[str, int], list[Column]]:
    """Each known column's position in the header row, and the required columns it lacks."""
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


def missing_columns_message(missing: list[Column], headers: list[str]) -> str:
    parts = [f"{c.label} (accepted names: {', '.join(c.names)})" for c in missing]
    noun = "column" if len(missing) == 1 else "columns"
    shown = ", ".join(h for h in headers if h) or "none"
    return f"The file has no {noun} for the {'; '.join(parts)}. The file's headers are: {shown}."
