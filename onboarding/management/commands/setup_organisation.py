"""manage.py setup_organisation: the first school or association of a new deployment, and an
invitation e-mailed to its first headteacher (or association admin). No Django admin needed.

    manage.py setup_organisation                      # asks for each detail
    manage.py setup_organisation --kind school --name "Whitefield Primary School" \\
        --email head@whitefield.sch.uk [--slug whitefield-primary] [--association halton-primary]
"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email
from django.db import transaction

from onboarding.emails import send_staff_invitation
from onboarding.models import StaffInvitation
from onboarding.organisations import organisation_create, unique_slug
from schools.models import Organisation

Kind = Organisation.Kind


class Command(BaseCommand):
    help = "Create a school or association and e-mail its first headteacher (or admin) an invitation."

    def add_arguments(self, parser):
        parser.add_argument("--kind", choices=[Kind.SCHOOL, Kind.ASSOCIATION], help="school or association")
        parser.add_argument("--name", help='e.g. "Whitefield Primary School"')
        parser.add_argument("--slug", help="its web address, /schools/SLUG/ (made from the name if not given)")
        parser.add_argument("--association", metavar="SLUG", help="the association a school belongs to, if any")
        parser.add_argument("--email", help="the first headteacher's (or association admin's) e-mail address")
        parser.add_argument("--job-title", default="", help='the first headteacher\'s job title, e.g. "Headteacher"')
        parser.add_argument("--no-input", action="store_true", help="never ask: fail if a detail is missing")

    def handle(self, *args, **options):
        self.interactive = not options["no_input"]
        kind = options["kind"] or self._ask("School or association? [school]", default=Kind.SCHOOL,
                                             check=lambda v: v in (Kind.SCHOOL, Kind.ASSOCIATION), what="--kind")
        name = options["name"] or self._ask("Name", what="--name")
        slug = options["slug"] or self._ask(f"Web address /schools/…/ [{unique_slug(name)}]",
                                            default=unique_slug(name), what="--slug")
        association = None
        association_slug = options["association"]
        if association_slug is None and kind == Kind.SCHOOL and self.interactive and Organisation.objects.filter(
            kind=Kind.ASSOCIATION
        ).exists():
            association_slug = self._ask("Association it belongs to (its slug; empty for none)", default="")
        if association_slug:
            association = Organisation.objects.filter(slug=association_slug, kind=Kind.ASSOCIATION).first()
            if association is None:
                raise CommandError(f"There is no association with the slug “{association_slug}”.")
        first = "headteacher" if kind == Kind.SCHOOL else "association admin"
        email = options["email"] or self._ask(f"E-mail address of its first {first}", what="--email")
        try:
            validate_email(email)
        except ValidationError:
            raise CommandError(f"“{email}” is not an e-mail address.") from None
        try:
            with transaction.atomic():
                organisation, invitation = organisation_create(
                    user=None, kind=kind, name=name, slug=slug, association=association,
                    first_email=email, job_title=options["job_title"],
                )
                # Sent now, so a new deployment needs no worker yet (the queued task then finds it
                # sent); if it cannot be sent, nothing is created and the command can run again.
                send_staff_invitation.call(invitation.pk)
                invitation.refresh_from_db()
                if invitation.email_status != StaffInvitation.EmailStatus.SENT:
                    raise CommandError(
                        f"The invitation to {email} could not be e-mailed: {invitation.email_error} "
                        "Nothing was created. Check the e-mail settings (README, Configuration) and run this again."
                    )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(f"Created {organisation.get_kind_display().lower()} {organisation.name} (/schools/{organisation.slug}/).")
        self.stdout.write(self.style.SUCCESS(
            f"Invitation e-mailed to {email}: the link works once, for 7 days, to choose a password and set up "
            "an authenticator app."
        ))

    def _ask(self, question, *, default=None, check=None, what=""):
        if not self.interactive:
            if default is not None:
                return default
            raise CommandError(f"{what} is required with --no-input.")
        while True:
            answer = input(f"{question}: ").strip() or (default or "")
            if answer and (check is None or check(answer)):
                return answer
            if default == "" and not answer:
                return ""
            self.stderr.write("Please answer.")
