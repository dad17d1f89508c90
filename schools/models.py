"""Organisations (associations and schools) and the staff who act for them."""

import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_otp.models import Device

from portal.languages import language_name

hex_colour = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Enter a colour as # and six hex digits, e.g. #1d4f91.")

MAX_REMINDERS = 3  # there are three reminder e-mails (declarations.models.OutboxMessage.Kind)


def parse_reminder_days(value: str) -> list[int]:
    """"3,7,14" as [3, 7, 14]. Raises ValueError unless it is 1 to 3 increasing whole numbers of
    days between 1 and 365."""
    days = [int(part) for part in value.replace(" ", "").split(",")] if value.strip() else []
    if not 1 <= len(days) <= MAX_REMINDERS or any(not 1 <= d <= 365 for d in days):
        raise ValueError(value)
    if any(later <= earlier for earlier, later in zip(days, days[1:])):
        raise ValueError(value)
    return days


def validate_sending_days(value: str) -> None:
    """Sending days: ISO weekday digits (1 Monday .. 7 Sunday), each at most once, at least one."""
    if not value or not set(value) <= set("1234567") or len(set(value)) != len(value):
        raise ValidationError("Give the days as digits, 1 for Monday to 7 for Sunday, each once (e.g. 123456).")


def validate_reminder_days(value: str) -> None:
    try:
        parse_reminder_days(value)
    except ValueError:
        raise ValidationError(
            "Enter up to three numbers of days after the invitation, smallest first, separated by commas, "
            "e.g. 3,7,14."
        ) from None


