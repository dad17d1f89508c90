"""Evidence at scale: one declaration PDF, a ZIP of 1,000 of them, and a worker's memory while it builds one.

    .venv/bin/python -m bench.evidence --db sqlite
    .venv/bin/python -m bench.evidence --db postgres --runs 5

Three figures, in a throwaway database and media folder (bench.common.start):

1. pdf-<db>: seconds to render and seal one declaration PDF through the portal's real path,
   evidence.pdf.declaration_pdf_issue (the template, WeasyPrint's tagged PDF/A-3a, pyHanko's
   seal, storage, the row), for declarations made as signing makes them (a request, an
   invitation e-mailed, the link opened). Floor: WeasyPrint alone writing a plain HTML document of
   the same text (the code, the statement, the facts and the trail, as headings and paragraphs,
   no Django template, no seal, no storage, no database) with the same write_pdf options; both
   come to 3 A4 pages, which the script checks. The ratio to WeasyPrint with its default options
   (an untagged PDF 1.7) is in the notes, with what PDF/A-3a itself costs.
2. zip-<db>: seconds to export 1,000 stored declaration PDFs as a ZIP through the export task's
   work (evidence.zip_exports.export_build: the query, every stored PDF copied into a ZIP,
   the ZIP saved to storage, progress recorded). Floor: `zipfile` writing the same stored files
   (ZIP_STORED, as the export does) into a temporary file.
3. worker-memory-<db>: the peak resident memory (VmHWM) of a real task worker
   (`manage.py db_worker`, django-tasks-db) while it builds that export, queued as staff queue it
   (services.export_request, in a transaction). A fresh worker each run; no floor; < 250 MB.

The 1,000 stored PDFs are real sealed PDFs of the same code: the ones rendered in step 1, copied
with a line appended to each so every stored file and hash is distinct and of the real size.
Reading and copying bytes, which is all an export does with them, is the same either way.
"""

from __future__ import annotations

import datetime
import hashlib
import html
import io
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from bench.common import (
    BASE_DIR,
    Check,
    Figure,
    Spread,
    arguments,
    families,
    figure_from_pairs,
    paired,
    record,
    start,
    stop,
    timed,
)

CODE_BODY = BASE_DIR / "codes" / "seed_data" / "whitefield-primary-body.md"
CODE_CHARS = 2550  # the first sections of a real code, as many as fit the 3 pages the issue names
BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1"
WORKER_LIMIT_MB = 250
EXPORTS_PER_RUN = 3
PAGES = 3


# The school and its signed declarations.


def code_text() -> str:
    """Whitefield Primary's code, whole paragraphs of it up to CODE_CHARS: with the facts,
    statement and trail before it, a 3-page PDF."""
    kept = []
    for paragraph in CODE_BODY.read_text().split("\n\n"):
        if sum(len(p) + 2 for p in kept) + len(paragraph) > CODE_CHARS:
            break
        kept.append(paragraph)
    return "\n\n".join(kept)


def school_with_declarations(n: int):
    """A school whose long code n carers have signed online, each after an e-mailed invitation
    and a first look at the link: the evidence trail a real declaration has. Made in bulk (this
    is about PDFs, not signing)."""
    import django.utils.timezone

    from codes import services
    from codes.models import Code
    from declarations.models import Declaration, SigningRequest
    from declarations.services import statement_for
    from schools.models import Organisation
    from sending.models import OutboxMessage

    school = Organisation.objects.create(kind="school", name="Bench High School", slug="bench-high", brand_colour="#7a1f3d")
    code = Code.objects.create(owner=school)
    first = services.version_create_first(code=code, user=None, body=code_text())
    version = services.version_publish(
        version=first, user=None, effective_from=django.utils.timezone.localdate() - datetime.timedelta(days=7)
    )
    pupils, carers = families(school, n, year_group="8", reg_group="8B")
    now = django.utils.timezone.now()
    invited, opened, signed = now - datetime.timedelta(days=3), now - datetime.timedelta(days=2), now - datetime.timedelta(days=1)
    requests = SigningRequest.objects.bulk_create(
        SigningRequest(school=school, carer=carer, version=version, sent_at=invited, opened_at=opened) for carer in carers
    )
    OutboxMessage.objects.bulk_create(
        OutboxMessage(
            school=school, carer=carer, version=version, kind=OutboxMessage.Kind.INVITATION,
            status=OutboxMessage.Status.SENT, sent_at=invited, to_address=carer.email,
        )
        for carer in carers
    )
    declarations = Declaration.objects.bulk_create(
        Declaration(
            school=school, carer=carer, version=version, version_fingerprint=version.fingerprint, request=request,
            carer_name=carer.full_name, children_named=[{"id": pupil.pk, "name": pupil.full_name}],
            statement=statement_for(carer=carer, version=version, children=[pupil]), typed_name=carer.full_name,
            agreed=True, signed_at=signed, ip_address="203.0.113.9", user_agent=BROWSER, method="online",
        )
        for carer, pupil, request in zip(carers, pupils, requests)
    )
    return school, declarations


