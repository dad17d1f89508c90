"""Organisations (associations and schools) and the staff who act for them."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

hex_colour = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Enter a colour as # and six hex digits, e.g. #1d4f91.")


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

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="school") | Q(association__isnull=True),
                name="only_schools_belong_to_associations",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def is_school(self):
        return self.kind == self.Kind.SCHOOL

    @property
    def is_association(self):
        return self.kind == self.Kind.ASSOCIATION


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

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organisation", "role"], name="one_role_per_user_and_organisation"),
        ]

    def __str__(self):
        return f"{self.user} — {self.get_role_display()}, {self.organisation}"