class Organisation(models.Model):
    """An association of schools, or a school (which may belong to one association)."""

    class Kind(models.TextChoices):
        ASSOCIATION = "association", "Association"
        SCHOOL = "school", "School"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    association = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="members",
        limit_choices_to={"kind": Kind.ASSOCIATION},
    )
    # Contact details, used in letters and on the public pages.
    address = models.TextField(blank=True, help_text="One line per line of the address.")
    phone = models.CharField(max_length=40, blank=True)
    email = models.EmailField(blank=True)
    website = models.URLField(blank=True)
    complaints_procedure_url = models.URLField(blank=True)
    # Simple branding.
    logo = models.ImageField(upload_to="logos/", blank=True)
    brand_colour = models.CharField(max_length=7, default="#1d4f91", validators=[hex_colour])
    # Settings a school chooses.
    link_valid_days = models.PositiveSmallIntegerField(
        "days a signing link works",
        default=60,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="How long each e-mailed link to sign works before the carer must ask for a new one.",
    )
    declaration_retention_years = models.PositiveSmallIntegerField(
        "years declarations are kept after a pupil leaves",
        default=6,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
        help_text=(
            "A carer's declarations are deleted this many years after the last of the children named "
            "in them left the school (never while any of their children is on roll)."
        ),
    )
    # Reminders and starters (sending/scheduler.py).
    reminder_days = models.CharField(
        "days after the invitation to remind",
        max_length=20,
        default="3,7,14",
        validators=[validate_reminder_days],
        help_text="Carers who have not signed are reminded this many days after their invitation, e.g. 3,7,14.",
    )
    max_reminders = models.PositiveSmallIntegerField(
        "reminders at most",
        default=3,
        validators=[MaxValueValidator(MAX_REMINDERS)],
        help_text="0 sends no reminders; never more than 3.",
    )
    # Sending hours (sending/hours.py): invitations and reminders wait for them.
    sending_hours_from = models.TimeField(
        "send invitations and reminders from",
        default=datetime.time(8, 0),
        help_text="UK time. The same time in both boxes means at any time of day.",
    )
    sending_hours_until = models.TimeField("until", default=datetime.time(19, 0))
    sending_days = models.CharField(
        "on days",
        max_length=7,
        default="123456",
        validators=[validate_sending_days],
        help_text="The days of the week, 1 for Monday to 7 for Sunday, e.g. 123456 for Monday to Saturday.",
    )
    invite_starters_automatically = models.BooleanField(
        "invite new families automatically",
        default=True,
        help_text="After an import, invite the carers of pupils who joined since the school sent its invitations.",
    )
    # Staff sign-in with the organisation's own accounts (onboarding/oidc.py).
    sign_in_provider = models.CharField(
        "staff sign in with",
        max_length=20,
        blank=True,
        choices=[("", "The portal's own password only"), ("microsoft", "Microsoft 365"), ("google", "Google Workspace")],
        help_text="Staff may also sign in with their school account from this provider.",
    )
    staff_email_domain = models.CharField(
        "staff e-mail domain",
        max_length=120,
        blank=True,
        validators=[RegexValidator(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$", "Enter a domain like whitefield.sch.uk.")],
        help_text="Only accounts with an address at this domain, e.g. whitefield.sch.uk, may sign in with the provider.",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="school") | Q(association__isnull=True),
                name="only_schools_belong_to_associations",
            ),
            models.CheckConstraint(
                condition=Q(sending_hours_from__lte=models.F("sending_hours_until")),
                name="sending_hours_start_before_they_end",
                violation_error_message="Sending hours must start before they end (or be the same for any time).",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def is_school(self):
        return self.kind == self.Kind.SCHOOL

    @property
    def reminder_cadence(self) -> list[int]:
        """The days after the invitation on which reminders are due, at most max_reminders of them."""
        try:
            days = parse_reminder_days(self.reminder_days)
        except ValueError:  # stored some other way than through the form: remind as by default
            days = [3, 7, 14]
        return days[: min(self.max_reminders, MAX_REMINDERS)]

    @property
    def is_association(self):
        return self.kind == self.Kind.ASSOCIATION


class ProviderSignIn(Device):
    """A sign-in with Microsoft or Google whose provider reported multi-factor authentication
    (its `amr` claim): the portal counts it as the session's second factor (schools/mfa.py).
    It has no secret and verifies no typed code; it exists so django-otp can mark the session."""

    provider = models.CharField(max_length=20)

    def verify_token(self, token):
        return False


class StaffRole(models.Model):
    """What one member of staff may do for one organisation."""

    class Role(models.TextChoices):
        HEADTEACHER = "headteacher", "Headteacher"
        OFFICE = "office", "Office staff"
        ASSOCIATION_ADMIN = "association_admin", "Association admin"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_roles")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="staff_roles")
    role = models.CharField(max_length=32, choices=Role.choices)
    job_title = models.CharField(max_length=120, blank=True)
    # Headteachers and association admins: the weekly completion e-mail (sending/staff_notices.py),
    # which each turns off or on for themselves (staff/account/weekly-email/).
    weekly_digest = models.BooleanField("weekly completion e-mail", default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organisation", "role"], name="one_role_per_user_and_organisation"),
        ]

    def __str__(self):
        return f"{self.user} — {self.get_role_display()}, {self.organisation}"

    def clean(self):
        from django.core.exceptions import ValidationError

        wants_association = self.role == self.Role.ASSOCIATION_ADMIN
        if self.organisation_id and self.organisation.is_association != wants_association:
            raise ValidationError(
                "Association admins act for an association; headteachers and office staff for a school."
            )


class Pupil(models.Model):
    """A child at a school, as the school's information system (MIS) exports them.

    Pupils are never deleted: one missing from a full import is marked as left, and comes back
    on roll if a later import lists them again. The import lives in schools/imports/.
    """

    class YearGroup(models.TextChoices):
        NURSERY = "N", "Nursery"
        RECEPTION = "R", "Reception"
        YEAR_1 = "1", "Year 1"
        YEAR_2 = "2", "Year 2"
        YEAR_3 = "3", "Year 3"
        YEAR_4 = "4", "Year 4"
        YEAR_5 = "5", "Year 5"
        YEAR_6 = "6", "Year 6"
        YEAR_7 = "7", "Year 7"
        YEAR_8 = "8", "Year 8"
        YEAR_9 = "9", "Year 9"
        YEAR_10 = "10", "Year 10"
        YEAR_11 = "11", "Year 11"
        YEAR_12 = "12", "Year 12"
        YEAR_13 = "13", "Year 13"

    school = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="pupils", limit_choices_to={"kind": Organisation.Kind.SCHOOL}
    )
    mis_id = models.CharField(
        "MIS identifier", max_length=64, help_text="The pupil's identifier in the school's MIS: Adno, UPN, StudentID…"
    )
    forename = models.CharField(max_length=100)
    surname = models.CharField(max_length=100)
    year_group = models.CharField(max_length=2, choices=YearGroup.choices)
    reg_group = models.CharField("registration group", max_length=40, blank=True)
    on_roll = models.BooleanField(default=True)
    left_on = models.DateField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["surname", "forename"]
        constraints = [
            models.UniqueConstraint(fields=["school", "mis_id"], name="one_pupil_per_mis_id_per_school"),
            models.CheckConstraint(
                condition=Q(on_roll=False) | Q(left_on__isnull=True), name="pupil_on_roll_has_not_left"
            ),
        ]

    def __str__(self):
        return self.full_name

    @property
    def full_name(self):
        return f"{self.forename} {self.surname}"


class CarerQuerySet(models.QuerySet):
    def asked_to_sign(self):
        """Carers a school asks to sign, online or on paper (rule 3 of the product): those with
        parental responsibility for at least one pupil on roll, whose details are not erased.
        The one definition: every page, export, e-mail and scheduler step starts from it."""
        responsible = PupilCarer.objects.filter(
            carer=models.OuterRef("pk"), parental_responsibility=True, pupil__on_roll=True
        )
        return self.filter(models.Exists(responsible), erased_at__isnull=True)

    def reachable_by_email(self):
        return self.exclude(email="")

    def needing_paper_forms(self):
        """Asked to sign, but the school has no e-mail address for them."""
        return self.asked_to_sign().filter(email="")


class Carer(models.Model):
    """A parent or carer (a "contact" in the MIS) of one or more pupils at one school.

    mis_id is the contact's MIS identifier when the export has one; otherwise a key the import
    derives from the contact's name and email (see schools/imports/). Whether a carer is asked
    to sign is derived from their links (CarerQuerySet.asked_to_sign), never stored.
    """

    school = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="carers", limit_choices_to={"kind": Organisation.Kind.SCHOOL}
    )
    mis_id = models.CharField("MIS identifier", max_length=64)
    title = models.CharField(max_length=40, blank=True)
    forename = models.CharField(max_length=100)
    surname = models.CharField(max_length=100)
    email = models.EmailField(blank=True)
    # From the information-system export: for the school's messaging app (sending/link_export.py).
    mobile = models.CharField(max_length=32, blank=True)
    language = models.CharField(
        "home language",
        max_length=12,
        blank=True,
        help_text="Language code from the information system's home language (cy, pl, ur…); the "
        "e-mails and signing pages use it where the portal is translated into it.",
    )
    children = models.ManyToManyField(Pupil, through="PupilCarer", related_name="carers")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    erased_at = models.DateTimeField(null=True, blank=True, help_text="When this carer's personal data was erased.")
    # The address an e-mail service reported bounced or complained about, and when
    # (sending/bounces.py): while it is still the carer's address they need another way
    # (declarations.selectors.with_standing); a new address from the next import clears it.
    email_bounced = models.EmailField(blank=True)
    email_bounced_at = models.DateTimeField(null=True, blank=True)

    objects = CarerQuerySet.as_manager()

    class Meta:
        ordering = ["surname", "forename"]
        constraints = [
            models.UniqueConstraint(fields=["school", "mis_id"], name="one_carer_per_mis_id_per_school"),
        ]

    def __str__(self):
        return self.full_name

    @property
    def full_name(self):
        return f"{self.forename} {self.surname}"

    @property
    def language_name(self) -> str:
        """The home language named in itself ("Cymraeg"), or its code if the portal has no name."""
        return language_name(self.language) if self.language else ""


