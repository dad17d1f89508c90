from django.contrib import admin

from schools.models import AuditEvent, Organisation, StaffRole


class StaffRoleInline(admin.TabularInline):
    model = StaffRole
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "association"]
    list_filter = ["kind", "association"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [StaffRoleInline]
    # Joining or leaving an association is done on the association's Members page, which records
    # it in both organisations' audit logs and invites the school's carers to sign the
    # association's code; changed here it would do neither.
    exclude = ["association"]
    readonly_fields = ["membership"]

    @admin.display(description="Association")
    def membership(self, organisation):
        name = organisation.association.name if organisation and organisation.association_id else "none"
        return (
            f"{name}. A school joins or leaves an association on the association's Members page in the "
            "portal, which records it in both audit logs and invites the school's parents to sign."
        )


@admin.register(StaffRole)
class StaffRoleAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "organisation"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__email", "organisation__name"]
    autocomplete_fields = ["user", "organisation"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit log is append-only (the model and database triggers refuse changes)."""

    list_display = ["at", "school", "action", "actor", "target", "ip_address"]
    list_filter = ["action"]
    search_fields = ["school__name", "actor__username", "target"]
    date_hierarchy = "at"
    list_select_related = ["school", "actor"]
    # Not the carer or pupil: that would show their names unaudited; the families pages do it, audited.
    fields = ["at", "actor", "school", "action", "target", "detail", "ip_address", "user_agent"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