def stored_copies(real_records, declarations) -> None:
    """A stored PDF for each of `declarations`: a real sealed one, with a line appended so
    every file and hash is distinct."""
    import django.utils.timezone
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from evidence.models import DeclarationPdf
    from evidence.pdf import new_verification_code

    originals = []
    for pdf in real_records:
        with pdf.file.open("rb") as file:
            originals.append((file.read(), pdf.certificate_fingerprint))
    rows = []
    for i, declaration in enumerate(declarations):
        data, fingerprint = originals[i % len(originals)]
        data += f"%bench copy {i}\n".encode()
        name = default_storage.save(f"declarations/{declaration.school_id}/bench/{i:05d}.pdf", ContentFile(data))
        rows.append(DeclarationPdf(
            declaration=declaration, file=name, sha256=hashlib.sha256(data).hexdigest(),
            verification_code=new_verification_code(), size=len(data), rendered_at=django.utils.timezone.now(),
            certificate_fingerprint=fingerprint,
        ))
    DeclarationPdf.objects.bulk_create(rows)


# 1. One PDF.


def plain_document(declaration) -> str:
    """The floor's document: the same text as the portal's PDF of `declaration` (its facts,
    statement, signature, trail, the verification text and the whole code), as plain headings,
    paragraphs and lists. A4 and the portal's body size, so that the same text makes the same
    3 pages; no template, no stylesheet of ours, no images."""
    from codes.markup import render_markdown
    from evidence import pdf

    context = pdf.pdf_context(declaration, verification_code="ABCDEFGHIJ", rendered_at=declaration.signed_at)
    version, school = context["version"], context["school"]
    facts = [
        ("School", school.name), ("Parent or carer", declaration.carer_name), ("Children named", ", ".join(context["children"])),
        ("Code signed", version.title), ("Version", f"Version {version.number}"), ("Effective from", str(version.effective_from)),
        ("Fingerprint (SHA-256) of the version signed", declaration.version_fingerprint),
        ("How", declaration.get_method_display()), ("Signed", f"{context['signed'].utc} {context['signed'].uk} (UK time)"),
        ("Verification code", context["code_display"]), ("Typed signature", declaration.typed_name),
        ("Agreement", 'Ticked "I agree" and submitted the form'), ("Time (UTC)", context["signed"].utc),
        ("Time (UK)", context["signed"].uk), ("IP address", declaration.ip_address), ("Browser", declaration.user_agent),
    ]
    parts = [
        '<!doctype html><html lang="en-GB"><head><meta charset="utf-8"><title>Declaration</title>',
        "<style>@page { size: A4; margin: 18mm 16mm 20mm } html { font: 9.5pt/1.4 sans-serif }</style></head><body>",
        f"<p>{html.escape(school.name)}</p><h1>Parent and carer declaration</h1>",
        f"<p>{html.escape(version.title)}, version {version.number}: signed online by {html.escape(declaration.carer_name)}.</p>",
        "<h2>Summary</h2>",
        *(f"<p><b>{html.escape(label)}</b>: {html.escape(str(value))}</p>" for label, value in facts),
        "<h2>The declaration, as shown to the parent or carer</h2>", str(render_markdown(declaration.statement)),
        "<h2>Evidence trail</h2>",
        *(f"<p>{event.moment.utc}; {event.moment.uk}: {html.escape(event.what)}</p>" for event in context["trail"]),
        "<h2>Check this document</h2>",
        f"<p>Verification code: {context['code_display']}</p>",
        f"<p>To check that this is an unaltered declaration issued by the portal, go to {context['verify_page']} and "
        "enter the code, or upload this PDF there; or scan the QR code.</p>",
        "<p>This PDF carries the portal's digital signature (a seal): any change to the file after it was issued breaks "
        "the seal, and the verification page then says it is not valid.</p>",
        f'<h2>The code of conduct signed: {html.escape(version.title)}, version {version.number}</h2>',
        str(render_markdown(version.body)),
        "</body></html>",
    ]
    return "".join(parts)


