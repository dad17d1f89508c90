"""manage.py export_declarations SCHOOL_SLUG --format zip|csv|xlsx --out FILE [--version N]
                                [--year Y] [--reg R] [--from YYYY-MM-DD] [--to YYYY-MM-DD]

The same services as the staff pages (evidence/services.py), run here and now: a ZIP of the
chosen declarations' sealed PDFs (any not rendered yet are rendered first), or the register as
CSV or Excel. Recorded in the school's audit log as an export from the command line.
"""

import datetime
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from evidence.exports import DeclarationFilters
from evidence.services import declarations_zip_write, register_export
from schools.models import Organisation

SOURCE = "command line"


def _day(text):
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"“{text}” is not a date: use YYYY-MM-DD.") from None


class Command(BaseCommand):
    help = "Export a school's declarations: a ZIP of their PDFs, or a register (CSV or Excel)."

    def add_base_argument(self, parser, *args, **kwargs):
        if "--version" in args:
            return  # here --version N chooses the code's version, not "show Django's version"
        super().add_base_argument(parser, *args, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("school_slug", metavar="SCHOOL_SLUG")
        parser.add_argument("--format", choices=["zip", "csv", "xlsx"], required=True)
        parser.add_argument("--out", metavar="FILE", required=True, help="Where to write it.")
        parser.add_argument("--version", dest="version_number", type=int, metavar="N", help="Only this version.")
        parser.add_argument("--year", default="", metavar="Y", help="Only carers of pupils in this year group.")
        parser.add_argument("--reg", default="", metavar="R", help="Only carers of pupils in this registration group.")
        parser.add_argument("--from", dest="signed_from", metavar="DATE", help="ZIP: signed on or after (YYYY-MM-DD).")
        parser.add_argument("--to", dest="signed_to", metavar="DATE", help="ZIP: signed on or before (YYYY-MM-DD).")

    def handle(self, *args, school_slug, format, out, version_number, year, reg, signed_from, signed_to, **options):
        school = Organisation.objects.filter(slug=school_slug, kind=Organisation.Kind.SCHOOL).first()
        if school is None:
            known = ", ".join(Organisation.objects.filter(kind=Organisation.Kind.SCHOOL).values_list("slug", flat=True))
            raise CommandError(f"There is no school with the slug “{school_slug}”. Schools: {known or 'none yet'}.")
        filters = DeclarationFilters(
            version=version_number,
            year_group=year.strip(),
            reg_group=reg.strip(),
            signed_from=_day(signed_from) if signed_from else None,
            signed_to=_day(signed_to) if signed_to else None,
        )
        started = time.monotonic()
        try:
            if format == "zip":
                with open(out, "wb") as file:
                    count = declarations_zip_write(user=None, school=school, filters=filters, file=file, source=SOURCE)
                what = f"{count} declaration PDF{'s' if count != 1 else ''}"
            else:
                with transaction.atomic():  # a register that cannot be written is not recorded as exported
                    download = register_export(
                        user=None, school=school, file_format=format, filters=filters, source=SOURCE
                    )
                    if download is None:
                        raise CommandError(f"{school.name} has no such version of its code.")
                    with open(out, "wb") as file:
                        file.write(download.content)
                what = f"the register ({format.upper()}, {len(download.content):,} bytes)"
        except OSError as error:
            raise CommandError(f"Cannot write {out}: {error.strerror}.") from None
        self.stdout.write(f"Wrote {what} for {school.name} to {out} in {time.monotonic() - started:.2f} s.")