class PupilCarer(models.Model):
    """The link between a pupil and one of their carers, as the MIS records it."""

    pupil = models.ForeignKey(Pupil, on_delete=models.CASCADE, related_name="carer_links")
    carer = models.ForeignKey(Carer, on_delete=models.CASCADE, related_name="pupil_links")
    relationship = models.CharField(max_length=60, blank=True)
    parental_responsibility = models.BooleanField(default=False)
    priority = models.PositiveSmallIntegerField(null=True, blank=True, help_text="1 for the first contact.")

    class Meta:
        ordering = ["pupil", "priority", "carer"]
        constraints = [
            models.UniqueConstraint(fields=["pupil", "carer"], name="one_link_per_pupil_and_carer"),
        ]
        # Who is asked to sign (CarerQuerySet.asked_to_sign) reads the links with parental
        # responsibility from both ends: a carer's (is anyone on roll theirs?) and a school's
        # pupils' (the dashboard's groups). On PostgreSQL these are read from the index alone;
        # bench/profiles/dashboards.md.
        indexes = [
            models.Index(
                fields=["carer"], include=["pupil"], condition=models.Q(parental_responsibility=True),
                name="responsible_links_by_carer",
            ),
            models.Index(
                fields=["pupil"], include=["carer"], condition=models.Q(parental_responsibility=True),
                name="responsible_links_by_pupil",
            ),
        ]

    def __str__(self):
        return f"{self.carer} — {self.relationship or 'contact'} of {self.pupil}"


