"""manage.py send_invitations SCHOOL_SLUG [--year Y | --reg R | --carer ID] [--wait]

Invites carers to sign the school's version in force, through the same service as the staff
page (sending/invitations.py): nobody already invited is e-mailed again. Without --wait the
e-mails go from the background worker (`manage.py db_worker`, which `make run` starts); with
--wait they are sent here and now, so it works without a worker.
"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from schools.models import Organisation
from sending import invitations, outbox


def _plural(n, one, many=None):
    return f"{n} {one if n == 1 else (many or one + 's')}"


class Command(BaseCommand):
    help = "Invite a school's parents and carers to sign its code of conduct (version in force)."

    def add_arguments(self, parser):
        parser.add_argument("school_slug", metavar="SCHOOL_SLUG")
        audience = parser.add_mutually_exclusive_group()
        audience.add_argument("--year", metavar="Y", help="Only carers of pupils in this year group (e.g. 5, R, N).")
        audience.add_argument("--reg", metavar="R", help="Only carers of pupils in this registration group (e.g. 5B).")
        audience.add_argument("--carer", metavar="ID", type=int, help="Only this carer (their id in the portal).")
        parser.add_argument(
            "--wait", action="store_true", help="Send the e-mails now, in this process, instead of by the worker."
        )

    def handle(self, *args, school_slug, year, reg, carer, wait, **options):
        school = Organisation.objects.filter(slug=school_slug, kind=Organisation.Kind.SCHOOL).first()
        if school is None:
            known = ", ".join(Organisation.objects.filter(kind=Organisation.Kind.SCHOOL).values_list("slug", flat=True))
            raise CommandError(f"There is no school with the slug “{school_slug}”. Schools: {known or 'none yet'}.")
        if year:
            audience = ("year", year)
        elif reg:
            audience = ("reg", reg)
        elif carer is not None:
            audience = ("carer", carer)
        else:
            audience = "all-unsigned"
        try:
            batch = invitations.invitations_send(school=school, audience=audience, user=None, enqueue=not wait)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None

        summary = batch.summary
        self.stdout.write(
            f"{school.name}, version {summary.version.number}: {batch.audience_description} (batch {batch.pk})."
        )
        self.stdout.write(f"  {_plural(summary.to_send, 'invitation')} queued")
        self.stdout.write(f"  {_plural(summary.already_invited, 'carer')} already invited (not e-mailed again)")
        paper = len(summary.needs_paper_form)
        need = "needs" if paper == 1 else "need"
        self.stdout.write(f"  {_plural(paper, 'carer')} with no e-mail address that works {need} a paper form")
        for paper in summary.needs_paper_form:
            self.stdout.write(f"    - {paper.full_name} (id {paper.pk})")
        if not summary.to_send:
            return
        if not wait:
            self.stdout.write("The background worker sends them (manage.py db_worker; make run starts one).")
            return
        try:
            result = outbox.outbox_send_pending(batch_id=batch.pk)
        except outbox.MailServerUnavailable as error:
            raise CommandError(
                f"The mail server failed: {error}. The e-mails not yet sent stay queued, and the background "
                "worker (manage.py db_worker) tries again in a minute."
            ) from None
        self.stdout.write(
            f"Sent {result['sent']}; failed {result['failed']}; not sent (signed, declined or left since) "
            f"{result['skipped']}."
        )
        if result["failed"]:
            self.stdout.write("See the batch page in the portal for each failure; you can send those again there.")