def pages(data: bytes) -> int:
    import pypdf

    return len(pypdf.PdfReader(io.BytesIO(data)).pages)


def pdf_figure(db: str, runs: int, per_run: int, declarations) -> tuple[Figure, list]:
    """Seconds per PDF, the portal's way and WeasyPrint's alone, `per_run` of each per run."""
    from weasyprint import HTML

    from evidence import pdf
    from evidence.models import DeclarationPdf

    queue = iter(declarations)
    document = plain_document(declarations[0])
    issued: list = []

    def portal_one() -> float:
        declaration = next(queue)
        seconds = timed(lambda: issued.append(pdf.declaration_pdf_issue(declaration_id=declaration.pk)))
        return seconds

    def floor_one(**options) -> tuple[float, bytes]:
        out = []
        seconds = timed(lambda: out.append(HTML(string=document).write_pdf(**options)))
        return seconds, out[0]

    # Warm up both (fonts, Pango, the seal's key): a worker has done this before its first PDF.
    portal_one()
    floor_one(pdf_variant=pdf.PDF_VARIANT)
    floor_one()

    default_runs: list[float] = []
    floor_bytes: list[bytes] = []

    def measure() -> float:
        return statistics.median(portal_one() for _ in range(per_run))

    def floor() -> float:
        tagged = []
        for _ in range(per_run):
            seconds, data = floor_one(pdf_variant=pdf.PDF_VARIANT)
            tagged.append(seconds)
            floor_bytes.append(data)
        default_runs.append(statistics.median(floor_one()[0] for _ in range(per_run)))
        return statistics.median(tagged)

    measured, floors = paired(measure, floor, runs)

    portal_pages = {pages(record.file.open("rb").read()) for record in issued}
    floor_pages = {pages(data) for data in floor_bytes}
    same = portal_pages == floor_pages == {PAGES}
    size = statistics.median(record.size for record in issued)
    default_ratio = Spread.of([m / d for m, d in zip(measured, default_runs)])
    pdfa_cost = Spread.of([f / d for f, d in zip(floors, default_runs)])
    notes = (
        f"{per_run} PDFs per run (median of each run's); a PDF is {size / 1024:.0f} KiB. Pages: portal "
        f"{sorted(portal_pages)}, floor {sorted(floor_pages)} ({'the same 3' if same else 'NOT the same 3'}). "
        f"The portal's PDFs are tagged PDF/A-3a, and the floor writes with the same option (pdf_variant="
        f"\"{pdf.PDF_VARIANT}\"). Against WeasyPrint with default options (untagged PDF, median "
        f"{statistics.median(default_runs):.3g} s) the ratio is {default_ratio.median:.2f}× (min {default_ratio.min:.2f}, "
        f"max {default_ratio.max:.2f}); PDF/A-3a itself costs {pdfa_cost.median:.2f}× WeasyPrint's default "
        f"(min {pdfa_cost.min:.2f}, max {pdfa_cost.max:.2f})."
    )
    figure = figure_from_pairs(
        measured=measured, floors=floors, id=f"pdf-{db}", title="One declaration PDF rendered and sealed", db=db,
        unit="s", floor_name="WeasyPrint alone, same-length 3-page document, same PDF/A-3a options",
        budget="≤ 1.3× floor", ratio_limit=1.3, higher_is_better=False, notes=notes,
    )
    assert DeclarationPdf.objects.count() == len(issued)
    figure.checks.append(Check("portal and floor both 3 pages", PAGES if same else 0, PAGES, "pages", below=False))
    return figure, issued