class AuditEvent(models.Model):
    """One thing done with a school's families data: who, what, when and from where.

    Append-only: save() refuses to change a stored event, delete() refuses, and database
    triggers refuse UPDATE and DELETE by any other route (schools/migrations/0003_audit_events.py),
    with one exception: the retention job deleting a school's events older than its cut-off
    (AuditPurge below, schools/migrations/0007_audit_purge.py, schools.audit.audit_purge).
    Events point at the carer or pupil concerned rather than naming them, so erasing a carer
    leaves no personal data of theirs in the log. Recorded through schools/audit.py.
    """

    class Action(models.TextChoices):
        IMPORT = "import", "Imported pupils and carers"
        VIEW_PUPIL = "view_pupil", "Viewed a pupil's record"
        VIEW_CARER = "view_carer", "Viewed a carer's record"
        CHANGE = "change", "Changed personal data"
        EXPORT_CARER_DATA = "export_carer_data", "Exported a carer's data (subject access request)"
        ERASE_CARER = "erase_carer", "Erased a carer's personal data"
        SEND_INVITATIONS = "send_invitations", "Sent invitations to sign"
        REISSUE_LINK = "reissue_link", "Re-issued a carer's signing link"
        SIGN = "sign", "A carer signed online"
        DECLINE = "decline", "A carer declined to sign"
        RECORD_PAPER_DECLARATION = "record_paper_declaration", "Recorded a paper declaration"
        EXPORT_DECLARATIONS = "export_declarations", "Exported declarations (PDFs or register)"
        RETENTION_DELETE = "retention_delete", "Deleted a declaration at the end of its retention period"
        RETENTION_RUN = "retention_run", "Deleted or erased data at the end of its retention period"
        REFUSE_ERASURE = "refuse_erasure", "Refused a request to erase a carer's data"
        STAFF_INVITE = "staff_invite", "Invited a member of staff"
        STAFF_INVITE_REVOKE = "staff_invite_revoke", "Withdrew a staff invitation"
        STAFF_JOIN = "staff_join", "A member of staff accepted an invitation"
        STAFF_ROLE_CHANGE = "staff_role_change", "Changed a member of staff's role"
        STAFF_REMOVE = "staff_remove", "Removed a member of staff"
        SETTINGS_CHANGE = "settings_change", "Changed the organisation's settings"
        MEMBER_ADD = "member_add", "A school joined the association"
        MEMBER_REMOVE = "member_remove", "A school left the association"
        API_REQUEST = "api_request", "Used an API key"
        EXPORT_LINKS = "export_links", "Exported carers' personal signing links"
        PRINT_PAPER_FORMS = "print_paper_forms", "Printed prefilled paper forms"

    at = models.DateTimeField("when", default=timezone.now, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty when the system acted (an import from the command line).",
    )
    school = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="audit_events")
    action = models.CharField(max_length=32, choices=Action.choices)
    target = models.CharField(max_length=200, blank=True, help_text="What was acted on, without names.")
    carer = models.ForeignKey(Carer, on_delete=models.PROTECT, null=True, blank=True, related_name="audit_events")
    pupil = models.ForeignKey(Pupil, on_delete=models.PROTECT, null=True, blank=True, related_name="audit_events")
    detail = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["school", "-at"], name="audit_school_recent")]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.get_action_display()} {self.target}".strip()

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("The audit log is append-only: an event is never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("The audit log is append-only: an event is never deleted.")


class AuditPurge(models.Model):
    """Leave for the retention job to delete one school's audit events recorded before
    `older_than`: the only deletion of audit events the database triggers allow
    (schools/migrations/0007_audit_purge.py). schools.audit.audit_purge writes one, deletes, and
    removes it inside one transaction, so no other connection ever sees one; the table is empty
    at rest."""

    school = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    older_than = models.DateTimeField()
