"""Operators can read the schedule; nobody changes it here."""

from django.contrib import admin

from declarations.admin import ReadOnlyAdmin
from sending.models import ScheduledStep


@admin.register(ScheduledStep)
class ScheduledStepAdmin(ReadOnlyAdmin):
    """The schedule (sending/scheduler.py): what is due for whom, and what each step did."""

    list_display = ["due_at", "kind", "school", "carer", "version", "done_at", "outcome"]
    list_filter = ["kind", ("done_at", admin.EmptyFieldListFilter), "school"]
    list_select_related = ["school", "carer", "version"]
    date_hierarchy = "due_at"
