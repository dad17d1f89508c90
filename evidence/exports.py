"""Exports of a school's declarations: a ZIP of their PDFs, and registers (CSV and Excel).

Exporters are small classes (as pretix's are): render() returns (filename, content_type, bytes).
A list exporter only yields rows (`rows()`); writing them as CSV or Excel is the base class's
job. The ZIP exporter also writes straight to a file (`write_to`), so a background export of
thousands of PDFs streams through a temporary file and never holds the ZIP in memory.

    DeclarationsZip(school, filters=DeclarationFilters(version=2)).write_to(file, progress=...)
    RegisterCsv(school).render()  # ("register-whitefield-primary-v2.csv", "text/csv; ...", b"...")

Every cell that begins with =, +, -, @, a tab or a carriage return is prefixed with ' so that a
name like =HYPERLINK(...) is shown as text, never run as a formula by Excel or LibreOffice.

Who may export is decided by schools.permissions (the views and the command check it); what is
exported is decided here. Exports are recorded in the audit log by the caller.
"""

from __future__ import annotations

import csv
import datetime
import io
import logging
import tempfile
import time
import uuid
import zipfile
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass

from django.core.files import File
from django.core.files.storage import default_storage
from django.db.models import Exists, OuterRef
from django.tasks import task
from django.utils import timezone
from django.utils.text import slugify

from codes.models import CodeVersion
from codes.services import code_for_school
from declarations import selectors
from declarations.models import Declaration
from evidence.models import DeclarationPdf, Export
from evidence.pdf import declaration_pdf_issue
from schools.models import Organisation, Pupil, PupilCarer

logger = logging.getLogger(__name__)

UK = zoneinfo.ZoneInfo("Europe/London")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PROGRESS_EVERY = 25  # look at the export's progress every this many PDFs…
PROGRESS_SECONDS = 1.0  # …and write it to the database if this long has passed since it was last written
EXPORT_KEEP_DAYS = 7  # a finished ZIP is deleted after this many days (retention.py)


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
                _staff(declaration.recorded_by) if declaration else "",
                _uk(decline.declined_at) if decline else None,
                status.reason_label,
                version.number,
            ]


class RegisterCsv(DeclarationRegister):
    file_format = "csv"


class RegisterXlsx(DeclarationRegister):
    file_format = "xlsx"


def _year_order(year_group: str) -> int:
    values = list(Pupil.YearGroup.values)
    return values.index(year_group) if year_group in values else len(values)


def _staff(user) -> str:
    if user is None:
        return ""
    return user.get_full_name().strip() or user.get_username()


class DeclarationsZip(Exporter):
    """The chosen declarations' sealed PDFs in one ZIP (stored, not compressed: PDFs are already
    compressed), each named <carer surname>-<carer forename>-<first child surname>-<forename>-v<N>.pdf.

    A declaration whose PDF has not been made yet (no worker running, say) is rendered first;
    an existing PDF is copied as stored, never re-rendered.
    """

    identifier = "declarations"
    verbose_name = "Declaration PDFs"
    extension = "zip"
    content_type = "application/zip"

    def rows(self) -> list[ZipRow]:
        """The chosen declarations as plain values: only what naming and copying each PDF needs.
        Whole model instances, with the carer, the version (its full text) and the PDF's record
        joined in, took longer than copying the files."""
        fields = ("pk", "signed_at", "children_named", "carer__surname", "carer__forename", "version__number", "pdf__file")
        return [
            ZipRow(pk, signed_at, children or [], Named(surname, forename), Numbered(number), pdf_file or "")
            for pk, signed_at, children, surname, forename, number, pdf_file in (
                self.filters.declarations(self.school).values_list(*fields)
            )
        ]

    def count(self) -> int:
        return self.filters.declarations(self.school).count()

    def write_to(self, file, *, progress: Callable[[int, int], None] | None = None) -> int:
        """Write the ZIP to an open binary file; call progress(done, total) as it goes. Returns
        how many PDFs it holds."""
        rows = self.rows()
        total = len(rows)
        pupils = pupils_named(rows)
        storage = DeclarationPdf._meta.get_field("file").storage
        names: set[str] = set()
        done = 0
        if progress:
            progress(0, total)
        with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
            for row in rows:
                stored = row.pdf_file or declaration_pdf_issue(declaration_id=row.pk).file.name
                info = zipfile.ZipInfo(unique_name(pdf_name(row, pupils), names), date_time=_zip_time(row.signed_at))
                info.compress_type = zipfile.ZIP_STORED
                with storage.open(stored, "rb") as source, archive.open(info, "w") as target:
                    for chunk in iter(lambda: source.read(256 * 1024), b""):
                        target.write(chunk)
                done += 1
                if progress and (done % PROGRESS_EVERY == 0 or done == total):
                    progress(done, total)
        return done

    def render(self) -> tuple[str, str, bytes]:
        with tempfile.TemporaryFile() as file:
            self.write_to(file)
            file.seek(0)
            return self.filename(), self.content_type, file.read()


