"""How long a declaration PDF takes to render and seal, and a ZIP of 1,000 stored PDFs to export.

1. Seconds per PDF rendered and sealed: declarations.pdf.declaration_pdf_issue for N separate
   declarations (WeasyPrint, then pyHanko's seal, then storage and the database row), timed one
   by one; the median of --renders (5) is reported.
2. Seconds to export --pdfs (1,000) stored PDFs as a ZIP: the export task's work
   (declarations.exports.export_build: the query, every stored PDF copied into a ZIP through a
   temporary file, the ZIP saved to storage, progress recorded); the median of --zips (3) runs.

The PDFs a ZIP is made of already exist when it is asked for (they are rendered as each
declaration is recorded). By default the 1,000 are real sealed PDFs of this code, made by
copying the ones rendered in step 1 with a line appended to each, so every stored file and hash
is distinct and of the real size; with --render-all every one is rendered and sealed for real
(about 1,000 × the time per PDF). The ZIP's work (reading and copying bytes) is the same either way.

Everything happens in a throwaway test database (test_<name>, created and dropped here, like the
test suite's) and a temporary directory for the files; nothing of yours is touched.

    .venv/bin/python bench/pdf_and_zip.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal .venv/bin/python bench/pdf_and_zip.py --render-all
"""

import argparse
import datetime
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import setup_databases, setup_test_environment, teardown_databases  # noqa: E402


def families(school, version, n: int):
    """n carers with one child each, and each one's online declaration (made as the service
    makes them, in bulk: the bench is about PDFs, not signing)."""
    from declarations.models import Declaration
    from declarations.services import statement_for
    from schools.models import Carer, Pupil, PupilCarer

    pupils = Pupil.objects.bulk_create(
        Pupil(school=school, mis_id=f"P{i:05d}", forename=f"Child{i}", surname=f"Family{i}", year_group="5", reg_group="5A")
        for i in range(n)
    )
    carers = Carer.objects.bulk_create(
        Carer(school=school, mis_id=f"C{i:05d}", forename=f"Parent{i}", surname=f"Family{i}", email=f"p{i}@example.org")
        for i in range(n)
    )
    PupilCarer.objects.bulk_create(PupilCarer(pupil=p, carer=c, parental_responsibility=True) for p, c in zip(pupils, carers))
    now = django.utils.timezone.now()
    return Declaration.objects.bulk_create(
        Declaration(
            school=school,
            carer=carer,
            version=version,
            version_fingerprint=version.fingerprint,
            carer_name=carer.full_name,
            children_named=[{"id": pupil.pk, "name": pupil.full_name}],
            statement=statement_for(carer=carer, version=version, children=[pupil]),
            typed_name=carer.full_name,
            agreed=True,
            signed_at=now,
            ip_address="203.0.113.9",
            user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Safari/604.1",
            method="online",
        )
        for carer, pupil in zip(carers, pupils)
    )


def copies_of(real_records, declarations):
    """Stored PDFs for `declarations`: the real sealed PDFs, each with a line appended."""
    import hashlib

    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from declarations.models import DeclarationPdf
    from declarations.pdf import new_verification_code

    originals = []
    for record in real_records:
        with record.file.open("rb") as file:
            originals.append((file.read(), record.certificate_fingerprint))
    rows = []
    for i, declaration in enumerate(declarations):
        data, fingerprint = originals[i % len(originals)]
        data = data + f"%bench copy {i}\n".encode()
        name = default_storage.save(f"declarations/{declaration.school_id}/bench/{i:05d}.pdf", ContentFile(data))
        rows.append(
            DeclarationPdf(
                declaration=declaration,
                file=name,
                sha256=hashlib.sha256(data).hexdigest(),
                verification_code=new_verification_code(),
                size=len(data),
                rendered_at=django.utils.timezone.now(),
                certificate_fingerprint=fingerprint,
            )
        )
    DeclarationPdf.objects.bulk_create(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=5, help="PDFs rendered and sealed one by one (default 5)")
    parser.add_argument("--pdfs", type=int, default=1000, help="stored PDFs in the ZIP (default 1,000)")
    parser.add_argument("--zips", type=int, default=3, help="ZIP exports timed (default 3)")
    parser.add_argument("--render-all", action="store_true", help="render and seal every PDF for real")
    options = parser.parse_args()

    from codes import services
    from codes.models import Code
    from declarations import exports
    from declarations.models import Export
    from declarations.pdf import declaration_pdf_issue
    from schools.models import Organisation

    workdir = Path(tempfile.mkdtemp(prefix="bench-pdf-"))
    settings.MEDIA_ROOT = workdir / "media"
    settings.PORTAL_SIGNING_DIR = workdir / "signing"
    settings.PORTAL_SIGNING_CERT = ""
    setup_test_environment()
    databases = setup_databases(verbosity=0, interactive=False)
    try:
        print(f"database: {connection.vendor}; files: {workdir}")
        school = Organisation.objects.create(kind="school", name="Bench Primary School", slug="bench-primary")
        code = Code.objects.create(owner=school)
        body = (Path(settings.BASE_DIR) / "codes" / "seed_data" / "alsop-high-body.md").read_text()  # a long real code
        first = services.version_create_first(code=code, user=None, body=body)
        version = services.version_publish(
            version=first, user=None, effective_from=django.utils.timezone.localdate() - datetime.timedelta(days=1)
        )
        declarations = families(school, version, max(options.pdfs, options.renders))

        declaration_pdf_issue(declaration_id=declarations[-1].pk)  # warm up: fonts, the seal's key
        timings, real = [], []
        for declaration in declarations[: options.renders]:
            started = time.perf_counter()
            real.append(declaration_pdf_issue(declaration_id=declaration.pk))
            timings.append(time.perf_counter() - started)
        size = statistics.median(record.size for record in real)
        print(
            f"render + seal + store one PDF: median {statistics.median(timings):.3f} s of {len(timings)} "
            f"({', '.join(f'{t:.3f}' for t in timings)}); {size / 1024:.0f} KiB each"
        )

        rest = [d for d in declarations[options.renders : options.pdfs] if d.pk != declarations[-1].pk]
        started = time.perf_counter()
        if options.render_all:
            for declaration in rest:
                declaration_pdf_issue(declaration_id=declaration.pk)
            print(f"rendered and sealed {len(rest)} more PDFs for real in {time.perf_counter() - started:.1f} s")
        else:
            copies_of(real, rest)
            print(f"stored {len(rest)} more sealed PDFs (copies of the real ones, each made unique)")

        zip_timings = []
        for _ in range(options.zips):
            export = exports.export_request(school=school, filters=exports.DeclarationFilters(), user=None)
            started = time.perf_counter()
            assert exports.export_build(export_id=export.pk) == Export.Status.DONE
            zip_timings.append(time.perf_counter() - started)
            export.refresh_from_db()
        print(
            f"export {export.total} stored PDFs as a ZIP: median {statistics.median(zip_timings):.2f} s of "
            f"{len(zip_timings)} ({', '.join(f'{t:.2f}' for t in zip_timings)}); ZIP {export.file.size / 1024 / 1024:.1f} MiB"
        )
    finally:
        teardown_databases(databases, verbosity=0)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
