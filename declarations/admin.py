"""Operators can read signing requests, declarations and declines; nobody changes them here.

Declarations are evidence (the database refuses UPDATE); declines and requests are changed only
by declarations.services. The admin is for looking, not for editing. The token hash is left out:
it is useless to a reader and need not be shown anywhere.
"""

from django.contrib import admin

from declarations.models import Declaration, Decline, SigningRequest


class ReadOnlyAdmin(admin.ModelAdmin):
    """For evidence and records that only the portal's own services write."""

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
