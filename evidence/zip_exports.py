"""A ZIP of a school's declarations' sealed PDFs, built in the background with its progress shown.

    DeclarationsZip(school, filters=DeclarationFilters(version=2)).write_to(file, progress=...)
    build_export.enqueue(export.pk)  # evidence.services.export_request queues it

The ZIP is written straight to a file (`write_to`), so an export of thousands of PDFs streams
through a temporary file and never holds the ZIP in memory.
"""

from __future__ import annotations

import datetime
import logging
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.tasks import task
from django.utils import timezone
from django.utils.text import slugify

from declarations.models import Declaration
from evidence.exports import DeclarationFilters, Exporter
from evidence.models import DeclarationPdf, Export
from evidence.pdf import UK, declaration_pdf_issue
from evidence.signals import export_ready
from schools.models import Pupil

logger = logging.getLogger(__name__)

PROGRESS_EVERY = 25  # look at the export's progress every this many PDFs…
PROGRESS_SECONDS = 1.0  # …and write it to the database if this long has passed since it was last written
EXPORT_KEEP_DAYS = 7  # a finished ZIP is deleted after this many days (retention.py)


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
        """The chosen declarations as plain values: only what naming and copying each PDF needs,
        never the version's full text."""
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
                info = zipfile.ZipInfo(unique_name(family_pdf_name(row, pupils), names), date_time=_zip_time(row.signed_at))
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
    """One declaration as the ZIP needs it; named like a Declaration's, for family_pdf_name."""

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


def family_pdf_name(declaration: Declaration | ZipRow, pupils: dict[int, Pupil]) -> str:
    """What staff's copy of a PDF is called, in a ZIP or downloaded on its own:
    <carer surname>-<carer forename>-<first child surname>-<first child forename>-v<N>.pdf,
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


# Built in the background, with progress.


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
        """Progress for the page to show, written at most once a second: stored PDFs are copied
        far faster than anyone reads the page, and each write is a database round trip."""
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
    with transaction.atomic():
        Export.objects.filter(pk=export.pk).update(
            status=Export.Status.DONE, file=name, done=count, total=count, finished_at=timezone.now()
        )
        export.refresh_from_db()
        export_ready.send(sender=Export, export=export)
    return Export.Status.DONE


def export_download_name(export: Export) -> str:
    return f"declarations-{export.school.slug}-{timezone.localtime(export.created_at, timezone=UK):%Y-%m-%d-%H%M}.zip"


@task()
def build_export(export_id: int) -> str:
    """Build one export's ZIP of declaration PDFs, rendering any PDF not made yet."""
    return export_build(export_id=export_id)
