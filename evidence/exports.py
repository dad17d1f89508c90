"""Exports of a school's declarations: which declarations (DeclarationFilters), and the registers
(CSV and Excel). The ZIP of their PDFs is evidence/zip_exports.py.

Exporters are small classes (as pretix's are): render() returns (filename, content_type, bytes).
A list exporter only yields rows (`rows()`); writing them as CSV or Excel is the base class's job.

    RegisterCsv(school).render()  # ("register-whitefield-primary-v2.csv", "text/csv; ...", b"...")

Every cell that begins with =, +, -, @, a tab or a carriage return is prefixed with ' so that a
name like =HYPERLINK(...) is shown as text, never run as a formula by Excel or LibreOffice.

What is exported is decided here; who may export it, and the audit log entry, are the staff
services' (evidence/services.py).
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Iterator
from dataclasses import asdict, dataclass

from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import get_language_info

from codes.models import CodeVersion
from codes.services import code_for_school
from declarations import selectors
from declarations.models import Declaration
from evidence.pdf import UK, staff_name
from schools.models import Organisation, Pupil, PupilCarer

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """A cell value that a spreadsheet will show as text, never run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


# Which declarations.


@dataclass(frozen=True)
class DeclarationFilters:
    """Which of a school's declarations: by version number, year group, registration group and
    date signed (UK dates, inclusive); all of them when nothing is set."""

    version: int | None = None
    year_group: str = ""
    reg_group: str = ""
    signed_from: datetime.date | None = None
    signed_to: datetime.date | None = None

    def as_dict(self) -> dict:
        data = asdict(self)
        for key in ("signed_from", "signed_to"):
            data[key] = data[key].isoformat() if data[key] else None
        return {key: value for key, value in data.items() if value not in (None, "")}

    @classmethod
    def from_dict(cls, data: dict) -> DeclarationFilters:
        def day(value):
            return datetime.date.fromisoformat(value) if value else None

        return cls(
            version=int(data["version"]) if data.get("version") else None,
            year_group=data.get("year_group", ""),
            reg_group=data.get("reg_group", ""),
            signed_from=day(data.get("signed_from")),
            signed_to=day(data.get("signed_to")),
        )

    def describe(self) -> str:
        parts = []
        if self.version:
            parts.append(f"version {self.version}")
        if self.year_group:
            labels = dict(Pupil.YearGroup.choices)
            parts.append(labels.get(self.year_group, f"year {self.year_group}"))
        if self.reg_group:
            parts.append(f"registration group {self.reg_group}")
        if self.signed_from and self.signed_to:
            parts.append(f"signed {self.signed_from:%-d %b %Y} to {self.signed_to:%-d %b %Y}")
        elif self.signed_from:
            parts.append(f"signed from {self.signed_from:%-d %b %Y}")
        elif self.signed_to:
            parts.append(f"signed up to {self.signed_to:%-d %b %Y}")
        return ("Declarations: " + ", ".join(parts)) if parts else "All declarations"

    def _pupils(self, school):
        pupils = Pupil.objects.filter(school=school)
        if self.year_group:
            pupils = pupils.filter(year_group=self.year_group)
        if self.reg_group:
            pupils = pupils.filter(reg_group=self.reg_group)
        return pupils

    def declarations(self, school: Organisation):
        """The school's declarations chosen, ordered by carer's surname and forename. Year and
        registration group are the pupils' current ones: declarations of carers with parental
        responsibility for a pupil in that group."""
        declarations = Declaration.objects.filter(school=school)
        if self.version:
            declarations = declarations.filter(version__number=self.version)
        if self.year_group or self.reg_group:
            declarations = declarations.filter(
                Exists(
                    PupilCarer.objects.filter(
                        carer=OuterRef("carer"), parental_responsibility=True, pupil__in=self._pupils(school)
                    )
                )
            )
        if self.signed_from:
            declarations = declarations.filter(signed_at__gte=_uk_midnight(self.signed_from))
        if self.signed_to:
            declarations = declarations.filter(signed_at__lt=_uk_midnight(self.signed_to + datetime.timedelta(days=1)))
        return declarations.order_by("carer__surname", "carer__forename", "carer_id", "version__number", "pk")


def _uk_midnight(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(0), tzinfo=UK)


def _uk(moment: datetime.datetime | None) -> datetime.datetime | None:
    """A time as a spreadsheet wants it: UK local time, without a time zone."""
    return timezone.localtime(moment, timezone=UK).replace(tzinfo=None) if moment else None


# The exporters.


class Exporter:
    """Renders one file of a school's declarations."""

    identifier = ""
    verbose_name = ""
    extension = ""
    content_type = "application/octet-stream"

    def __init__(self, school: Organisation, *, filters: DeclarationFilters | None = None):
        self.school = school
        self.filters = filters or DeclarationFilters()

    def filename(self) -> str:
        version = f"-v{self.filters.version}" if self.filters.version else ""
        return f"{self.identifier}-{self.school.slug}{version}.{self.extension}"

    def render(self) -> tuple[str, str, bytes]:
        raise NotImplementedError


