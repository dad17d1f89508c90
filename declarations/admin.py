"""Operators can read signing requests, declarations and declines; nobody changes them here.

Declarations are evidence (the database refuses UPDATE); declines and requests are changed only
by declarations.services. The admin is for looking, not for editing. The token hash is left out:
it is useless to a reader and need not be shown anywhere.
"""

from django.contrib import admin

from declarations.models import Declaration, DeclarationPdf, Decline, Export, ScheduledStep, SigningRequest


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Declaration)
class DeclarationAdmin(ReadOnlyAdmin):
    list_display = ["typed_name", "school", "version", "method", "signed_at"]
    list_filter = ["method", "school"]
    search_fields = ["typed_name", "carer_name", "school__name"]
    date_hierarchy = "signed_at"
    list_select_related = ["school", "version__code__owner"]


@admin.register(Decline)
class DeclineAdmin(ReadOnlyAdmin):
    list_display = ["carer", "school", "version", "declined_at"]
    list_filter = ["school"]
    search_fields = ["carer__forename", "carer__surname", "school__name"]
    list_select_related = ["carer", "school", "version__code__owner"]


@admin.register(SigningRequest)
class SigningRequestAdmin(ReadOnlyAdmin):
    list_display = ["carer", "school", "version", "sent_at", "opened_at", "expires_at", "reissued_count"]
    list_filter = ["school"]
    search_fields = ["carer__forename", "carer__surname", "carer__email", "school__name"]
    exclude = ["token_hash"]
    list_select_related = ["carer", "school", "version__code__owner"]


@admin.register(DeclarationPdf)
class DeclarationPdfAdmin(ReadOnlyAdmin):
    """The sealed PDFs (declarations/pdf.py): their hashes and codes, to answer "is this ours?"."""

    list_display = ["declaration", "verification_code", "sha256", "rendered_at"]
    search_fields = ["verification_code", "sha256"]
    list_select_related = ["declaration__version"]


@admin.register(Export)
class ExportAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "school", "description", "status", "done", "total", "requested_by"]
    list_filter = ["status", "school"]
    list_select_related = ["school", "requested_by"]


@admin.register(ScheduledStep)
class ScheduledStepAdmin(ReadOnlyAdmin):
    """The schedule (declarations/scheduler.py): what is due for whom, and what each step did."""

    list_display = ["due_at", "kind", "school", "carer", "version", "done_at", "outcome"]
    list_filter = ["kind", ("done_at", admin.EmptyFieldListFilter), "school"]
    list_select_related = ["school", "carer", "version"]
    date_hierarchy = "due_at"