# 2. The ZIP.


def zip_figure(db: str, runs: int, school) -> Figure:
    from django.conf import settings

    from evidence import services, zip_exports
    from evidence.exports import DeclarationFilters
    from evidence.models import DeclarationPdf, Export

    paths = [Path(settings.MEDIA_ROOT) / name for name in DeclarationPdf.objects.filter(declaration__school=school).values_list("file", flat=True)]
    sizes = []

    def export_once() -> float:
        export = services.export_request(user=None, school=school, filters=DeclarationFilters())
        seconds = timed(lambda: zip_exports.export_build(export_id=export.pk))
        export.refresh_from_db()
        assert export.status == Export.Status.DONE and export.done == len(paths), (export.status, export.error)
        sizes.append(export.file.size)
        export.file.delete(save=False)  # keep the media folder small
        return seconds

    def zip_once() -> float:
        def write():
            with tempfile.TemporaryFile() as file, zipfile.ZipFile(file, "w", compression=zipfile.ZIP_STORED) as archive:
                for i, path in enumerate(paths):
                    archive.write(path, f"{i:05d}.pdf")

        return timed(write)

    # Each takes a fraction of a second: the median of EXPORTS_PER_RUN of each is one run's value.
    measured, floors = paired(
        lambda: statistics.median(export_once() for _ in range(EXPORTS_PER_RUN)),
        lambda: statistics.median(zip_once() for _ in range(EXPORTS_PER_RUN)),
        runs,
    )

    return figure_from_pairs(
        measured=measured, floors=floors, id=f"zip-{db}", title=f"ZIP export of {len(paths):,} stored declaration PDFs",
        db=db, unit="s", floor_name="zipfile writing the same files (stored, not compressed) to a temporary file",
        budget="≤ 3× floor", ratio_limit=3, higher_is_better=False,
        notes=f"{len(paths):,} PDFs, ZIP {statistics.median(sizes) / 1024 / 1024:.0f} MiB; each run's value is the median of "
        f"{EXPORTS_PER_RUN} exports (and of {EXPORTS_PER_RUN} floor ZIPs). The export's time includes the query, its "
        "progress, and saving the finished ZIP to storage (a second copy on the file system).",
    )


# 3. A worker's peak memory.


def tree_peak_kb(pid: int) -> int:
    """VmHWM of the process and of its children (summed: they would all be resident at once)."""
    total = 0
    for each in [pid, *children(pid)]:
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def children(pid: int) -> list[int]:
    found = []
    try:
        direct = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return found
    for child in map(int, direct):
        found += [child, *children(child)]
    return found


def worker_figure(db: str, runs: int, school, env: dict[str, str]) -> Figure:
    from django.db import transaction
    from django_tasks_db.models import DBTaskResult

    from evidence import services
    from evidence.exports import DeclarationFilters
    from evidence.models import Export

    DBTaskResult.objects.all().delete()  # the zip figure's exports were built in this process
    peaks, seconds = [], []
    for run in range(runs):
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "db_worker", "--no-reload", "--no-startup-delay", "--interval", "0.1", "-v", "0"],
            cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        try:
            with transaction.atomic():  # as the export page does: the task is queued when this commits
                export = services.export_request(user=None, school=school, filters=DeclarationFilters())
            started, peak = time.perf_counter(), 0
            while True:
                peak = max(peak, tree_peak_kb(worker.pid))
                status = Export.objects.filter(pk=export.pk).values_list("status", flat=True).get()
                if status in {Export.Status.DONE, Export.Status.FAILED}:
                    break
                if worker.poll() is not None:
                    raise SystemExit(f"The worker stopped: {worker.stderr.read()}")
                if time.perf_counter() - started > 300:
                    raise SystemExit("The export took over 5 minutes in the worker.")
                time.sleep(0.02)
            peak = max(peak, tree_peak_kb(worker.pid))
            assert status == Export.Status.DONE, Export.objects.get(pk=export.pk).error
        finally:
            stop(worker, timeout=20)
        Export.objects.get(pk=export.pk).file.delete(save=False)
        peaks.append(peak / 1024)
        seconds.append(time.perf_counter() - started)
        print(f"  run {run + 1}/{runs}: worker peak {peaks[-1]:.0f} MB; export done in {seconds[-1]:.1f} s", flush=True)
    spread = Spread.of(peaks)
    return Figure(
        id=f"worker-memory-{db}", title="Peak memory of a worker building the 1,000-PDF export", db=db, unit="MB",
        floor_name="none", measured=spread, floor=None, ratio=None, budget=f"< {WORKER_LIMIT_MB} MB",
        checks=[Check("peak RSS (median)", spread.median, WORKER_LIMIT_MB, "MB")],
        notes=f"manage.py db_worker (a fresh process each run, and its children if any): VmHWM polled every 20 ms until "
        "the export was done. The PDFs were stored already (as they are, rendered when each declaration is made), so the "
        "worker copies them: it renders none. "
        f"Median {spread.median:.0f} MB (min {spread.min:.0f}, max {spread.max:.0f}) of {runs} runs; "
        f"the export took {statistics.median(seconds):.1f} s in the worker, from the request to done.",
    )