class ListExporter(Exporter):
    """An exporter that only yields rows; `file_format` says whether they become CSV or Excel."""

    file_format = "csv"

    @property
    def extension(self):
        return self.file_format

    @property
    def content_type(self):
        if self.file_format == "xlsx":
            return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return "text/csv; charset=utf-8"

    def headers(self) -> list[str]:
        raise NotImplementedError

    def rows(self) -> Iterator[list]:
        raise NotImplementedError

    def render(self) -> tuple[str, str, bytes]:
        rows = ([neutralise(value) for value in row] for row in self.rows())
        headers = [neutralise(value) for value in self.headers()]
        data = self._xlsx(headers, rows) if self.file_format == "xlsx" else self._csv(headers, rows)
        return self.filename(), self.content_type, data

    @staticmethod
    def _csv(headers, rows) -> bytes:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(headers)
        for row in rows:
            writer.writerow(["" if value is None else _csv_value(value) for value in row])
        return buffer.getvalue().encode("utf-8-sig")  # the BOM makes Excel read UTF-8 names right

    def _xlsx(self, headers, rows) -> bytes:
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Font

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(self.verbose_name[:31] or "Export")
        sheet.freeze_panes = "A2"
        bold = Font(bold=True)
        header_cells = []
        for value in headers:
            cell = WriteOnlyCell(sheet, value=value)
            cell.font = bold
            header_cells.append(cell)
        sheet.append(header_cells)
        for row in rows:
            cells = []
            for value in row:
                cell = WriteOnlyCell(sheet, value=value)
                if isinstance(value, datetime.datetime):
                    cell.number_format = "yyyy-mm-dd hh:mm"
                elif isinstance(value, datetime.date):
                    cell.number_format = "yyyy-mm-dd"
                elif isinstance(value, str):
                    cell.data_type = "s"  # never a formula, whatever it starts with
                cells.append(cell)
            sheet.append(cells)
        buffer = io.BytesIO()
        workbook.save(buffer)
        return buffer.getvalue()


def _csv_value(value):
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


class DeclarationRegister(ListExporter):
    """Who has signed which version, when and how; who declined; who is outstanding and why.

    One row per pupil on roll and carer asked to sign for them (a carer of two children has two
    rows), so the sheet can be sorted and filtered by year and registration group. Signed rows
    name the version signed, the time (UK) and how: online, or on paper and who recorded it.
    """

    identifier = "register"
    verbose_name = "Declarations register"

    def __init__(self, school, *, filters=None, version: CodeVersion | None = None):
        super().__init__(school, filters=filters)
        self._version = version

    def version(self) -> CodeVersion | None:
        if self._version is not None:
            return self._version
        if self.filters.version:
            code = code_for_school(self.school)
            return code.versions.filter(number=self.filters.version, status="published").first() if code else None
        return selectors.version_to_sign(self.school)

    def filename(self) -> str:
        version = self.version()
        suffix = f"-v{version.number}" if version else ""
        return f"{self.identifier}-{self.school.slug}{suffix}.{self.extension}"

    def headers(self) -> list[str]:
        return [
            "Pupil surname",
            "Pupil forename",
            "Year group",
            "Registration group",
            "Carer surname",
            "Carer forename",
            "Carer e-mail",
            "Status",
            "Version signed",
            "Signed (UK time)",
            "How",
            "Language signed in",
            "Recorded by",
            "Declined (UK time)",
            "Outstanding because",
            "Version asked to sign",
        ]

    def rows(self) -> Iterator[list]:
        version = self.version()
        if version is None:
            return
        report = selectors.school_status(
            self.school, version, year_group=self.filters.year_group, reg_group=self.filters.reg_group
        )
        rows = []
        for status in report.rows:
            for child in status.children:
                if self.filters.year_group and child.year_group != self.filters.year_group:
                    continue
                if self.filters.reg_group and child.reg_group != self.filters.reg_group:
                    continue
                rows.append((child, status))
        rows.sort(
            key=lambda pair: (
                _year_order(pair[0].year_group),
                pair[0].reg_group,
                pair[0].surname,
                pair[0].forename,
                pair[1].carer.surname,
                pair[1].carer.forename,
            )
        )
        for child, status in rows:
            declaration, decline = status.declaration, status.decline
            yield [
                child.surname,
                child.forename,
                child.get_year_group_display(),
                child.reg_group,
                status.carer.surname,
                status.carer.forename,
                status.carer.email,
                status.state.capitalize(),
                declaration.version.number if declaration else None,
                _uk(declaration.signed_at) if declaration else None,
                ("On paper" if declaration.method == Declaration.Method.PAPER else "Online") if declaration else "",
                _language(declaration),
                staff_name(declaration.recorded_by) if declaration else "",
                _uk(decline.declined_at) if decline else None,
                status.reason_label,
                version.number,
            ]


class RegisterCsv(DeclarationRegister):
    file_format = "csv"


class RegisterXlsx(DeclarationRegister):
    file_format = "xlsx"


def _language(declaration) -> str:
    """The language of the page the carer signed on, in English for the school's register."""
    if declaration is None:
        return ""
    if not declaration.language:  # before the portal recorded it, or a paper form: English
        return "English" if declaration.method == Declaration.Method.ONLINE else ""
    try:
        return get_language_info(declaration.language)["name"].replace("British English", "English")
    except KeyError:
        return declaration.language


def _year_order(year_group: str) -> int:
    values = list(Pupil.YearGroup.values)
    return values.index(year_group) if year_group in values else len(values)


REGISTERS = {"csv": RegisterCsv, "xlsx": RegisterXlsx}
