from django.contrib import admin

from api.models import ApiKey


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """For operators to see keys and who made them; keys are made and revoked on the staff pages
    (only there is a key shown, once), so nothing here can be changed."""

    list_display = ["name", "organisation", "prefix", "scopes", "created_by", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["organisation"]
    search_fields = ["name", "prefix", "organisation__name"]
    exclude = ["key_sha256"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