# The library frames a profile shows (the rest are folded away): where WeasyPrint and pyHanko spend.
SHOWN = r".*(weasyprint/(__init__|document|pdf/__init__|pdf/fonts|layout/__init__|draw/__init__)|pyhanko/sign/signers/pdf_signer)\.py"


def profile(declarations, n: int) -> None:
    """Print pyinstrument's profile of n PDFs the portal's way, then n of the floor's."""
    from pyinstrument import Profiler
    from weasyprint import HTML

    from evidence import pdf

    document = plain_document(declarations[-1])
    pdf.declaration_pdf_issue(declaration_id=declarations[-1].pk)  # warm up, as pdf_figure does
    HTML(string=document).write_pdf(pdf_variant=pdf.PDF_VARIANT)
    for name, work in (
        ("portal: declaration_pdf_issue", lambda: [pdf.declaration_pdf_issue(declaration_id=d.pk) for d in declarations[:n]]),
        ("floor: WeasyPrint alone", lambda: [HTML(string=document).write_pdf(pdf_variant=pdf.PDF_VARIANT) for _ in range(n)]),
    ):
        profiler = Profiler(interval=0.001)
        profiler.start()
        work()
        profiler.stop()
        print(f"\n{name}, {n} PDFs")
        print(profiler.output_text(unicode=True, processor_options={"filter_threshold": 0.02, "show_regex": SHOWN}))


def main():
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--pdfs", type=int, default=1000, help="stored PDFs in the ZIP (default 1,000)")
    parser.add_argument("--per-run", type=int, default=3, help="PDFs rendered per run, and floor documents (default 3)")
    parser.add_argument("--only", choices=["pdf", "zip", "worker"], action="append", help="just these figures")
    parser.add_argument("--profile", type=int, metavar="N", help="record nothing: profile N PDFs and N floor PDFs")
    options = parser.parse_args()
    only = set(options.only or ["pdf", "zip", "worker"])
    env = start(options.db)
    logging.getLogger("weasyprint").setLevel(logging.ERROR)  # "Using fontTools instead of HarfBuzz-Subset", each font of each PDF
    os.chdir(BASE_DIR)

    if options.profile:
        profile(school_with_declarations(options.profile + 1)[1], options.profile)
        return
    rendered = options.runs * options.per_run + 1
    school, declarations = school_with_declarations(max(options.pdfs, rendered))
    print(f"evidence on {options.db}: {len(declarations):,} declarations of a {len(code_text()):,}-character code", flush=True)
    figure, issued = pdf_figure(options.db, options.runs, options.per_run, declarations[:rendered])
    if "pdf" in only:
        record(figure)
    if only & {"zip", "worker"}:
        stored_copies(issued, declarations[rendered:options.pdfs])
        if "zip" in only:
            record(zip_figure(options.db, options.runs, school))
        if "worker" in only:
            record(worker_figure(options.db, options.runs, school, env))


if __name__ == "__main__":
    main()