@dataclass(frozen=True)
class Named:
    surname: str
    forename: str


@dataclass(frozen=True)
class Numbered:
    number: int


@dataclass(frozen=True)
class ZipRow:
    """One declaration as the ZIP needs it; named like a Declaration's, for pdf_name."""

    pk: int
    signed_at: datetime.datetime
    children_named: list
    carer: Named
    version: Numbered
    pdf_file: str  # the stored PDF's name, "" when it has not been made yet


def _zip_time(moment: datetime.datetime) -> tuple:
    local = timezone.localtime(moment, timezone=UK)
    return (max(local.year, 1980), local.month, local.day, local.hour, local.minute, local.second)


def pupils_named(declarations: Iterable[Declaration | ZipRow]) -> dict[int, Pupil]:
    ids = {child.get("id") for declaration in declarations for child in (declaration.children_named or [])}
    pupils = Pupil.objects.filter(pk__in=[i for i in ids if i]).only("surname", "forename")
    return {pupil.pk: pupil for pupil in pupils}


def pdf_name(declaration: Declaration | ZipRow, pupils: dict[int, Pupil]) -> str:
    """<carer surname>-<carer forename>-<first child surname>-<first child forename>-v<N>.pdf,
    slugified (ASCII letters, digits and dashes)."""
    carer = declaration.carer
    parts = [carer.surname, carer.forename]
    children = declaration.children_named or []
    if children:
        first = children[0]
        pupil = pupils.get(first.get("id"))
        parts += [pupil.surname, pupil.forename] if pupil else [first.get("name", "")]
    stem = "-".join(slug for slug in (slugify(part) for part in parts) if slug) or f"declaration-{declaration.pk}"
    return f"{stem[:150]}-v{declaration.version.number}.pdf"


def unique_name(name: str, used: set[str]) -> str:
    """`name`, or name-2.pdf, name-3.pdf… if it is taken already; remembered in `used`."""
    stem, dot, extension = name.rpartition(".")
    candidate, n = name, 1
    while candidate in used:
        n += 1
        candidate = f"{stem}-{n}{dot}{extension}"
    used.add(candidate)
    return candidate


EXPORTERS = {"zip": DeclarationsZip, "csv": RegisterCsv, "xlsx": RegisterXlsx}


# The background export (a ZIP of PDFs, with progress).


def export_request(*, school: Organisation, filters: DeclarationFilters, user) -> Export:
    """Record staff's request for a ZIP of PDFs and queue its building once this commits."""
    from django.db import transaction

    export = Export.objects.create(
        school=school,
        requested_by=user if getattr(user, "is_authenticated", False) else None,
        filters=filters.as_dict(),
        description=filters.describe(),
        total=DeclarationsZip(school, filters=filters).count(),
    )
    transaction.on_commit(lambda: build_export.enqueue(export.pk))
    return export


def export_build(*, export_id: int) -> str:
    """Build the export's ZIP through a temporary file into storage, recording progress.

    Safe to run again (a retried or repeated task): a finished export is left alone; an
    unfinished one is built afresh. A failure is recorded on the export, for the page to show.
    """
    export = Export.objects.select_related("school").get(pk=export_id)
    if export.status in {Export.Status.DONE, Export.Status.EXPIRED}:
        return export.status
    now = timezone.now()
    Export.objects.filter(pk=export.pk).update(status=Export.Status.RUNNING, started_at=now, done=0, error="")
    exporter = DeclarationsZip(export.school, filters=DeclarationFilters.from_dict(export.filters))

    written = time.monotonic()

    def progress(done: int, total: int) -> None:
        """Progress for the page to show, at most once a second: when the PDFs exist already, a
        thousand are copied in a fraction of a second, and writing the count 40 times cost as
        much as the copying."""
        nonlocal written
        if done < total and time.monotonic() - written < PROGRESS_SECONDS:
            return
        Export.objects.filter(pk=export.pk).update(done=done, total=total)
        written = time.monotonic()

    try:
        with tempfile.TemporaryFile() as file:
            count = exporter.write_to(file, progress=progress)
            file.seek(0)
            name = default_storage.save(f"exports/{export.school_id}/{uuid.uuid4().hex}.zip", File(file))
    except Exception as error:  # recorded for staff to see; the worker's log has the traceback
        logger.exception("Export %s failed", export.pk)
        Export.objects.filter(pk=export.pk).update(
            status=Export.Status.FAILED, error=f"{type(error).__name__}: {error}"[:1000], finished_at=timezone.now()
        )
        return Export.Status.FAILED
    Export.objects.filter(pk=export.pk).update(
        status=Export.Status.DONE, file=name, done=count, total=count, finished_at=timezone.now()
    )
    return Export.Status.DONE


def export_download_name(export: Export) -> str:
    return f"declarations-{export.school.slug}-{timezone.localtime(export.created_at, timezone=UK):%Y-%m-%d-%H%M}.zip"


@task()
def build_export(export_id: int) -> str:
    """Build one export's ZIP of declaration PDFs, rendering any PDF not made yet."""
    return export_build(export_id=export_id)
